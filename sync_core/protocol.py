"""Protocol names and messages both sides of the link share.

Names: the JetStream streams and consumers, inbox prefixes and consumer names. The NATS
server's permissions (written by :mod:`central_projector.security.policy`) allow a client to
subscribe only under its own inbox prefix and to use only its own downlink consumer; the
clients (edge, partner) use the same functions to connect, so the two cannot drift.

Messages: the hello handshake (``kop.hello.{coop}.{device}``, docs/PROTOCOL.md) as frozen
values. ``encode`` writes the canonical msgpack map (the same bytes the plain maps of earlier
versions gave); ``decode`` checks every field and raises :class:`DecodeError` for anything a
well-behaved peer never sends, including an integer outside 64-bit signed range (the central
keeps seqs and clocks in BIGINT columns). Unknown keys are ignored, so either side can add a
field without breaking the other. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync_core import codec
from sync_core.errors import DecodeError, InvalidId
from sync_core.hlc import INT64_MAX, Hlc
from sync_core.ids import check_coop_id, check_device_id, check_id

# --- streams and consumers ----------------------------------------------------------------
INGEST_STREAM = "KOP_INGEST"  # kop.up.>    device uploads
EVENTS_STREAM = "KOP_EVENTS"  # kop.ev.>    verified events after commit
QUARANTINE_STREAM = "KOP_QUARANTINE"  # kop.q.>     what ingest refused, with its reason
DOWN_STREAM = "KOP_DOWN"  # kop.down.>  centrally issued events for the devices
INGEST_CONSUMER = "ingest"  # the central's durable pull consumer on KOP_INGEST
LAN_STREAM = "KOP_LAN"  # on a cooperative's hub: kop.lan.{coop}.> and its committed events
PROVINCE_DOMAIN = "kop"  # the province's JetStream domain, as a hub's devices reach it
PARTNER_STREAM_PREFIX = "KOP_PARTNER_"  # one stream per partner, fed by the fan-out


def partner_stream(partner_id: str) -> str:
    """The stream of one partner's topics (partner ids are lower-case; stream names upper)."""
    return f"{PARTNER_STREAM_PREFIX}{partner_id.upper()}"


# --- inboxes ------------------------------------------------------------------------------
# Device prefixes are "_INBOX_" + device id, partner prefixes "_PINBOX." + partner id and the
# central keeps nats-py's "_INBOX": none of the three can be spelled as another, whatever the
# ids are (ids never contain '.', and no device prefix is a bare "_INBOX" or starts "_PINBOX").
CENTRAL_INBOX_PREFIX = "_INBOX"
PARTNER_INBOX_ROOT = "_PINBOX"


def device_inbox_prefix(device_id: str) -> str:
    """The only subject prefix a device may subscribe under (its replies arrive there)."""
    return f"_INBOX_{check_device_id(device_id)}"


def partner_inbox_prefix(partner_id: str) -> str:
    """The only inbox prefix a partner may subscribe under."""
    return f"{PARTNER_INBOX_ROOT}.{partner_id}"


# --- accounts ------------------------------------------------------------------------------
# On the secured server (deploy/nats/auth) devices live in an account of their own and reach
# the central account's JetStream API for their downlink under this prefix (an import; their
# own account has no JetStream): nats-py's ``jetstream(prefix=DEVICE_JS_API)``.
CENTRAL_ACCOUNT = "KOPSYNC"
DEVICE_ACCOUNT = "DEVICES"
DEVICE_JS_API = "KOP.JS.API"
HUB_DELIVER = "KOP.HUB"


def downlink_consumer_name(device_id: str) -> str:
    """The one consumer name on KOP_DOWN a device may create, read and delete.

    A fixed name per device lets the server's permissions name the consumer literally, so a
    device can neither pull from another device's consumer nor create more than one.
    """
    return f"down-{check_device_id(device_id)}"


def sibling_consumer_name(device_id: str) -> str:
    """The one consumer name on KOP_EVENTS a device may create, read and delete: it reads
    the committed events of its own cooperative (its siblings' events)."""
    return f"sib-{check_device_id(device_id)}"


def lan_consumer_name(device_id: str) -> str:
    """The consumer a device reads its hub's KOP_LAN stream with."""
    return f"lan-{check_device_id(device_id)}"


def hub_domain(coop_id: str) -> str:
    """The JetStream domain of a cooperative's hub (a subject token: no dots)."""
    return f"hub-{check_coop_id(coop_id)}"


def hub_deliver_prefix(coop_id: str) -> str:
    """Where the province delivers the committed events a secured hub sources (its sourcing
    consumer's deliver subjects, exported by the central account to the devices' account);
    only that cooperative's hub credential may receive them."""
    return f"{HUB_DELIVER}.{check_coop_id(coop_id)}"


# --- the hello handshake ------------------------------------------------------------------
HELLO_VERSION = 1
CENTRAL_KEY_LEN = 32  # an Ed25519 public key


@dataclass(frozen=True, slots=True)
class HelloRequest:
    """A device's handshake: who it is, how far its log goes, its clock."""

    coop_id: str
    device_id: str
    head_seq: int
    hlc: Hlc
    via: str | None = None  # the cooperative's hub it reaches the central through, if any

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "v": HELLO_VERSION,
            "coop_id": self.coop_id,
            "device_id": self.device_id,
            "head_seq": self.head_seq,
            "hlc": self.hlc.to_wire(),
        }
        if self.via is not None:
            wire["via"] = self.via
        return wire

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    @classmethod
    def decode(cls, data: bytes) -> HelloRequest:
        wire = _hello_map(data, "hello request")
        try:
            coop_id = check_coop_id(wire.get("coop_id"))
            device_id = check_device_id(wire.get("device_id"))
        except InvalidId as exc:
            raise DecodeError(f"hello request: {exc}") from exc
        via = wire.get("via")
        try:
            via = None if via is None else check_id(via, "via")
        except InvalidId as exc:
            raise DecodeError(f"hello request: {exc}") from exc
        return cls(
            coop_id,
            device_id,
            seq_field(wire, "head_seq", "hello request"),
            hlc_field(wire, "hlc", "hello request"),
            via,
        )


@dataclass(frozen=True, slots=True)
class HelloReply:
    """The central's answer: what it committed and holds of the device, its clock and key.

    ``ingest_seq`` is the KOP_INGEST stream sequence up to which the central processed every
    upload; ``None`` from a central that does not say (it is then left out of the map).
    """

    registered: bool
    committed_seq: int
    held: tuple[tuple[int, int], ...]  # seq ranges received beyond a gap, inclusive
    hlc: Hlc
    central_key: bytes
    issuer: str
    ingest_seq: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "v": HELLO_VERSION,
            "registered": self.registered,
            "committed_seq": self.committed_seq,
            "held": [list(pair) for pair in self.held],
            "hlc": self.hlc.to_wire(),
            "central_key": self.central_key,
            "issuer": self.issuer,
        }
        if self.ingest_seq is not None:
            wire["ingest_seq"] = self.ingest_seq
        return wire

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    @staticmethod
    def decode(data: bytes) -> HelloReply | HelloRefusal:
        """The reply, or the central's refusal (``{"v": 1, "error": str}``)."""
        what = "hello reply"
        wire = _hello_map(data, what)
        if "error" in wire:
            return HelloRefusal(str(wire["error"]))
        registered = wire.get("registered")
        if not isinstance(registered, bool):
            raise DecodeError(f"{what}: registered must be true or false")
        key = wire.get("central_key")
        if not isinstance(key, bytes) or len(key) != CENTRAL_KEY_LEN:
            raise DecodeError(f"{what}: central_key must be {CENTRAL_KEY_LEN} bytes")
        issuer = wire.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise DecodeError(f"{what}: issuer must be a non-empty string")
        ingest_seq = wire.get("ingest_seq")
        return HelloReply(
            registered=registered,
            committed_seq=seq_field(wire, "committed_seq", what),
            held=_ranges(wire.get("held"), what),
            hlc=hlc_field(wire, "hlc", what),
            central_key=key,
            issuer=issuer,
            ingest_seq=None if ingest_seq is None else seq_field(wire, "ingest_seq", what),
        )


@dataclass(frozen=True, slots=True)
class HelloRefusal:
    """The central could not or would not answer a hello (a malformed request, a busy store)."""

    error: str

    def to_wire(self) -> dict[str, Any]:
        return {"v": HELLO_VERSION, "error": self.error}

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())


# --- field checks -------------------------------------------------------------------------
def int64(value: object, what: str, *, minimum: int = 0) -> int:
    """``value`` if it is an integer (not a bool) in ``minimum .. 2**63-1``, else DecodeError."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(f"{what} must be an integer")
    if not minimum <= value <= INT64_MAX:
        raise DecodeError(f"{what} {value} is outside {minimum} .. 2**63-1")
    return value


def seq_field(wire: dict[str, Any], name: str, what: str) -> int:
    return int64(wire.get(name), f"{what}: {name}")


def hlc_field(wire: dict[str, Any], name: str, what: str) -> Hlc:
    value = wire.get(name)
    if not isinstance(value, list) or len(value) != 2:
        raise DecodeError(f"{what}: {name} must be a list [wall_ms, counter]")
    return Hlc(int64(value[0], f"{what}: {name} wall"), int64(value[1], f"{what}: {name} counter"))


def _hello_map(data: bytes, what: str) -> dict[str, Any]:
    try:
        wire = codec.decode(data)
    except DecodeError as exc:
        raise DecodeError(f"{what} is not msgpack: {exc}") from exc
    if not isinstance(wire, dict) or wire.get("v") != HELLO_VERSION:
        raise DecodeError(f"a {what} is a msgpack map with v={HELLO_VERSION}")
    return wire


def _ranges(value: object, what: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise DecodeError(f"{what}: held must be a list of [from, to] seq ranges")
    out = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise DecodeError(f"{what}: held must be a list of [from, to] seq ranges")
        first, last = int64(pair[0], f"{what}: held from"), int64(pair[1], f"{what}: held to")
        if first > last:
            raise DecodeError(f"{what}: held range [{first}, {last}] runs backwards")
        out.append((first, last))
    return tuple(out)
