"""NATS subject names, built and parsed here. Every token is an id checked by :mod:`sync_core.ids`.

- ``kop.up.{coop}.{device}``                    device uploads (ingest stream)
- ``kop.hello.{coop}.{device}``                 reconciliation handshake of one device
- ``kop.ev.{prov}.{regency}.{coop}.{area}.{type}`` verified canonical events
- ``kop.q.{reason}``                             quarantine
- ``kop.down.{coop}``                            downlink, one subject per cooperative
- ``kop.ctl.{coop}.{device}``                    control messages to one device (re-send requests)
- ``kop.lan.{coop}.{device}``                    a device's events on its cooperative's hub (LAN)

Each ``parse_*`` takes a subject a peer sent or a server delivered and returns its ids as a
typed value, or raises :class:`InvalidId` saying what the subject should look like.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.errors import InvalidId
from sync_core.ids import check_coop_id, check_device_id, check_id, region_of

PREFIX = "kop"


@dataclass(frozen=True, slots=True)
class DeviceSubject:
    """The ids of a per-device subject (upload, hello, control)."""

    coop_id: str
    device_id: str


@dataclass(frozen=True, slots=True)
class CanonicalSubject:
    """The tokens of a canonical event subject."""

    province: str
    regency: str
    coop_id: str
    area: str
    event_type: str


# --- built ---------------------------------------------------------------------------------
def upload(coop_id: str, device_id: str) -> str:
    return f"{PREFIX}.up.{check_coop_id(coop_id)}.{check_device_id(device_id)}"


def upload_wildcard() -> str:
    return f"{PREFIX}.up.>"


def canonical(coop_id: str, area: str, event_type: str) -> str:
    prov, regency = region_of(check_coop_id(coop_id))
    area, event_type = check_id(area, "area"), check_id(event_type, "type")
    return f"{PREFIX}.ev.{prov}.{regency}.{coop_id}.{area}.{event_type}"


def coop_events(coop_id: str) -> str:
    """Every canonical event of one cooperative (the filter of its devices' sibling feed)."""
    prov, regency = region_of(check_coop_id(coop_id))
    return f"{PREFIX}.ev.{prov}.{regency}.{coop_id}.>"


def lan(coop_id: str, device_id: str) -> str:
    """A device's own events on its cooperative's hub (the LAN, never the province)."""
    return f"{PREFIX}.lan.{check_coop_id(coop_id)}.{check_device_id(device_id)}"


def lan_wildcard(coop_id: str) -> str:
    return f"{PREFIX}.lan.{check_coop_id(coop_id)}.>"


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


# --- parsed --------------------------------------------------------------------------------
def parse_upload(subject: str) -> DeviceSubject:
    """``kop.up.{coop}.{device}``."""
    return _device(subject, "up")


def parse_hello(subject: str) -> DeviceSubject:
    """``kop.hello.{coop}.{device}``."""
    return _device(subject, "hello")


def parse_control(subject: str) -> DeviceSubject:
    """``kop.ctl.{coop}.{device}``."""
    return _device(subject, "ctl")


def parse_downlink(subject: str) -> str:
    """The cooperative id of ``kop.down.{coop}``."""
    (coop,) = _tokens(subject, "down", ("coop",))
    return check_coop_id(coop)


def parse_canonical(subject: str) -> CanonicalSubject:
    """``kop.ev.{prov}.{regency}.{coop}.{area}.{type}``, its region codes those of the coop."""
    shape = ("prov", "regency", "coop", "area", "type")
    prov, regency, coop, area, event_type = _tokens(subject, "ev", shape)
    if region_of(check_coop_id(coop)) != (prov, regency):
        raise InvalidId(
            f"subject '{subject}': region {prov}.{regency} is not that of cooperative {coop}"
        )
    return CanonicalSubject(
        prov, regency, coop, check_id(area, "area"), check_id(event_type, "type")
    )


def _device(subject: str, kind: str) -> DeviceSubject:
    coop, device = _tokens(subject, kind, ("coop", "device"))
    return DeviceSubject(check_coop_id(coop), check_device_id(device))


def _tokens(subject: str, kind: str, shape: tuple[str, ...]) -> list[str]:
    """The tokens after ``kop.{kind}``, exactly ``len(shape)`` of them."""
    parts = subject.split(".")
    if parts[:2] != [PREFIX, kind] or len(parts) != 2 + len(shape):
        expected = ".".join([PREFIX, kind, *(f"{{{t}}}" for t in shape)])
        raise InvalidId(f"subject {subject!r} is not of the form {expected}")
    return parts[2:]
