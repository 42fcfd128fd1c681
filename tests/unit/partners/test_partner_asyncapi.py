"""The AsyncAPI 3.0 document: complete, consistent, and true to what the fan-out sends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner
from hypothesis import given
from partner_strategies import Case, cases

from central_projector.partners.pseudonymise import partner_view
from central_projector.partners.tail import jsonable
from kopsync.cli.main import cli
from schemas import REGISTRY
from schemas.asyncapi import PARAMETERS, document

DOC = document()
KEY = bytes.fromhex("44" * 32)


def _resolve(ref: dict[str, str]) -> Any:
    assert set(ref) == {"$ref"} and ref["$ref"].startswith("#/"), ref
    node: Any = DOC
    for part in ref["$ref"][2:].split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_top_level_structure_is_asyncapi_3() -> None:
    """asyncapi 3.0.0 with info, a msgpack content type, channels, operations and components."""
    assert DOC["asyncapi"] == "3.0.0"
    assert DOC["info"]["title"] and DOC["info"]["version"]
    assert DOC["defaultContentType"] == "application/vnd.msgpack"
    assert {"channels", "operations", "components"} <= set(DOC)
    assert {"schemas", "messages", "parameters"} <= set(DOC["components"])
    assert all(s["protocol"] == "nats" for s in DOC["servers"].values())


def test_every_edge_and_central_event_type_and_version_is_described() -> None:
    """Every catalog type, edge and central alike, has a channel and a message per version."""
    assert set(DOC["channels"]) == set(REGISTRY.types)
    assert set(REGISTRY.types_from("edge")) and set(REGISTRY.types_from("central"))
    for s in REGISTRY:
        key = f"{s.type}_v{s.version}"
        assert key in DOC["components"]["messages"]
        assert key in DOC["channels"][s.type]["messages"]
    assert "SaleRecorded_v1" in DOC["components"]["messages"]
    assert "SaleRecorded_v2" in DOC["components"]["messages"]


def test_channels_have_partner_addresses_with_declared_parameters() -> None:
    """Each address is kop.partner.{partner}.{prov}.{regency}.{coop}.{area}.{type}, every
    {parameter} in it declared and described."""
    for event_type, channel in DOC["channels"].items():
        area = REGISTRY.get(event_type).area
        assert channel["address"] == (
            f"kop.partner.{{partner}}.{{prov}}.{{regency}}.{{coop}}.{area}.{event_type}"
        )
        named = set(re.findall(r"{(\w+)}", channel["address"]))
        assert named == set(channel["parameters"]) == set(PARAMETERS)
        for ref in channel["parameters"].values():
            assert _resolve(ref)["description"]


def test_operations_messages_and_schemas_reference_what_exists() -> None:
    """Every $ref resolves; operations point at channels and at messages of their own channel."""
    for ref in _refs(DOC):
        _resolve({"$ref": ref})
    for op in DOC["operations"].values():
        assert op["action"] == "send"
        channel_ref = op["channel"]["$ref"]
        for m in op["messages"]:
            assert m["$ref"].startswith(channel_ref + "/messages/")
    for message in DOC["components"]["messages"].values():
        assert message["payload"]["$ref"].startswith("#/components/schemas/")
        assert message["contentType"] == "application/vnd.msgpack"


def test_personal_fields_are_pseudonyms_or_absent_in_payload_schemas() -> None:
    """Names, phones and addresses are not in any payload schema; NIK and KK are pseudonyms."""
    schemas = DOC["components"]["schemas"]
    registered = schemas["MemberRegistered_v1_payload"]["properties"]
    assert set(registered) == {"nik", "kk_no", "birth_date", "desa_code"}
    assert registered["nik"]["allOf"] == [{"$ref": "#/components/schemas/Pseudonym"}]
    enrolled = schemas["BeneficiaryEnrolled_v1_payload"]["properties"]
    assert "head_name" not in enrolled and "allOf" in enrolled["kk_no"]
    assert "approved_by" not in schemas["MembershipApproved_v1_payload"]["properties"]
    assert "x-pii" not in json.dumps(schemas)


def _validator(key: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": f"#/components/schemas/{key}", "components": DOC["components"]}
    return jsonschema.Draft7Validator(schema)


@given(cases())
def test_what_the_fanout_sends_validates_against_its_message_schema(case: Case) -> None:
    """The partner view of any event is valid for the message schema of its type and version."""
    view = jsonable(partner_view(case.env, KEY))
    _validator(f"{case.schema.type}_v{case.schema.version}").validate(view)


def test_a_clear_nik_or_a_name_does_not_validate() -> None:
    """The schemas reject personal data in clear: a raw NIK or an added name fails validation."""
    validator = _validator("MemberRegistered_v1_payload")
    good = {"nik": "hmac:" + "0" * 64, "kk_no": "hmac:" + "1" * 64, "birth_date": "1990-01-01",
            "desa_code": "6472021005"}  # fmt: skip
    validator.validate(good)
    assert not validator.is_valid(good | {"nik": "6472014506900003"})
    assert not validator.is_valid(good | {"name": "Siti"})
    change = _validator("MemberProfileFieldChanged_v1_payload")
    assert change.is_valid({"field": "phone"})
    assert not change.is_valid({"field": "phone", "value": "0812"})
    assert not change.is_valid({"field": "nik", "value": "6472014506900003"})
    assert change.is_valid({"field": "desa_code", "value": "6472021005"})


def test_schemas_asyncapi_command_writes_the_document(tmp_path: Path) -> None:
    """`kopsync schemas asyncapi FILE` writes the same document as JSON."""
    out = tmp_path / "docs" / "asyncapi.json"
    result = CliRunner().invoke(cli, ["schemas", "asyncapi", str(out)])
    assert result.exit_code == 0, result.output
    assert "AsyncAPI 3.0.0" in result.output
    written = json.loads(out.read_text())
    assert written["channels"] == DOC["channels"]
    assert written["components"] == DOC["components"]
