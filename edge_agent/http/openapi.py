"""The OpenAPI 3.1 document of the agent's API, built from the same tables it serves.

Request bodies come from the event catalog: a teller route's body is its
:class:`~edge_agent.http.commands.Command` fields (``object_schema`` of the same
:class:`~schemas.fields.Field` tuple the handler checks with), and every edge event
type has its own ``POST /v1/events/{Type}`` with that type's payload schema. Nothing here
is written twice, so the document cannot drift from what the agent accepts.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from edge_agent.http.commands import COMMANDS, GENERIC_FIELDS, Command
from edge_agent.http.queries import QUERIES, Query
from edge_agent.http.shapes import SHAPES, ref
from schemas import REGISTRY
from schemas.jsonschema import DIALECT, field_schema, object_schema

PROBLEM_JSON = "application/problem+json"
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retried request with the same key returns the first answer and records "
    "nothing again, also after the agent restarted; a refused request claims no key",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
ERRORS = {
    "400": "bad input: `invalid_field` names the field, `malformed_json`, `invalid_id`, …",
    "401": "`unauthorized`: a bind beyond loopback needs the device's token",
    "409": "refused by a business rule: `code` is the rule (`insufficient_balance`, …)",
    "415": "`unsupported_media_type`: send application/json",
    "422": "`idempotency_key_reused`: the key came with another request before",
    "503": "`store_full`, `store_unavailable`, `store_unsafe`, `store_not_trusted`",
}


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = dict(SHAPES)
    for c in COMMANDS:
        schemas[f"{c.event_type}Request"] = object_schema(c.fields)
        paths.setdefault(c.path, {})["post"] = _command(c)
    for t in REGISTRY.types_from("edge"):
        schemas[f"{t}Payload"] = object_schema(REGISTRY.get(t).fields)
        schemas[f"{t}Record"] = _generic_schema(t)
        paths[f"/v1/events/{t}"] = {"post": _generic(t)}
    for q in QUERIES:
        paths.setdefault(q.path, {})["get"] = _query(q)
    paths["/healthz"] = {"get": _probe("the process is up")}
    paths["/readyz"] = {"get": _probe("the store is open and its newest event verifies")}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": {
            "title": "kopsync edge agent",
            "version": _version(),
            "description": "The counter's API on a cooperative's device: every teller "
            "operation, any edge event, and the questions a counter asks. Money is integer "
            "rupiah. Errors are RFC 9457 problem details with a stable `code`.",
        },
        "servers": [{"url": "http://127.0.0.1:8470"}],
        "security": [{}, {"deviceToken": []}],
        "tags": [{"name": t} for t in sorted({c.tag for c in COMMANDS} | {q.tag for q in QUERIES})],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "needed beyond loopback; shown once by `kopsync edge init`",
                }
            },
        },
    }


def _version() -> str:
    try:
        return metadata.version("kopsync")
    except metadata.PackageNotFoundError:
        return "0"


def _answers(ok: str, schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    out: dict[str, Any] = {status: {"description": ok, "content": _json(schema)}}
    for code, what in ERRORS.items():
        out[code] = _problem(what)
    return out


def _problem(what: str) -> dict[str, Any]:
    return {"description": what, "content": {PROBLEM_JSON: {"schema": ref("Problem")}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path_params(path: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


def _command(c: Command) -> dict[str, Any]:
    return {
        "operationId": c.name,
        "summary": c.summary,
        "description": f"Records `{c.event_type}` (see `POST /v1/events/{c.event_type}`).",
        "tags": [c.tag],
        "parameters": [*_path_params(c.path, c.path_params), IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": _json(ref(f"{c.event_type}Request"))},
        "responses": _answers("recorded", ref("Receipt"), "201"),
    }


def _generic_schema(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["aggregate_id", "payload"],
        "properties": {
            **{f.name: field_schema(f) for f in GENERIC_FIELDS},
            "payload": ref(f"{event_type}Payload"),
        },
    }


def _generic(event_type: str) -> dict[str, Any]:
    schema = REGISTRY.get(event_type)
    return {
        "operationId": f"record_{event_type}",
        "summary": f"Record {event_type}",
        "description": schema.doc,
        "tags": ["events"],
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": _json(ref(f"{event_type}Record"))},
        "responses": _answers("recorded", ref("Receipt"), "201"),
    }


def _query(q: Query) -> dict[str, Any]:
    names = tuple(part[1:-1] for part in q.path.split("/") if part.startswith("{"))
    params = _path_params(q.path, names)
    for p in q.params:
        where = {"name": p.name, "in": "query", "required": p.required}
        params.append(where | {"description": p.doc, "schema": p.schema})
    answers = _answers("the answer", ref(q.response))
    answers["404"] = _problem("`not_found`: this device does not know it")
    words = [part.strip("{}") for part in q.path.strip("/").split("/")]
    return {
        "operationId": "get_" + "_".join(words),
        "summary": q.summary,
        "tags": [q.tag],
        "parameters": params,
        "responses": answers,
    }


def _probe(what: str) -> dict[str, Any]:
    return {
        "operationId": "probe_" + what.split()[1],
        "summary": what,
        "tags": ["health"],
        "security": [{}],
        "responses": {
            "200": {"description": what, "content": _json({"type": "object"})},
            "503": _problem("`not_ready`: the store cannot serve; `detail` says why"),
        },
    }
