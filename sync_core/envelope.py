"""The envelope every kopsync event travels in.

An envelope is verifiable anywhere: ``sig`` is the device's Ed25519 signature
over the canonical encoding of every other field, and ``prev_hash`` is the
SHA-256 of the device's previous envelope (all of it, signature included), so
a device's events form a hash chain from seq 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import msgpack

from sync_core import codec
from sync_core.errors import ChainBroken, DecodeError, InvalidId
from sync_core.hlc import INT64_MAX, Hlc
from sync_core.ids import check_coop_id, check_device_id, check_id
from sync_core.signing import GENESIS_HASH, HASH_LEN, DeviceKey, digest, verify
from sync_core.text import describe, unsafe_char

OrderKey = tuple[int, int, str, int]

WIRE_FIELDS = (
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


@dataclass(frozen=True, slots=True)
class Envelope:
    """One signed, chained event of one device."""

    event_id: str
    coop_id: str
    device_id: str
    seq: int
    hlc: Hlc
    type: str
    version: int
    aggregate_id: str
    payload: dict[str, Any]
    prev_hash: bytes
    sig: bytes = b""
    _encoded: bytes = field(default=b"", compare=False, repr=False)

    @property
    def order_key(self) -> OrderKey:
        """The total order every projection uses: (hlc.wall, hlc.counter, device_id, seq)."""
        return (self.hlc.wall, self.hlc.counter, self.device_id, self.seq)

    def to_wire(self, *, with_sig: bool = True) -> dict[str, Any]:
        # Keys in canonical (UTF-8 byte) order, so the map packs canonically as it is.
        wire: dict[str, Any] = {
            "aggregate_id": self.aggregate_id,
            "coop_id": self.coop_id,
            "device_id": self.device_id,
            "event_id": self.event_id,
            "hlc": self.hlc.to_wire(),
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "seq": self.seq,
        }
        if with_sig:
            wire["sig"] = self.sig
        wire["type"] = self.type
        wire["version"] = self.version
        return wire

    def signing_bytes(self) -> bytes:
        return _pack(self.to_wire(with_sig=False))

    def encode(self) -> bytes:
        """The canonical bytes of the whole envelope (what is stored and hashed)."""
        return self._encoded or _pack(self.to_wire())

    @property
    def hash(self) -> bytes:
        return digest(self.encode())

    def verify_signature(self, public_key: bytes) -> None:
        verify(public_key, self.signing_bytes(), self.sig)

    @classmethod
    def from_wire(cls, wire: object) -> Envelope:
        """Build an envelope from a decoded map, checking its shape (not its signature)."""
        if not isinstance(wire, dict):
            raise DecodeError("an envelope must be a map")
        missing = [f for f in WIRE_FIELDS if f not in wire]
        if missing:
            raise DecodeError(f"envelope lacks field(s): {', '.join(missing)}")
        extra = sorted(str(k) for k in set(wire) - set(WIRE_FIELDS))
        if extra:
            raise DecodeError(f"envelope has unknown field(s): {', '.join(extra)}")
        try:
            env = cls(
                event_id=_str(wire, "event_id"),
                coop_id=check_coop_id(wire["coop_id"]),
                device_id=check_device_id(wire["device_id"]),
                seq=_int(wire, "seq", minimum=1),
                hlc=Hlc.from_wire(wire["hlc"]),
                type=check_id(wire["type"], "type"),
                version=_int(wire, "version", minimum=1),
                aggregate_id=check_id(wire["aggregate_id"], "aggregate id"),
                payload=_map(wire, "payload"),
                prev_hash=_bytes(wire, "prev_hash", HASH_LEN),
                sig=_bytes(wire, "sig", 64),
            )
        except (InvalidId, ValueError) as exc:
            raise DecodeError(f"malformed envelope: {exc}") from exc
        return env

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        """Decode wire bytes; the payload is put in canonical order for verification."""
        env = cls.from_wire(codec.decode(data))
        env = replace(env, payload=codec.canonical(env.payload))
        return replace(env, _encoded=bytes(data)) if env.encode() == data else env


def seal(
    key: DeviceKey,
    *,
    event_id: str,
    coop_id: str,
    device_id: str,
    seq: int,
    hlc: Hlc,
    type: str,
    version: int,
    aggregate_id: str,
    payload: dict[str, Any],
    prev_hash: bytes,
    payload_is_canonical: bool = False,
) -> Envelope:
    """Build, sign and canonically encode a new envelope.

    ``payload_is_canonical`` skips re-ordering a payload the caller built in canonical
    order already (a validated payload, see ``schemas.fields.check_fields``).
    """
    if not payload_is_canonical:
        payload = codec.canonical(payload)
    wire: dict[str, Any] = {
        "aggregate_id": aggregate_id,
        "coop_id": coop_id,
        "device_id": device_id,
        "event_id": event_id,
        "hlc": hlc.to_wire(),
        "payload": payload,
        "prev_hash": prev_hash,
        "seq": seq,
        "type": type,
        "version": version,
    }
    sig = key.sign(_pack(wire))
    wire = {k: wire[k] for k in _FIELDS_BEFORE_SIG} | {"sig": sig, "type": type, "version": version}
    return Envelope(
        event_id,
        coop_id,
        device_id,
        seq,
        hlc,
        type,
        version,
        aggregate_id,
        payload,
        prev_hash,
        sig,
        _pack(wire),
    )


_FIELDS_BEFORE_SIG = (
    "aggregate_id",
    "coop_id",
    "device_id",
    "event_id",
    "hlc",
    "payload",
    "prev_hash",
    "seq",
)


def _pack(wire: dict[str, Any]) -> bytes:
    # The payload is canonical already (seal and decode make it so); the envelope's own
    # keys are written in canonical order by to_wire.
    return msgpack.packb(wire, use_bin_type=True)


def check_link(prev_seq: int, prev_hash: bytes, env: Envelope) -> None:
    """Raise :class:`ChainBroken` unless ``env`` directly follows (prev_seq, prev_hash)."""
    if env.seq != prev_seq + 1:
        raise ChainBroken(env.seq, f"seq {env.seq} does not follow seq {prev_seq}")
    if env.prev_hash != prev_hash:
        raise ChainBroken(env.seq, f"seq {env.seq} does not link to the hash of seq {prev_seq}")


GENESIS = (0, GENESIS_HASH)


# Envelopes a store kept were verified when they came in; projection and the edge's head read
# millions of them, so these two read one field without Envelope.decode's checks.
def stored_payload(data: bytes) -> dict[str, Any]:
    """The payload of envelope bytes a store verified before keeping them."""
    payload: dict[str, Any] = msgpack.unpackb(data, raw=False)["payload"]
    return payload


def stored_hlc(data: bytes) -> Hlc:
    """The clock of envelope bytes a store verified before keeping them."""
    return Hlc.from_wire(msgpack.unpackb(data, raw=False)["hlc"])


def _str(wire: dict[str, Any], name: str) -> str:
    value = wire[name]
    if not isinstance(value, str) or not value or len(value) > 64:
        raise DecodeError(f"envelope field {name} must be a non-empty string")
    bad = unsafe_char(value)
    if bad is not None:
        raise DecodeError(f"envelope field {name} holds {describe(*bad)}")
    return value


def _int(wire: dict[str, Any], name: str, *, minimum: int) -> int:
    value = wire[name]
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= INT64_MAX:
        raise DecodeError(f"envelope field {name} must be an integer in {minimum} .. 2**63-1")
    return value


def _bytes(wire: dict[str, Any], name: str, length: int) -> bytes:
    value = wire[name]
    if not isinstance(value, bytes) or len(value) != length:
        raise DecodeError(f"envelope field {name} must be {length} bytes")
    return value


def _map(wire: dict[str, Any], name: str) -> dict[str, Any]:
    value = wire[name]
    if not isinstance(value, dict):
        raise DecodeError(f"envelope field {name} must be a map")
    return value
