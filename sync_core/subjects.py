"""NATS subject names. Every token is an id checked by :mod:`sync_core.ids`.

- ``kop.up.{coop}.{device}``                    device uploads (ingest stream)
- ``kop.ev.{prov}.{regency}.{coop}.{area}.{type}`` verified canonical events
- ``kop.q.{reason}``                             quarantine
- ``kop.down.{coop}``                            downlink, one subject per cooperative
- ``kop.ctl.{coop}.{device}``                    control messages to one device (re-send requests)
"""

from __future__ import annotations

from sync_core.ids import check_coop_id, check_device_id, check_id, region_of

PREFIX = "kop"


def upload(coop_id: str, device_id: str) -> str:
    return f"{PREFIX}.up.{check_coop_id(coop_id)}.{check_device_id(device_id)}"


def upload_wildcard() -> str:
    return f"{PREFIX}.up.>"


def canonical(coop_id: str, area: str, event_type: str) -> str:
    prov, regency = region_of(check_coop_id(coop_id))
    area, event_type = check_id(area, "area"), check_id(event_type, "type")
    return f"{PREFIX}.ev.{prov}.{regency}.{coop_id}.{area}.{event_type}"


def canonical_wildcard() -> str:
    return f"{PREFIX}.ev.>"


def quarantine(reason: str) -> str:
    return f"{PREFIX}.q.{check_id(reason, 'reason')}"


def downlink(coop_id: str) -> str:
    return f"{PREFIX}.down.{check_coop_id(coop_id)}"


def control(coop_id: str, device_id: str) -> str:
    return f"{PREFIX}.ctl.{check_coop_id(coop_id)}.{check_device_id(device_id)}"


def hello(coop_id: str, device_id: str) -> str:
    """Request/reply reconciliation handshake of one device."""
    return f"{PREFIX}.hello.{check_coop_id(coop_id)}.{check_device_id(device_id)}"


def hello_wildcard() -> str:
    return f"{PREFIX}.hello.*.*"


def downlink_wildcard() -> str:
    return f"{PREFIX}.down.>"


def quarantine_wildcard() -> str:
    return f"{PREFIX}.q.>"
