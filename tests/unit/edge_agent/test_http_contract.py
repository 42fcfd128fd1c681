"""The HTTP API's contract: one route per teller function, bodies derived from the catalog,
an OpenAPI 3.1 document that validates and describes every route the agent serves."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate
from starlette.routing import Route

from edge_agent.app import teller
from edge_agent.http.commands import COMMANDS
from edge_agent.http.openapi import document
from edge_agent.http.queries import QUERIES
from kopsync.cli.main import cli
from schemas import REGISTRY


def test_every_teller_function_has_a_route() -> None:
    """Each edge event's teller function is served by exactly one POST route."""
    assert {c.event_type: c.name for c in COMMANDS} == teller.COMMANDS
    assert len({c.path for c in COMMANDS}) == len(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.event_type)
def test_request_fields_and_teller_arguments_match(command: Any) -> None:
    """Every teller argument comes from the path or the body, and every body field reaches one:
    the body is the catalog's payload fields, less the path's, plus a new record's id."""
    params = [p for p in inspect.signature(command.call).parameters if p != "recorder"]
    body = [command.renames.get(f.name, f.name) for f in command.fields]
    assert sorted([*command.path_params, *body]) == sorted(params)
    payload = {f.name for f in REGISTRY.get(command.event_type).fields}
    extra = {f.name for f in command.fields} - payload
    assert extra == ({command.new_id} if command.new_id else set())


def test_openapi_document_validates_and_covers_every_edge_event_type() -> None:
    """The document is valid OpenAPI 3.1; each edge event type has its request schema and route,
    each teller route its derived body."""
    doc = document()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    for t in REGISTRY.types_from("edge"):
        record = schemas[f"{t}Record"]
        assert record["properties"]["payload"] == {"$ref": f"#/components/schemas/{t}Payload"}
        assert set(schemas[f"{t}Payload"]["properties"]) == {f.name for f in REGISTRY.get(t).fields}
        assert f"/v1/events/{t}" in doc["paths"]
    for t in REGISTRY.types_from("central"):
        if "edge" not in REGISTRY.get(t).origin:
            assert f"/v1/events/{t}" not in doc["paths"]
    for c in COMMANDS:
        op = doc["paths"][c.path]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
            f"/{c.event_type}Request"
        )


def test_openapi_paths_are_the_routes_served(tmp_path: Path) -> None:
    """Every route of the app is in the document and every documented path is served."""
    from edge_agent.app.agent import EdgeAgent
    from edge_agent.http.app import build_app

    with EdgeAgent.init(tmp_path / "d", "6401050012", "pb-1") as agent:
        app = build_app(agent)
    served = set()
    for route in app.routes:
        if not isinstance(route, Route) or route.path == "/":
            continue
        for method in route.methods or ():
            if method != "HEAD":
                served.add((route.path, method.lower()))
    generic = {
        (p, "post")
        for p in document()["paths"]
        if p.startswith("/v1/events/") and p != "/v1/events"
    }
    documented = {(p, m) for p, ops in document()["paths"].items() for m in ops} - generic
    assert served - {("/v1/events/{event_type}", "post"), ("/openapi.json", "get")} == documented
    assert {q.path for q in QUERIES} <= {p for p, _ in documented}


@pytest.mark.parametrize(
    ("event_type", "body", "valid"),
    [
        ("SavingsDeposited", {"amount": 50_000, "receipt_no": "KW-1"}, True),
        ("SavingsDeposited", {"amount": 50_000.5, "receipt_no": "KW-1"}, False),
        ("SavingsDeposited", {"amount": 50_000}, False),
        ("SavingsDeposited", {"amount": 5, "receipt_no": "KW-1", "colour": "red"}, False),
        ("SavingsDeposited", {"amount": 5, "receipt_no": "KW.1"}, False),
        (
            "MemberRegistered",
            {
                "nik": "6401051204880001",
                "kk_no": "6401050101090003",
                "name": "Siti",
                "birth_date": "1988-04-12",
                "desa_code": "6401050012",
            },
            True,
        ),
        (
            "MemberRegistered",
            {
                "nik": "640105120488000",
                "kk_no": "6401050101090003",
                "name": "Siti",
                "birth_date": "1988-04-12",
                "desa_code": "6401050012",
            },
            False,
        ),
        ("SaleRecorded", {"lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}]}, True),
        ("SaleRecorded", {"lines": [{"sku": "GULA-1KG", "qty": 0, "unit_price": 18_500}]}, False),
        ("SaleRecorded", {"lines": []}, False),
    ],
)
def test_the_documented_body_and_the_handler_agree(
    event_type: str, body: dict[str, Any], valid: bool
) -> None:
    """A body the OpenAPI schema accepts is one the route accepts, and a refused one refused."""
    from sync_core.errors import ValidationError

    command = next(c for c in COMMANDS if c.event_type == event_type)
    schema = document()["components"]["schemas"][f"{event_type}Request"]
    documented = jsonschema.Draft202012Validator(schema).is_valid(body)
    try:
        command.arguments(body, dict.fromkeys(command.path_params, "X-1"))
        accepted = True
    except ValidationError:
        accepted = False
    assert documented == accepted == valid


def test_schemas_openapi_command_writes_the_document(tmp_path: Path) -> None:
    """`kopsync schemas openapi FILE` writes the document the agent serves."""
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(cli, ["schemas", "openapi", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads(json.dumps(document()))
    assert "operations" in result.output
