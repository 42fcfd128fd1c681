"""Checking a centrally issued envelope before the device applies it (pure, no I/O).

The device applies nothing from the downlink that the pinned central key did not sign: a
forged, foreign or unknown event is refused and logged (quarantined locally), and the
replicator moves past it so one bad message cannot block the ones after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas import REGISTRY
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError

DOWN_STREAM = "KOP_DOWN"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A downlink message the device did not apply, and why."""

    position: int  # KOP_DOWN stream sequence
    reason: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "reason": self.reason, "detail": self.detail}


def check_central_envelope(
    data: bytes, central_key: bytes, issuer: str, coop_id: str, position: int
) -> Envelope | Refusal:
    """The verified envelope, or the reason to refuse it."""
    try:
        env = Envelope.decode(data)
    except KopsyncError as exc:
        return Refusal(position, "undecodable", str(exc))
    if env.device_id != issuer:
        return Refusal(position, "wrong_issuer", f"issued by {env.device_id}, expected {issuer}")
    if env.coop_id != coop_id:
        return Refusal(position, "coop_mismatch", f"for cooperative {env.coop_id}")
    try:
        env.verify_signature(central_key)
    except KopsyncError as exc:
        return Refusal(position, "bad_signature", str(exc))
    try:
        schema = REGISTRY.get(env.type, env.version)
    except KopsyncError as exc:
        return Refusal(position, "unknown_type", str(exc))
    if "central" not in schema.origin:
        return Refusal(position, "not_central_event", f"{env.type} is recorded on devices")
    return env
