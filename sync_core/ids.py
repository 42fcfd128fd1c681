"""Identifier rules: every id can be a NATS subject token."""

from __future__ import annotations

import os
import re
import uuid

from sync_core.errors import InvalidId

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+\Z")
MAX_ID_LEN = 64
MAX_DEVICE_ID_LEN = 32
_COOP = re.compile(r"^([0-9]{4,10})(?:-[A-Za-z0-9_]+)*\Z")


def check_id(value: object, what: str = "id", *, max_len: int = MAX_ID_LEN) -> str:
    """Return ``value`` if it is a valid id, else raise :class:`InvalidId`."""
    if not isinstance(value, str) or not value:
        raise InvalidId(f"{what} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidId(f"{what} '{value}' is longer than {max_len} characters")
    if not _TOKEN.match(value):
        raise InvalidId(
            f"{what} '{value}' may only contain letters, digits, '-' and '_' "
            "(no '.', '*', '>' or spaces: ids become NATS subject tokens)"
        )
    return value


def check_device_id(value: object) -> str:
    """Device ids are ids of at most 32 characters."""
    return check_id(value, "device id", max_len=MAX_DEVICE_ID_LEN)


def check_coop_id(value: object) -> str:
    """Cooperative ids start with their region code (4 to 10 digits, Kemendagri, no dots)."""
    check_id(value, "cooperative id")
    assert isinstance(value, str)
    if not _COOP.match(value):
        raise InvalidId(
            f"cooperative id '{value}' must start with its region code written without "
            "dots (4 to 10 digits, e.g. 6472021005 or 6401050012-KMP)"
        )
    return value


def region_of(coop_id: str) -> tuple[str, str]:
    """Return the (province, regency) codes a cooperative id begins with."""
    m = _COOP.match(coop_id)
    if not m:
        raise InvalidId(f"cooperative id '{coop_id}' has no region code")
    code = m.group(1)
    return code[:2], code[:4]


def new_event_id() -> str:
    """A fresh random event id (UUID4, canonical lower-case text)."""
    return str(uuid.UUID(bytes=os.urandom(16), version=4))
