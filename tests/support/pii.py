"""Personal data in events, by the schema's marks, and a scan of partner messages for it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from nats.aio.msg import Msg

from schemas import REGISTRY
from schemas.fields import Field
from sync_core.envelope import Envelope

PERSONAL_FIELDS = ("nik", "kk_no", "name", "phone", "address")


def pii_of(env: Envelope) -> list[str]:
    """Every NIK, KK number, name, phone number and address in an event, by the schema's marks."""
    found: list[str] = []

    def walk(fields: tuple[Field, ...], payload: dict[str, Any]) -> None:
        for f in fields:
            value = payload.get(f.name)
            if value is None:
                continue
            if f.pii == "by_field":
                if payload.get("field") in PERSONAL_FIELDS:
                    found.append(value)
            elif f.pii is not None:
                found.append(value)
            elif f.kind == "records":
                for r in value:
                    walk(f.items, r)

    walk(REGISTRY.get(env.type, env.version).fields, env.payload)
    return found


def leaked(secrets: Iterable[str], messages: Iterable[Msg]) -> list[str]:
    """The secrets found in clear anywhere in the messages: subject, data or headers."""
    raw = b"".join(
        m.subject.encode() + m.data + json.dumps(m.headers or {}).encode() for m in messages
    )
    return sorted(s for s in set(secrets) if s.encode() in raw)
