"""The AsyncAPI 3.0 document of partner topics: every channel and payload a partner can receive.

Generated from the catalog, through the same policy the fan-out applies
(:mod:`schemas.personal`), so it describes exactly what is sent: NIK
and KK fields as ``hmac:<64 hex>`` pseudonyms, names, phone numbers and addresses absent.

One channel per event type (``kop.partner.{partner}.{prov}.{regency}.{coop}.{area}.{type}``,
the area and type fixed, the rest parameters), one message per type and version, one
``send`` operation per channel: the document describes the kopsync fan-out, which sends; a
partner's application receives. Payload schemas are AsyncAPI schemas (a superset of JSON
Schema draft 07); on the wire the message is msgpack, bytes fields being msgpack ``bin``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.catalog import EventSchema
from schemas.fields import Field
from schemas.jsonschema import field_schema
from schemas.personal import (
    PARTNER_ENVELOPE_FIELDS,
    PROFILE_PII,
    PSEUDONYM_PATTERN,
    field_pii,
    treatment,
)
from schemas.registry import REGISTRY, Registry

ASYNCAPI_VERSION = "3.0.0"
CONTENT_TYPE = "application/vnd.msgpack"
PARAMETERS = ("partner", "prov", "regency", "coop")

_PARAMETER_DOCS = {
    "partner": "The partner's id, as in the partners file (lower-case).",
    "prov": "Province code, 2 digits (Kemendagri, no dots), e.g. 62 Central Kalimantan.",
    "regency": "Regency or city code, 4 digits, e.g. 6202 Kotawaringin Timur, 6472 Samarinda.",
    "coop": "Cooperative id: its region code (4 to 10 digits) and optional '-' suffixes.",
}
_PII_DOCS = {"nik": "national id (NIK)", "kk": "family card number (KK)", "id": "16-digit id"}


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(path)}


def _key(s: EventSchema) -> str:
    return f"{s.type}_v{s.version}"


def pseudonym_schema(kind: str, doc: str = "") -> dict[str, Any]:
    what = _PII_DOCS.get(kind, kind)
    return {
        "allOf": [_ref("components", "schemas", "Pseudonym")],
        "description": f"{doc or what}: HMAC-SHA256 pseudonym, keyed per partner",
        "x-pseudonym-of": kind,
    }


def partner_field_schema(event_type: str, f: Field) -> dict[str, Any] | None:
    """What a partner receives for field ``f`` (``None``: the field is removed)."""
    pii = field_pii(event_type, f)
    if pii == "by_field":
        return {
            "type": "string",
            "description": (
                f"{f.doc}: present only when `field` is not personal (desa_code, birth_date) "
                "or as a pseudonym (nik, kk_no); absent for name, phone and address"
            ),
        }
    what = treatment(pii)
    if what == "remove":
        return None
    if what == "pseudonymise":
        assert pii is not None
        return pseudonym_schema(pii, f.doc)
    if f.kind == "records":
        s = field_schema(f)
        s["items"] = partner_object_schema(event_type, f.items)
        return s
    return field_schema(f)


def partner_object_schema(event_type: str, fields: tuple[Field, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in fields:
        s = partner_field_schema(event_type, f)
        if s is None:
            continue
        properties[f.name] = s
        if f.required and field_pii(event_type, f) != "by_field":
            required.append(f.name)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }
    conditions = [_by_field_rule(event_type, f) for f in fields if f.pii == "by_field"]
    if conditions:
        schema["allOf"] = [c for rules in conditions for c in rules]
    return schema


def _by_field_rule(event_type: str, f: Field) -> list[dict[str, Any]]:
    """The value's shape by the changed profile field (JSON Schema if/then)."""
    by_treatment: dict[str, list[str]] = {"keep": [], "pseudonymise": [], "remove": []}
    for name, pii in PROFILE_PII.items():
        by_treatment[treatment(pii)].append(name)
    rules: list[dict[str, Any]] = []
    if by_treatment["remove"]:
        rules.append(
            {
                "if": {"properties": {"field": {"enum": sorted(by_treatment["remove"])}}},
                "then": {"not": {"required": [f.name]}},
            }
        )
    for name in sorted(by_treatment["pseudonymise"]):
        kind = PROFILE_PII[name]
        assert kind is not None
        rules.append(
            {
                "if": {"properties": {"field": {"const": name}}},
                "then": {
                    "required": [f.name],
                    "properties": {f.name: pseudonym_schema(kind)},
                },
            }
        )
    if by_treatment["keep"]:
        rules.append(
            {
                "if": {"properties": {"field": {"enum": sorted(by_treatment["keep"])}}},
                "then": {"required": [f.name]},
            }
        )
    return rules


def message_payload_schema(s: EventSchema) -> dict[str, Any]:
    """The whole msgpack map of one message: envelope fields and the pseudonymised payload."""
    return {
        "type": "object",
        "title": f"{s.type} v{s.version} (partner view)",
        "additionalProperties": False,
        "required": list(PARTNER_ENVELOPE_FIELDS),
        "properties": {
            "event_id": {"type": "string", "maxLength": 64, "description": "UUID, idempotency key"},
            "coop_id": {"type": "string", "pattern": r"^\d{4,10}(-[A-Za-z0-9_]+)*$"},
            "device_id": {"type": "string", "maxLength": 32, "pattern": r"^[A-Za-z0-9_\-]+$"},
            "seq": {"type": "integer", "minimum": 1, "description": "gapless per device"},
            "hlc": _ref("components", "schemas", "Hlc"),
            "type": {"type": "string", "const": s.type},
            "version": {"type": "integer", "const": s.version},
            "aggregate_id": {
                "type": "string",
                "maxLength": 69,
                "description": f"id of the {s.aggregate}; a 16-digit id arrives as a pseudonym",
            },
            "payload": _ref("components", "schemas", f"{_key(s)}_payload"),
        },
    }


def document(registry: Registry = REGISTRY, version: str = "0.1.0") -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-compatible dict)."""
    by_type: dict[str, list[EventSchema]] = {}
    for s in registry:
        by_type.setdefault(s.type, []).append(s)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Pseudonym": {
            "type": "string",
            "pattern": PSEUDONYM_PATTERN,
            "description": "'hmac:' and the hex HMAC-SHA256 of the kind and value, with the "
            "partner's key: equal values give equal pseudonyms for one partner only",
        },
        "Hlc": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "minItems": 2,
            "maxItems": 2,
            "description": "hybrid logical clock [wall ms, counter]; order events by "
            "(hlc, device_id, seq)",
        },
        "PartnerHeaders": {
            "type": "object",
            "properties": {
                "Nats-Msg-Id": {
                    "type": "string",
                    "description": "{device_id}:{seq}; de-duplicate by it",
                },
                "Kop-Flags": {"type": "string", "description": "GAP: applied after a seq gap"},
            },
            "required": ["Nats-Msg-Id"],
        },
    }
    for event_type, versions in sorted(by_type.items()):
        area = versions[0].area
        channel_messages: dict[str, Any] = {}
        for s in versions:
            key = _key(s)
            schemas[f"{key}_payload"] = {
                "description": s.doc,
                **partner_object_schema(s.type, s.fields),
            }
            schemas[key] = message_payload_schema(s)
            messages[key] = {
                "name": key,
                "title": f"{s.type} v{s.version}",
                "summary": s.doc,
                "contentType": CONTENT_TYPE,
                "headers": _ref("components", "schemas", "PartnerHeaders"),
                "payload": _ref("components", "schemas", key),
                "x-kopsync": {
                    "area": s.area,
                    "aggregate": s.aggregate,
                    "origin": sorted(s.origin),
                },
            }
            channel_messages[key] = _ref("components", "messages", key)
        channels[event_type] = {
            "address": "kop.partner.{partner}.{prov}.{regency}.{coop}." + f"{area}.{event_type}",
            "title": event_type,
            "description": versions[-1].doc,
            "parameters": {p: _ref("components", "parameters", p) for p in PARAMETERS},
            "messages": channel_messages,
        }
        operations[f"send{event_type}"] = {
            "action": "send",
            "channel": _ref("channels", event_type),
            "summary": f"The fan-out publishes {event_type} to each partner allowed to see it.",
            "messages": [_ref("channels", event_type, "messages", k) for k in channel_messages],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "kopsync partner topics",
            "version": version,
            "description": (
                "Events of Indonesia's village cooperatives for integration partners, one "
                "JetStream stream KOP_PARTNER_{PARTNER} per partner, filtered by region, area "
                "and type. Personal data never arrives in clear: NIK and KK numbers are "
                "HMAC-SHA256 pseudonyms keyed per partner; names, phone numbers and addresses "
                "are removed. Messages are msgpack maps; de-duplicate by (device_id, seq)."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "province": {
                "host": "{host}:{port}",
                "protocol": "nats",
                "description": "The province's NATS server; a partner may read its stream only.",
                "variables": {
                    "host": {"description": "Given to each partner with its credentials."},
                    "port": {"default": "4222"},
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "parameters": {p: {"description": _PARAMETER_DOCS[p]} for p in PARAMETERS},
        },
    }


def write(path: Path, version: str = "0.1.0", registry: Registry = REGISTRY) -> dict[str, Any]:
    """Write the document as JSON (which is YAML too) to ``path``; return it."""
    doc = document(registry, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return doc
