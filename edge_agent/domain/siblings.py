"""Whether a device takes an event of a sibling (a device of its own cooperative): pure.

A sibling's event arrives through the province (committed there) or through the
cooperative's hub on the LAN (not yet seen by the province). Either way it is only bytes
from the network until it is checked here, against the registry the central signed
(:mod:`edge_agent.domain.devices`) and the sibling's chain as this device holds it:

- not an envelope → ``undecodable``; another cooperative's → ``coop_mismatch``;
- the device's own events and the central's are not siblings' (``skip``: they come by the
  device's own log and the downlink);
- an unknown or central-only type → ``unknown_type`` / ``not_edge_event``;
- a sibling the registry does not name yet → held (``unknown_device``), taken when the
  registration arrives; a sibling registered to another cooperative → ``coop_mismatch``;
  a retired one's events after the last seq the central had committed of it when it was
  retired → ``retired_device`` (those up to it are its history and are taken);
- a signature that the registered key does not verify (forged, or re-signed by another key)
  → ``bad_signature``;
- a seq already held: the same hash is a duplicate (no effect), another one is
  ``equivocation``; the next seq must link to the hash of the one before (``broken_chain``);
  a seq beyond the next is held (``gap``) until its predecessors arrive.

A sibling's event that breaks a local rule is not refused: it already happened, and the
central's conflict rules judge it (:mod:`edge_agent.domain.fold`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_agent.domain.base import View
from schemas import REGISTRY
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError

TAKE = "take"
DUPLICATE = "duplicate"
SKIP = "skip"
HOLD = "hold"
REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one message: take, hold, refuse, or nothing (duplicate, skip)."""

    action: str
    reason: str = ""
    detail: str = ""
    env: Envelope | None = None

    def to_json(self) -> dict[str, Any]:
        env = self.env
        return {
            "device_id": None if env is None else env.device_id,
            "seq": None if env is None else env.seq,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """Whose device this is, and who issues the central's events."""

    coop_id: str
    device_id: str
    issuer: str


# (device id) -> its registry view; (device id) -> (seq, hash) of its newest event held;
# (device id, seq) -> the hash of that event held here, if any.
Registry = Callable[[str], View | None]
Heads = Callable[[str], tuple[int, bytes]]
HashAt = Callable[[str, int], bytes | None]


def decode(data: bytes) -> Envelope | Verdict:
    try:
        return Envelope.decode(data)
    except KopsyncError as exc:
        return Verdict(REFUSE, "undecodable", str(exc))


def judge(env: Envelope, me: Identity, registry: Registry, head: Heads, hash_at: HashAt) -> Verdict:
    """The verdict on one decoded sibling envelope, given what this device holds."""
    if env.coop_id != me.coop_id:
        return Verdict(REFUSE, "coop_mismatch", f"for cooperative {env.coop_id}", env)
    if env.device_id in (me.device_id, me.issuer):
        return Verdict(SKIP, env=env)
    try:
        schema = REGISTRY.get(env.type, env.version)
    except KopsyncError as exc:
        return Verdict(REFUSE, "unknown_type", str(exc), env)
    if "edge" not in schema.origin:
        return Verdict(REFUSE, "not_edge_event", f"{env.type} is issued centrally", env)
    device = registry(env.device_id)
    if device is None or device["public_key"] is None:
        return Verdict(HOLD, "unknown_device", f"{env.device_id} is not registered here yet", env)
    if device["coop_id"] != me.coop_id:
        detail = f"{env.device_id} is registered to {device['coop_id']}"
        return Verdict(REFUSE, "coop_mismatch", detail, env)
    after = device.get("retired_after")
    if device["retired"] and (after is None or env.seq > after):
        detail = f"{env.device_id} is retired" + ("" if after is None else f" after seq {after}")
        return Verdict(REFUSE, "retired_device", detail, env)
    try:
        env.verify_signature(bytes(device["public_key"]))
    except KopsyncError as exc:
        return Verdict(REFUSE, "bad_signature", str(exc), env)
    last_seq, last_hash = head(env.device_id)
    if env.seq <= last_seq:
        if hash_at(env.device_id, env.seq) == env.hash:
            return Verdict(DUPLICATE, env=env)
        return Verdict(REFUSE, "equivocation", f"another event {env.seq} is held here", env)
    if env.seq > last_seq + 1:
        return Verdict(HOLD, "gap", f"waits for seq {last_seq + 1}", env)
    if env.prev_hash != last_hash:
        return Verdict(REFUSE, "broken_chain", f"does not link to seq {last_seq}", env)
    return Verdict(TAKE, env=env)
