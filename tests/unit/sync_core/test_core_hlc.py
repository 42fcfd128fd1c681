"""The hybrid logical clock: strictly monotonic under any wall clock, and its wire form."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import hlcs, wall_ms

from sync_core import codec, hlc
from sync_core.hlc import ZERO, Hlc

# A wall clock that jumps back and forth: NTP corrections, a flat RTC battery, a user's fiddling.
now_sequences = st.lists(wall_ms, min_size=1, max_size=50)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), wall_ms),
        st.tuples(st.just("receive"), hlcs, wall_ms),
    ),
    min_size=1,
    max_size=50,
)


@given(hlcs, now_sequences)
def test_send_strictly_increases(start: Hlc, nows: list[int]) -> None:
    """Each send is strictly after the previous one, even when the wall clock goes backwards."""
    last = start
    for now in nows:
        nxt = hlc.send(last, now)
        assert nxt > last
        last = nxt


@given(hlcs, wall_ms)
def test_send_follows_the_wall_clock(last: Hlc, now: int) -> None:
    """A send is stamped with the wall clock, unless the clock is behind what was already issued."""
    stamped = hlc.send(last, now)
    assert stamped.wall == max(last.wall, now)
    assert stamped.counter == (0 if now > last.wall else last.counter + 1)


@given(hlcs, hlcs, wall_ms)
def test_receive_is_after_last_and_remote(last: Hlc, remote: Hlc, now: int) -> None:
    """Receiving stamps a time strictly after both our last time and the remote one."""
    stamped = hlc.receive(last, remote, now)
    assert stamped > last
    assert stamped > remote
    assert stamped.wall == max(last.wall, remote.wall, now)


@given(ops)
def test_mixed_sends_and_receives_are_strictly_monotonic(sequence: list[Any]) -> None:
    """Any interleaving of sends and receives yields strictly increasing times."""
    last = ZERO
    for op in sequence:
        if op[0] == "send":
            nxt = hlc.send(last, op[1])
        else:
            nxt = hlc.receive(last, op[1], op[2])
            assert nxt > op[1]
        assert nxt > last
        last = nxt


@given(hlcs, st.integers(0, 2**48), st.integers(2**63 - 3, 2**63 - 1))
def test_a_counter_at_its_limit_moves_to_the_next_millisecond(
    last: Hlc, now: int, counter: int
) -> None:
    """A clock holding a counter near 2**63 still moves strictly forward and stays within
    64 bits: past the limit it takes the next millisecond with counter 0."""
    huge = Hlc(max(last.wall, now), counter)
    for stamped in (
        hlc.send(huge, now),
        hlc.receive(last, huge, now),
        hlc.receive(huge, last, now),
    ):
        assert stamped > huge and stamped.counter <= 2**63 - 1
        assert Hlc.from_wire(stamped.to_wire()) == stamped


def test_a_clock_adopts_only_a_peer_clock_near_its_wall() -> None:
    """A peer clock more than five minutes ahead, or with a counter above 2**31-1, is not
    adopted; one behind or slightly ahead is."""
    now = 1_790_000_000_000
    assert hlc.adoptable(Hlc(now - 86_400_000, 7), now)
    assert hlc.adoptable(Hlc(now + hlc.MAX_DRIFT_MS, 2**31 - 1), now)
    assert not hlc.adoptable(Hlc(now + hlc.MAX_DRIFT_MS + 1, 0), now)
    assert not hlc.adoptable(Hlc(now + 23 * 3_600_000, 0), now)
    assert not hlc.adoptable(Hlc(now, 2**63 - 6), now)


@given(hlcs)
def test_wire_round_trip(stamp: Hlc) -> None:
    """An HLC survives to_wire, the codec and from_wire unchanged."""
    assert Hlc.from_wire(stamp.to_wire()) == stamp
    assert Hlc.from_wire(codec.decode(codec.encode(stamp.to_wire()))) == stamp


@given(hlcs, hlcs)
def test_order_is_wall_then_counter(a: Hlc, b: Hlc) -> None:
    """HLCs compare as the tuple (wall, counter)."""
    assert (a < b) == ((a.wall, a.counter) < (b.wall, b.counter))


@pytest.mark.parametrize(
    "wire",
    [
        None,
        5,
        "1700000000000:0",
        b"\x00\x01",
        {"wall": 1, "counter": 0},
        (1, 0),
        [],
        [1],
        [1, 2, 3],
        [-1, 0],
        [1, -1],
        [2**63, 0],
        [0, 2**63],
        [True, 0],
        [1, False],
        ["1", 0],
        [1, None],
        [1.0, 0],
        [[1], 0],
    ],
)
def test_from_wire_rejects_malformed(wire: object) -> None:
    """Anything but a list of two integers in 0 .. 2**63-1 (bools excluded) is a ValueError."""
    with pytest.raises(ValueError, match="hlc"):
        Hlc.from_wire(wire)
