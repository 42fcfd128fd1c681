"""Devices and resolutions: no local rule.

Device registration, retirement and conflict resolutions are central decisions; the
edge has nothing to check and keeps no view of them (the device's own identity lives in
the store's metadata, and conflicts are a central read model).
"""

from __future__ import annotations

from edge_agent.domain.base import FREE, Rule

RULES: dict[str, Rule] = {
    "DeviceRegistered": FREE,
    "DeviceRetired": FREE,
    "ConflictResolved": FREE,
}
