"""Signed, hash-chained envelopes: round-trips, tamper evidence, chain links, order, shapes."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.strategies import (
    FORBIDDEN_IN_IDS,
    chains,
    device_keys,
    envelope_fields,
    ids,
    reorder_maps,
    sealed_envelopes,
)

from sync_core import codec
from sync_core.envelope import GENESIS, Envelope, check_link, seal, stored_hlc, stored_payload
from sync_core.errors import ChainBroken, DecodeError, SignatureInvalid
from sync_core.hlc import Hlc
from sync_core.signing import DeviceKey, digest

# The wire contract, spelled out here so a change to it is a visible test change.
FIELDS = (
    "event_id",
    "coop_id",
    "device_id",
    "seq",
    "hlc",
    "type",
    "version",
    "aggregate_id",
    "payload",
    "prev_hash",
    "sig",
)
ID_FIELDS = ("coop_id", "device_id", "type", "aggregate_id")

KEY = DeviceKey(bytes(range(32)))
VALID = seal(
    KEY,
    event_id="0b9f7c1e-7f1d-4c59-9d8a-3f7b2f1e9a10",
    coop_id="6472021005-KMP",
    device_id="hp-bendahara-01",
    seq=7,
    hlc=Hlc(1_760_000_000_000, 2),
    type="SimpananDisetor",
    version=1,
    aggregate_id="anggota-0042",
    payload={"jumlah": 50_000, "jenis": "wajib"},
    prev_hash=b"\x11" * 32,
)


def reseal(key: DeviceKey, env: Envelope, **changes: Any) -> Envelope:
    """Seal again with the same fields as ``env`` except ``changes`` (a forger with the key)."""
    fields = {f: getattr(env, f) for f in FIELDS if f != "sig"}
    return seal(key, **{**fields, **changes})


def walk(chain: list[Envelope]) -> None:
    """Check every link of a device's chain from genesis, as the central does."""
    prev_seq, prev_hash = GENESIS
    for env in chain:
        check_link(prev_seq, prev_hash, env)
        prev_seq, prev_hash = env.seq, env.hash


# --- round trips and signatures ----------------------------------------------------------------


@given(sealed_envelopes())
def test_seal_encode_decode_round_trips_and_verifies(sealed: tuple[DeviceKey, Envelope]) -> None:
    """A sealed envelope decodes from its bytes to an equal envelope that verifies."""
    key, env = sealed
    data = env.encode()
    got = Envelope.decode(data)
    assert got == env
    assert got.encode() == data
    assert got.hash == env.hash == digest(data)
    got.verify_signature(key.public_key)


@given(sealed_envelopes(), st.data())
def test_partner_reencoding_keeps_signature_and_hash(
    sealed: tuple[DeviceKey, Envelope], data: st.DataObject
) -> None:
    """Bytes a stock msgpack library re-encodes in another key order verify and hash the same."""
    key, env = sealed
    wire = reorder_maps(msgpack.unpackb(env.encode()), data)
    got = Envelope.decode(msgpack.packb(wire))
    assert got == env
    assert got.hash == env.hash
    got.verify_signature(key.public_key)


@given(sealed_envelopes(), st.data())
def test_flipping_any_byte_is_detected(
    sealed: tuple[DeviceKey, Envelope], data: st.DataObject
) -> None:
    """Changing any one byte makes decoding fail, the signature fail, or the chain hash differ."""
    key, env = sealed
    encoded = bytearray(env.encode())
    position = data.draw(st.integers(0, len(encoded) - 1), label="position")
    encoded[position] ^= data.draw(st.integers(1, 255), label="xor mask")
    try:
        got = Envelope.decode(bytes(encoded))
    except DecodeError:
        return
    try:
        got.verify_signature(key.public_key)
    except SignatureInvalid:
        return
    assert got.hash != env.hash


@given(sealed_envelopes(), device_keys)
def test_another_key_does_not_verify(sealed: tuple[DeviceKey, Envelope], other: DeviceKey) -> None:
    """An envelope signed by one device does not verify with another device's key."""
    key, env = sealed
    assume(other.public_key != key.public_key)
    with pytest.raises(SignatureInvalid):
        env.verify_signature(other.public_key)


@given(sealed_envelopes(), st.sampled_from([f for f in FIELDS if f != "sig"]))
def test_signature_covers_every_field(sealed: tuple[DeviceKey, Envelope], name: str) -> None:
    """Moving the signature onto an envelope that differs in any one field fails verification."""
    key, env = sealed
    changed = {
        "event_id": "00000000-0000-4000-8000-000000000000",
        "coop_id": "9999",
        "device_id": "lain",
        "seq": env.seq + 1 if env.seq < 2**63 - 1 else env.seq - 1,  # stays in range
        "hlc": Hlc(env.hlc.wall, env.hlc.counter + 1),
        "type": "Lain",
        "version": env.version + 1,
        "aggregate_id": "lain",
        "payload": {"lain": 1},
        "prev_hash": bytes(b ^ 1 for b in env.prev_hash),
    }[name]
    assume(getattr(env, name) != changed)
    forged = Envelope.decode(codec.encode({**env.to_wire(), name: _wire(name, changed)}))
    with pytest.raises(SignatureInvalid):
        forged.verify_signature(key.public_key)


def _wire(name: str, value: Any) -> Any:
    return value.to_wire() if name == "hlc" else value


# --- hash chain --------------------------------------------------------------------------------


@given(sealed_envelopes())
def test_stored_fields_read_as_decode_reads_them(sealed: tuple[DeviceKey, Envelope]) -> None:
    """The payload and clock read from stored envelope bytes are those Envelope.decode gives."""
    _, env = sealed
    decoded = Envelope.decode(env.encode())
    assert stored_payload(env.encode()) == decoded.payload
    assert stored_hlc(env.encode()) == decoded.hlc


@given(chains())
def test_correct_chain_links(chain: tuple[DeviceKey, list[Envelope]]) -> None:
    """A device's envelopes sealed in order link from genesis to the end."""
    walk(chain[1])


@given(chains(min_size=2), st.data())
def test_dropped_envelope_breaks_the_chain(
    chain: tuple[DeviceKey, list[Envelope]], data: st.DataObject
) -> None:
    """Dropping any envelope but the last is reported at the seq that follows the gap."""
    envs = chain[1]
    i = data.draw(st.integers(0, len(envs) - 2), label="dropped index")
    with pytest.raises(ChainBroken) as broken:
        walk(envs[:i] + envs[i + 1 :])
    assert broken.value.seq == envs[i + 1].seq
    assert f"seq {envs[i + 1].seq}" in str(broken.value)


@given(chains(min_size=2), st.data())
def test_swapped_envelopes_break_the_chain(
    chain: tuple[DeviceKey, list[Envelope]], data: st.DataObject
) -> None:
    """Swapping two envelopes is reported at the seq that arrives too early."""
    envs = list(chain[1])
    i = data.draw(st.integers(0, len(envs) - 2), label="i")
    j = data.draw(st.integers(i + 1, len(envs) - 1), label="j")
    envs[i], envs[j] = envs[j], envs[i]
    with pytest.raises(ChainBroken) as broken:
        walk(envs)
    assert broken.value.seq == envs[i].seq
    assert f"seq {envs[i].seq}" in str(broken.value)


@given(chains(min_size=2), st.data())
def test_rewritten_envelope_breaks_the_next_link(
    chain: tuple[DeviceKey, list[Envelope]], data: st.DataObject
) -> None:
    """Re-sealing an envelope with new content, even with the right key, breaks the next link."""
    key, envs = chain
    i = data.draw(st.integers(0, len(envs) - 2), label="rewritten index")
    envs = [*envs[:i], reseal(key, envs[i], payload={"n": -1}), *envs[i + 1 :]]
    with pytest.raises(ChainBroken) as broken:
        walk(envs)
    assert broken.value.seq == envs[i + 1].seq


@given(chains(), st.data())
def test_wrong_prev_hash_breaks_its_own_link(
    chain: tuple[DeviceKey, list[Envelope]], data: st.DataObject
) -> None:
    """An envelope whose prev_hash is not its predecessor's hash is reported at its own seq."""
    key, envs = chain
    i = data.draw(st.integers(0, len(envs) - 1), label="forged index")
    forged = reseal(key, envs[i], prev_hash=bytes(b ^ 0xFF for b in envs[i].prev_hash))
    with pytest.raises(ChainBroken) as broken:
        walk([*envs[:i], forged, *envs[i + 1 :]])
    assert broken.value.seq == forged.seq


# --- order -------------------------------------------------------------------------------------


@given(envelope_fields())
def test_order_key_is_wall_counter_device_seq(fields: dict[str, Any]) -> None:
    """order_key is exactly (hlc.wall, hlc.counter, device_id, seq)."""
    env = Envelope(**fields)
    assert env.order_key == (env.hlc.wall, env.hlc.counter, env.device_id, env.seq)


# Few distinct walls, counters and devices, so that ties on the leading keys are common.
contenders = st.builds(
    lambda wall, counter, device_id, seq: Envelope(
        **{
            **VALID.to_wire(),
            "hlc": Hlc(wall, counter),
            "device_id": device_id,
            "seq": seq,
            "event_id": f"{device_id}-{seq}",
        }
    ),
    st.integers(0, 3),
    st.integers(0, 2),
    st.sampled_from(["hp-a", "hp-b", "tablet-c"]),
    st.integers(1, 4),
)


@given(st.lists(contenders, min_size=1, max_size=12, unique_by=lambda e: e.event_id), st.data())
def test_order_does_not_depend_on_delivery_order(envs: list[Envelope], data: st.DataObject) -> None:
    """Sorting by order_key gives one sequence whatever order the envelopes arrived in."""
    delivered = data.draw(st.permutations(envs), label="delivery order")
    assert [e.event_id for e in sorted(delivered, key=lambda e: e.order_key)] == [
        e.event_id for e in sorted(envs, key=lambda e: e.order_key)
    ]


# --- shape checks ------------------------------------------------------------------------------


def test_from_wire_of_to_wire_is_identity() -> None:
    """to_wire and from_wire are inverse."""
    assert Envelope.from_wire(VALID.to_wire()) == VALID


@given(st.sampled_from(FIELDS))
def test_missing_field_is_refused(name: str) -> None:
    """An envelope without any one field is a DecodeError naming it."""
    wire = VALID.to_wire()
    del wire[name]
    with pytest.raises(DecodeError, match=name):
        Envelope.from_wire(wire)


@given(
    st.one_of(st.text(max_size=10).filter(lambda k: k not in FIELDS), st.integers(), st.binary())
)
def test_extra_field_is_refused(key: Any) -> None:
    """An envelope with any unknown field, whatever the key's type, is a DecodeError."""
    with pytest.raises(DecodeError, match="unknown field"):
        Envelope.from_wire({**VALID.to_wire(), key: 1})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("event_id", 1),
        ("event_id", b"id"),
        ("event_id", ""),
        ("event_id", "x" * 65),
        ("coop_id", 6472021005),
        ("coop_id", "KMP-6472"),
        ("coop_id", "647"),
        ("device_id", None),
        ("device_id", b"hp"),
        ("seq", 0),
        ("seq", -1),
        ("seq", True),
        ("seq", "7"),
        ("seq", 7.0),
        ("seq", 2**63),  # the central keeps seqs and clocks in signed 64-bit columns
        ("hlc", [2**63, 0]),
        ("hlc", [1, 2**64 - 1]),
        ("version", 2**63),
        ("hlc", [1]),
        ("hlc", [1, -1]),
        ("hlc", [True, 0]),
        ("hlc", "1760000000000:2"),
        ("hlc", {"wall": 1, "counter": 0}),
        ("type", 1),
        ("version", 0),
        ("version", "1"),
        ("version", False),
        ("aggregate_id", ["anggota"]),
        ("payload", []),
        ("payload", "jumlah=50000"),
        ("payload", None),
        ("prev_hash", b"\x11" * 31),
        ("prev_hash", b"\x11" * 33),
        ("prev_hash", "11" * 32),
        ("sig", b""),
        ("sig", b"\x00" * 63),
        ("sig", VALID.sig.hex()),
    ],
)
def test_wrong_types_are_refused(name: str, value: Any) -> None:
    """A field of the wrong type, length or range is a DecodeError naming the problem."""
    with pytest.raises(DecodeError):
        Envelope.from_wire({**VALID.to_wire(), name: value})


@given(st.sampled_from(ID_FIELDS), st.sampled_from(FORBIDDEN_IN_IDS), st.data())
def test_ids_with_subject_characters_are_refused(name: str, bad: str, data: st.DataObject) -> None:
    """An id containing '.', '*', '>' or a space is a DecodeError: it would break subjects."""
    good = getattr(VALID, name)
    at = data.draw(st.integers(0, len(good)), label="position")
    with pytest.raises(DecodeError, match="malformed"):
        Envelope.from_wire({**VALID.to_wire(), name: good[:at] + bad + good[at:]})


@given(ids(min_size=33, max_size=64))
def test_device_id_longer_than_32_is_refused(device_id: str) -> None:
    """Device ids longer than 32 characters are a DecodeError."""
    with pytest.raises(DecodeError, match="device id"):
        Envelope.from_wire({**VALID.to_wire(), "device_id": device_id})


@given(ids(min_size=1, max_size=32))
def test_device_id_up_to_32_is_accepted(device_id: str) -> None:
    """Device ids of 1 to 32 valid characters pass the shape check."""
    assert Envelope.from_wire({**VALID.to_wire(), "device_id": device_id}).device_id == device_id


@pytest.mark.parametrize("wire", [None, [], "envelope", b"\x80", 42])
def test_non_map_is_refused(wire: object) -> None:
    """Anything but a map is a DecodeError."""
    with pytest.raises(DecodeError, match="map"):
        Envelope.from_wire(wire)
