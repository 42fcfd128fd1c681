"""Hybrid logical clock (Kulkarni et al., 2014): wall milliseconds plus a counter.

Pure functions; the edge store persists the last value so the clock stays
monotonic across restarts and backward wall-clock jumps.
"""

from __future__ import annotations

from dataclasses import dataclass

# Clocks are kept in signed 64-bit columns centrally; a peer's larger value is malformed.
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True, order=True)
class Hlc:
    """A hybrid logical timestamp; ordering is (wall, counter)."""

    wall: int
    counter: int

    def to_wire(self) -> list[int]:
        return [self.wall, self.counter]

    @classmethod
    def from_wire(cls, value: object) -> Hlc:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= INT64_MAX
                for v in value
            )
        ):
            raise ValueError("hlc must be a list [wall_ms, counter] of integers in 0 .. 2**63-1")
        return cls(value[0], value[1])


ZERO = Hlc(0, 0)

# What a clock takes from a peer's (the central from a device's hello): a peer's clock further
# ahead of our wall than MAX_DRIFT_MS, or with a counter above MAX_ADOPTED_COUNTER, is wrong or
# hostile, and adopted it would spread to every clock that syncs with ours (and a counter near
# 2**63 would overflow every column it is written to). No honest counter comes near it: it
# counts events within one millisecond of a clock that stands still.
MAX_DRIFT_MS = 5 * 60 * 1000
MAX_ADOPTED_COUNTER = 2**31 - 1


def adoptable(remote: Hlc, now_ms: int, max_drift_ms: int = MAX_DRIFT_MS) -> bool:
    """Whether a clock may take in ``remote`` (see :data:`MAX_DRIFT_MS`)."""
    return remote.wall <= now_ms + max_drift_ms and remote.counter <= MAX_ADOPTED_COUNTER


def _after(wall: int, counter: int) -> Hlc:
    """``(wall, counter + 1)``, or the next millisecond when the counter is at its limit: a
    clock that holds a huge counter still moves on, and still strictly forward."""
    if counter >= INT64_MAX:
        return Hlc(wall + 1, 0)
    return Hlc(wall, counter + 1)


def send(last: Hlc, now_ms: int) -> Hlc:
    """The timestamp of a local or send event, strictly after ``last``."""
    if now_ms > last.wall:
        return Hlc(now_ms, 0)
    return _after(last.wall, last.counter)


def receive(last: Hlc, remote: Hlc, now_ms: int) -> Hlc:
    """The timestamp after receiving ``remote``: after both ``last`` and ``remote``."""
    wall = max(last.wall, remote.wall, now_ms)
    if wall == last.wall and wall == remote.wall:
        return _after(wall, max(last.counter, remote.counter))
    if wall == last.wall:
        return _after(wall, last.counter)
    if wall == remote.wall:
        return _after(wall, remote.counter)
    return Hlc(wall, 0)
