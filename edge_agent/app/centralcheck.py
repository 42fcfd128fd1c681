"""What a device accepts from the central: an envelope the pinned central key signed.

The downlink (:mod:`edge_agent.app.downlink`) checks every message with
:func:`check_central_envelope` before it applies it; ``kopsync edge verify`` checks every
stored downlink event with it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas import REGISTRY
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError

REFUSED_META = "downlink_refused"  # the meta record of the last refusals, newest last
REFUSED_KEEP = 100


@dataclass(frozen=True, slots=True)
class Refusal:
    """A downlink message the device did not apply, and why."""

    position: int  # KOP_DOWN stream sequence
    reason: str
    detail: str
    seq: int | None = None  # the issuer's seq, when the envelope could be read

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "seq": self.seq,
            "reason": self.reason,
            "detail": self.detail,
        }


def check_central_envelope(
    data: bytes,
    central_key: bytes,
    issuer: str,
    coop_id: str,
    position: int,
    *,
    central_only: bool = True,
) -> Envelope | Refusal:
    """The verified envelope, or the reason to refuse it; ``central_only`` refuses an event
    type recorded on devices (off for a stored row whose issuer is a simulator's)."""
    try:
        env = Envelope.decode(data)
    except KopsyncError as exc:
        return Refusal(position, "undecodable", str(exc))
    seq = env.seq
    if env.device_id != issuer:
        detail = f"issued by {env.device_id}, expected {issuer}"
        return Refusal(position, "wrong_issuer", detail, seq)
    if env.coop_id != coop_id:
        return Refusal(position, "coop_mismatch", f"for cooperative {env.coop_id}", seq)
    try:
        env.verify_signature(central_key)
    except KopsyncError as exc:
        return Refusal(position, "bad_signature", str(exc), seq)
    try:
        schema = REGISTRY.get(env.type, env.version)
    except KopsyncError as exc:
        return Refusal(position, "unknown_type", str(exc), seq)
    if central_only and "central" not in schema.origin:
        return Refusal(position, "not_central_event", f"{env.type} is recorded on devices", seq)
    return env
