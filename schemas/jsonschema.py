"""JSON Schema (draft 2020-12) documents of event payloads, for partners in any language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.catalog import EventSchema
from schemas.fields import MAX_LIST, MAX_MONEY, Field
from schemas.registry import REGISTRY, Registry
from sync_core.text import TEXT_PATTERN

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PATTERN = r"^[A-Za-z0-9_\-]+$"


def field_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema of one field's value."""
    s: dict[str, Any]
    if f.kind in ("int", "money"):
        lo = f.minimum if f.minimum is not None else (0 if f.kind == "money" else None)
        hi = f.maximum if f.maximum is not None else (MAX_MONEY if f.kind == "money" else None)
        s = {"type": "integer"}
        if lo is not None:
            s["minimum"] = lo
        if hi is not None:
            s["maximum"] = hi
    elif f.kind == "bool":
        s = {"type": "boolean"}
    elif f.kind == "bytes":
        s = {
            "type": "string",
            "contentEncoding": "base16",
            "maxLength": 2 * f.max_len,
            "description": "bytes (msgpack bin); hex in JSON",
        }
    elif f.kind == "records":
        s = {"type": "array", "minItems": 1, "maxItems": MAX_LIST, "items": object_schema(f.items)}
    elif f.kind == "ids":
        s = {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_LIST,
            "items": {"type": "string", "pattern": ID_PATTERN, "maxLength": 64},
        }
    elif f.kind == "enum":
        s = {"type": "string", "enum": list(f.choices)}
    elif f.kind == "digits":
        s = {"type": "string", "pattern": rf"^\d{{{f.digits}}}$"}
    elif f.kind == "date":
        s = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    elif f.kind == "period":
        s = {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}
    elif f.kind in ("id", "coop_id", "device_id"):
        s = {
            "type": "string",
            "pattern": ID_PATTERN,
            "maxLength": 32 if f.kind == "device_id" else 64,
        }
        if f.kind == "coop_id":
            s["pattern"] = r"^\d{4,10}(-[A-Za-z0-9_]+)*$"
    else:
        s = {"type": "string", "minLength": 1, "maxLength": f.max_len, "pattern": TEXT_PATTERN}
    if f.doc:
        s["description"] = f.doc
    if f.pii:
        s["x-pii"] = f.pii
    return s


def object_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: field_schema(f) for f in fields},
    }


def event_schema(s: EventSchema) -> dict[str, Any]:
    """The JSON Schema document of one version of one event type's payload."""
    doc = object_schema(s.fields)
    return {
        "$schema": DIALECT,
        "$id": f"urn:kopsync:event:{s.type}:v{s.version}",
        "title": f"{s.type} v{s.version}",
        "description": s.doc,
        "x-kopsync": {
            "type": s.type,
            "version": s.version,
            "area": s.area,
            "aggregate": s.aggregate,
            "origin": sorted(s.origin),
        },
        **doc,
    }


def export(directory: Path, registry: Registry = REGISTRY) -> list[Path]:
    """Write one ``{Type}.v{N}.schema.json`` per event type and version; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for s in registry:
        path = directory / f"{s.type}.v{s.version}.schema.json"
        path.write_text(json.dumps(event_schema(s), indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written
