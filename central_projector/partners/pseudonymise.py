"""A partner's view of a verified event: no NIK, KK number, name or phone number in clear.

Pure functions; the fan-out decides with them, then publishes. What happens to a payload field
follows its ``pii`` mark in ``schemas/`` (UU PDP No. 27/2022):

==============================  ==========================================================
``nik``, ``kk``                 ``"hmac:" + hex(HMAC-SHA256(partner key, "{kind}:{value}"))``
``name``, ``phone``, ``address``  removed
``by_field``                    as the sibling ``field`` says: the value of a changed NIK or
                                KK is pseudonymised, of a name, phone or address removed, of
                                a village code or birth date kept; of an unknown field removed
no mark                         kept as it is (nested records are treated field by field)
==============================  ==========================================================

Why keyed, and per partner: a plain hash of a 16-digit NIK is brute-forced in minutes (the
space is small and structured), an HMAC without the key is not. One key per partner gives one
stable pseudonym per person *for that partner* (it can count and link a member's events) while
two partners cannot join their data on it. The kind is hashed with the value, so a KK number and
a NIK with the same digits get different pseudonyms. The key never leaves the province.

Fail closed: a payload field the schema does not know is removed, not passed on. Two
fields hold who decided something and so a person's name although the catalog does not mark
them (``approved_by``, ``resolved_by``): they are removed like names. An ``aggregate_id`` of
16 digits (a NIK or KK used as a member number) is pseudonymised as kind ``id``.

The envelope keeps ``event_id``, ``coop_id``, ``device_id``, ``seq``, ``hlc``, ``type``,
``version`` and ``aggregate_id``; ``sig`` and ``prev_hash`` are dropped. The signature covers
the clear payload, which the partner never sees, so it could verify nothing with it; the hash
chain links envelopes it cannot hash either. A partner trusts its stream instead: only the
province's fan-out can write it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.catalog import EventSchema
from schemas.fields import Field
from schemas.personal import (
    NATIONAL_NUMBER,
    PROFILE_PII,
    field_pii,
    pseudonym,
    treatment,
)
from schemas.registry import REGISTRY, Registry
from sync_core import codec
from sync_core.envelope import Envelope


def view_fields(
    event_type: str, fields: tuple[Field, ...], payload: Mapping[str, Any], key: bytes
) -> dict[str, Any]:
    """The partner's view of one map of a payload (the payload itself, or a record in it)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.name not in payload:
            continue
        value = payload[f.name]
        pii = field_pii(event_type, f)
        if pii == "by_field":
            changed = str(payload.get("field"))
            if changed not in PROFILE_PII:
                continue  # a profile field nobody classified: its value is removed
            pii = PROFILE_PII[changed]
        what = treatment(pii)
        if what == "remove":
            continue
        if what == "pseudonymise":
            assert pii is not None
            out[f.name] = pseudonym(key, pii, str(value))
        elif f.kind == "records" and isinstance(value, list):
            out[f.name] = [
                view_fields(event_type, f.items, r, key) if isinstance(r, Mapping) else r
                for r in value
            ]
        else:
            out[f.name] = value
    return out


def view_payload(schema: EventSchema, payload: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    return view_fields(schema.type, schema.fields, payload, key)


def view_aggregate_id(aggregate_id: str, key: bytes) -> str:
    if NATIONAL_NUMBER.match(aggregate_id):
        return pseudonym(key, "id", aggregate_id)
    return aggregate_id


def partner_view(env: Envelope, key: bytes, registry: Registry = REGISTRY) -> dict[str, Any]:
    """The map a partner receives for ``env`` (raises UnknownEventType for an unknown schema)."""
    schema = registry.get(env.type, env.version)
    return {
        "event_id": env.event_id,
        "coop_id": env.coop_id,
        "device_id": env.device_id,
        "seq": env.seq,
        "hlc": env.hlc.to_wire(),
        "type": env.type,
        "version": env.version,
        "aggregate_id": view_aggregate_id(env.aggregate_id, key),
        "payload": view_payload(schema, env.payload, key),
    }


def encode_view(view: Mapping[str, Any]) -> bytes:
    """Canonical msgpack of a view: any stock msgpack library decodes it."""
    return codec.encode(dict(view))
