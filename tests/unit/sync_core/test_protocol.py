"""The hello handshake as typed values: the same bytes as the plain maps, every field checked."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import coop_ids, device_ids, hlcs

from sync_core import codec, protocol
from sync_core.errors import DecodeError
from sync_core.hlc import Hlc
from sync_core.protocol import HelloRefusal, HelloReply, HelloRequest

INT64_MAX = 2**63 - 1
seqs = st.integers(0, INT64_MAX)
clocks = st.builds(Hlc, st.integers(0, INT64_MAX), st.integers(0, INT64_MAX))
held_ranges = st.lists(st.tuples(seqs, seqs).map(sorted).map(tuple), max_size=5).map(tuple)
replies = st.builds(
    HelloReply,
    registered=st.booleans(),
    committed_seq=seqs,
    held=held_ranges,
    hlc=clocks,
    central_key=st.binary(min_size=32, max_size=32),
    issuer=device_ids,
    ingest_seq=st.none() | seqs,
)

COOP, DEVICE = "6401050012", "kasir-1"
KEY = bytes(range(32))


def reply_map(**changes: Any) -> dict[str, Any]:
    """A hello reply as the central's store wrote it before the typed value existed."""
    wire: dict[str, Any] = {
        "v": 1,
        "registered": True,
        "committed_seq": 7,
        "held": [[9, 12], [15, 15]],
        "hlc": [1_767_225_600_000, 3],
        "central_key": KEY,
        "issuer": "central",
        "ingest_seq": 41,
    }
    return wire | changes


@given(coop_ids, device_ids, seqs, hlcs)
def test_request_encodes_to_the_bytes_of_the_plain_map(
    coop: str, device: str, head: int, clock: Hlc
) -> None:
    """A typed hello request is byte for byte the map the replicator used to send."""
    old = {"v": 1, "coop_id": coop, "device_id": device, "head_seq": head, "hlc": clock.to_wire()}
    request = HelloRequest(coop, device, head, clock)
    assert request.encode() == codec.encode(old)
    assert HelloRequest.decode(request.encode()) == request


def test_reply_encodes_to_the_bytes_of_the_plain_map() -> None:
    """A typed hello reply is byte for byte the map the central used to send, with or without
    ingest_seq."""
    typed = HelloReply(True, 7, ((9, 12), (15, 15)), Hlc(1_767_225_600_000, 3), KEY, "central", 41)
    assert typed.encode() == codec.encode(reply_map())
    bare = reply_map()
    del bare["ingest_seq"]
    no_floor = HelloReply(True, 7, ((9, 12), (15, 15)), Hlc(1_767_225_600_000, 3), KEY, "central")
    assert no_floor.encode() == codec.encode(bare)
    assert HelloReply.decode(codec.encode(bare)) == no_floor
    refusal = HelloRefusal("try again")
    assert refusal.encode() == codec.encode({"v": 1, "error": "try again"})


@given(replies)
def test_replies_round_trip(reply: HelloReply) -> None:
    """Every well-formed reply decodes to itself."""
    assert HelloReply.decode(reply.encode()) == reply


def test_a_refusal_decodes_as_a_refusal() -> None:
    """A central's error answer is a HelloRefusal carrying its text, not a reply."""
    assert HelloReply.decode(codec.encode({"v": 1, "error": "bad"})) == HelloRefusal("bad")


def test_unknown_keys_are_ignored() -> None:
    """A field a newer peer adds does not break an older one."""
    reply = HelloReply.decode(codec.encode(reply_map(extra="x")))
    assert isinstance(reply, HelloReply) and reply.committed_seq == 7


@pytest.mark.parametrize(
    "changes",
    [
        {"committed_seq": 2**63},
        {"committed_seq": -1},
        {"committed_seq": True},
        {"committed_seq": "7"},
        {"ingest_seq": 2**63},
        {"ingest_seq": -5},
        {"hlc": [2**63, 0]},
        {"hlc": [0, 2**63]},
        {"hlc": [1, -1]},
        {"hlc": [1]},
        {"held": [[1, 2**63]]},
        {"held": [[5, 4]]},
        {"held": [[1, 2, 3]]},
        {"held": "none"},
        {"registered": 1},
        {"central_key": b"short"},
        {"issuer": ""},
        {"v": 2},
    ],
)
def test_malformed_replies_are_decode_errors(changes: dict[str, Any]) -> None:
    """An integer outside 0 .. 2**63-1, a wrong type or shape, or another version is refused."""
    with pytest.raises(DecodeError):
        HelloReply.decode(codec.encode(reply_map(**changes)))


@pytest.mark.parametrize(
    "wire",
    [
        {"v": 1, "coop_id": COOP, "device_id": DEVICE, "head_seq": 2**63, "hlc": [1, 0]},
        {"v": 1, "coop_id": COOP, "device_id": DEVICE, "head_seq": -1, "hlc": [1, 0]},
        {"v": 1, "coop_id": COOP, "device_id": DEVICE, "head_seq": 1, "hlc": [2**63, 0]},
        {"v": 1, "coop_id": COOP, "device_id": DEVICE, "head_seq": 1, "hlc": [1, 2**64 - 1]},
        {"v": 1, "coop_id": COOP, "device_id": DEVICE, "head_seq": False, "hlc": [1, 0]},
        {"v": 1, "coop_id": "x.y", "device_id": DEVICE, "head_seq": 1, "hlc": [1, 0]},
        {"v": 1, "coop_id": COOP, "device_id": "a" * 33, "head_seq": 1, "hlc": [1, 0]},
        {"v": 1, "coop_id": COOP, "device_id": DEVICE, "head_seq": 1},
        {"coop_id": COOP, "device_id": DEVICE, "head_seq": 1, "hlc": [1, 0]},
        [1, COOP, DEVICE],
    ],
)
def test_malformed_requests_are_decode_errors(wire: object) -> None:
    """A request with an out-of-range integer, a bad id, a missing field or no v=1 is refused."""
    with pytest.raises(DecodeError):
        HelloRequest.decode(codec.encode(wire))


def test_bytes_that_are_not_msgpack_are_decode_errors() -> None:
    """Garbage on the hello subject is a DecodeError on both sides, never another exception."""
    for garbage in (b"", b"\xc1", b"{}", b"\x92\x01"):
        with pytest.raises(DecodeError):
            HelloRequest.decode(garbage)
        with pytest.raises(DecodeError):
            HelloReply.decode(garbage)


def test_partner_stream_names_are_upper_case_ids() -> None:
    """A partner's stream is KOP_PARTNER_ and its id upper-cased."""
    assert protocol.partner_stream("bank-kalteng") == "KOP_PARTNER_BANK-KALTENG"
