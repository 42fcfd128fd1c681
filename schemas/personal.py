"""Personal data in event payloads: which fields hold it, and what leaves the province of it.

Every payload field carries a ``pii`` mark in the catalog (UU PDP No. 27/2022). This module
turns the mark into a treatment (keep, pseudonymise with a keyed HMAC, remove) and computes
the pseudonym. The partner fan-out applies it to every event it sends, and the AsyncAPI
document describes the result, so both follow one policy. Pure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Literal

from schemas.fields import Field, Pii
from schemas.registry import REGISTRY
from sync_core.envelope import WIRE_FIELDS

Treatment = Literal["keep", "pseudonymise", "remove"]

# The envelope fields a partner's message keeps: the signature and the hash chain cover the
# clear payload, which a partner never sees, so they are dropped.
PARTNER_ENVELOPE_FIELDS = tuple(f for f in WIRE_FIELDS if f not in ("prev_hash", "sig"))

PSEUDONYM_PREFIX = "hmac:"
PSEUDONYM_PATTERN = r"^hmac:[0-9a-f]{64}$"

TREATMENT: Mapping[Pii, Treatment] = {
    "nik": "pseudonymise",
    "kk": "pseudonymise",
    "name": "remove",
    "phone": "remove",
    "address": "remove",
}

# Free-text fields naming the person who decided: names, though the catalog leaves them unmarked.
UNMARKED_NAMES: frozenset[tuple[str, str]] = frozenset(
    {("MembershipApproved", "approved_by"), ("ConflictResolved", "resolved_by")}
)

# What a MemberProfileFieldChanged.value is, by the profile field it changes.
PROFILE_PII: Mapping[str, Pii | None] = {
    **{f.name: f.pii for f in REGISTRY.get("MemberRegistered").fields},
    "address": "address",
}

NATIONAL_NUMBER = re.compile(r"^\d{16}\Z")


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """The partner's stable pseudonym of one personal value of one kind."""
    mac = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + mac


def field_pii(event_type: str, f: Field) -> Pii | None:
    """The personal-data kind of a payload field (``by_field``: decided per event)."""
    if (event_type, f.name) in UNMARKED_NAMES:
        return "name"
    return f.pii


def treatment(pii: Pii | None) -> Treatment:
    if pii is None:
        return "keep"
    return TREATMENT.get(pii, "remove")  # by_field is resolved before; anything new: remove
