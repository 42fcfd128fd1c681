"""Devices and resolutions: the cooperative's device keys, known from the central.

The central tells a cooperative's devices which keys sign its events: ``DeviceRegistered``
{coop_id, public_key} and ``DeviceRetired`` reach every device of the cooperative on the
downlink, signed by the central. A device verifies the events of its siblings by this
registry (:mod:`edge_agent.domain.siblings`); it never trusts a key a sibling sends itself.

Views:
- ``device:{id}`` = ``{coop_id, public_key, retired}`` (a retirement is final: a later
  registration of the same id does not lift it), with ``retired_after`` once retired: the
  last seq the central had committed of it then (``None`` when the fact does not say), so
  that its siblings still take what it recorded before and refuse what came after.

Conflict resolutions are central decisions; the edge keeps no view of them.
"""

from __future__ import annotations

from edge_agent.domain.base import FREE, Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import get_or_add


def device_key(device_id: str) -> str:
    return f"device:{device_id}"


def _new_device() -> View:
    return {"coop_id": None, "public_key": None, "retired": False}


def _keys(ev: Proposed) -> list[str]:
    return [device_key(ev.aggregate_id)]


def _apply_registered(views: Views, ev: Proposed) -> None:
    device = get_or_add(views, device_key(ev.aggregate_id), _new_device())
    device["coop_id"] = ev.payload["coop_id"]
    device["public_key"] = bytes(ev.payload["public_key"])


def _apply_retired(views: Views, ev: Proposed) -> None:
    device = get_or_add(views, device_key(ev.aggregate_id), _new_device())
    if device["retired"]:
        return  # the first retirement holds: a second one does not move its point
    device["retired"] = True
    device["retired_after"] = ev.payload.get("last_seq")


RULES: dict[str, Rule] = {
    "DeviceRegistered": Rule(_keys, no_check, _apply_registered),
    "DeviceRetired": Rule(_keys, no_check, _apply_retired),
    "ConflictResolved": FREE,
}
