"""The event catalog: every event of the eight areas, validation, upcasting, JSON Schema."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.app.agent import EdgeAgent
from kopsync.cli.main import cli
from schemas import REGISTRY
from schemas.catalog import EventSchema
from schemas.fields import Field
from schemas.jsonschema import event_schema
from sync_core.errors import ValidationError

AREA_EVENTS = {
    "membership": {
        "MemberRegistered",
        "MembershipApproved",
        "MemberProfileFieldChanged",
        "MemberResigned",
        "MembersMerged",
    },
    "savings": {
        "SavingsAccountOpened",
        "SavingsDeposited",
        "SavingsWithdrawn",
        "SavingsTransactionReversed",
    },
    "loans": {
        "LoanApplied",
        "LoanApproved",
        "LoanDisbursed",
        "LoanRepaymentReceived",
        "LoanRepaymentReversed",
        "LoanWrittenOff",
    },
    "shop": {
        "PriceSet",
        "SaleRecorded",
        "SaleVoided",
        "MemberCreditRepaid",
        "MemberCreditRepaymentReversed",
        "StockReceived",
        "StockAdjusted",
        "StockCounted",
        "QuotaAllocated",
    },
    "aid": {
        "BeneficiaryEnrolled",
        "CardIssued",
        "CardBlocked",
        "EntitlementGranted",
        "RedemptionAllowanceAllocated",
        "AidRedeemed",
        "AidRedemptionVoided",
    },
    "stimulus": {
        "StimulusFundAllocated",
        "StimulusTrancheDisbursed",
        "StimulusFundUtilized",
        "StimulusRevolvingRepaymentMade",
    },
    "logistics": {"ShipmentDispatched", "ShipmentReceived", "ShipmentDiscrepancyRecorded"},
    "devices": {"DeviceRegistered", "DeviceRetired", "ConflictResolved"},
}
ID_CHARS = string.ascii_letters + string.digits + "-_"


def value_strategy(f: Field) -> st.SearchStrategy[Any]:
    """Valid values of one field."""
    if f.kind in ("int", "money"):
        lo = f.minimum if f.minimum is not None else 0
        hi = f.maximum if f.maximum is not None else 10**12
        ints = st.integers(lo, hi)
        return ints.filter(lambda v: v != 0) if f.nonzero else ints
    if f.kind == "bool":
        return st.booleans()
    if f.kind == "bytes":
        return st.binary(min_size=1, max_size=f.max_len)
    if f.kind == "records":
        return st.lists(payload_strategy(f.items), min_size=1, max_size=3)
    if f.kind == "ids":
        return st.lists(st.text(ID_CHARS, min_size=1, max_size=12), min_size=1, max_size=3)
    if f.kind == "enum":
        return st.sampled_from(f.choices)
    if f.kind == "digits":
        return st.text(string.digits, min_size=f.digits or 1, max_size=f.digits or 12)
    if f.kind == "date":
        return st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
    if f.kind == "period":
        return st.tuples(st.integers(2000, 2099), st.integers(1, 12)).map(
            lambda t: f"{t[0]}-{t[1]:02d}"
        )
    if f.kind == "coop_id":
        return st.text(string.digits, min_size=4, max_size=10)
    if f.kind in ("id", "device_id"):
        return st.text(ID_CHARS, min_size=1, max_size=32)
    return st.text(string.ascii_letters + " ", min_size=1, max_size=min(f.max_len, 30)).filter(
        lambda s: s.strip() != ""
    )


def payload_strategy(fields: tuple[Field, ...]) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.name: value_strategy(f) for f in fields if f.required}
    optional = {f.name: value_strategy(f) for f in fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def schema_and_payload() -> st.SearchStrategy[tuple[EventSchema, dict[str, Any]]]:
    def build(s: EventSchema) -> st.SearchStrategy[tuple[EventSchema, dict[str, Any]]]:
        payloads = payload_strategy(s.fields)
        if s.type == "MemberProfileFieldChanged":
            payloads = st.just({"field": "name", "value": "Dewi Lestari"})
        return payloads.map(lambda p: (s, p))

    return st.sampled_from(list(REGISTRY)).flatmap(build)


def test_catalog_covers_every_event_of_the_brief() -> None:
    """Every event of the eight areas has a registered schema in its area."""
    for area, names in AREA_EVENTS.items():
        for name in names:
            assert REGISTRY.get(name).area == area
    assert set(REGISTRY.types) == set().union(*AREA_EVENTS.values())


@given(schema_and_payload())
def test_valid_payloads_pass_both_the_registry_and_the_exported_json_schema(case) -> None:
    """A payload the registry accepts is valid for the exported JSON Schema of that version."""
    schema, payload = case
    checked = REGISTRY.validate(schema.type, payload, schema.version)
    doc = json.loads(json.dumps(event_schema(schema)))
    as_json = json.loads(json.dumps(checked, default=lambda b: b.hex()))
    jsonschema.Draft202012Validator(doc).validate(as_json)


@given(schema_and_payload(), st.data())
def test_missing_required_field_is_refused_naming_it(case, data) -> None:
    """Dropping any required field is refused by the registry and by the JSON Schema, naming it."""
    schema, payload = case
    required = [f.name for f in schema.fields if f.required]
    if not required:
        return
    name = data.draw(st.sampled_from(required))
    broken = {k: v for k, v in payload.items() if k != name}
    with pytest.raises(ValidationError) as err:
        REGISTRY.validate(schema.type, broken, schema.version)
    assert err.value.field == name
    doc = json.loads(json.dumps(event_schema(schema)))
    assert not jsonschema.Draft202012Validator(doc).is_valid(
        json.loads(json.dumps(broken, default=lambda b: b.hex()))
    )


@pytest.mark.parametrize(
    ("event_type", "payload", "field"),
    [
        ("SavingsDeposited", {"amount": 50000.5, "receipt_no": "KW-1"}, "amount"),
        ("SavingsDeposited", {"amount": 50000, "receipt_no": "KW.1"}, "receipt_no"),
        ("SavingsDeposited", {"amount": -5, "receipt_no": "KW-1"}, "amount"),
        ("SavingsDeposited", {"amount": 5, "receipt_no": "KW-1", "tip": 1}, "tip"),
        ("MemberProfileFieldChanged", {"field": "nik", "value": "123"}, "value"),
        ("StockAdjusted", {"sku": "A", "location": "toko", "delta": 0, "reason": "x"}, "delta"),
        (
            "SaleRecorded",
            {
                "lines": [{"sku": "A", "qty": 0, "unit_price": 5}],
                "payments": [{"method": "cash", "amount": 5}],
            },
            "lines[0].qty",
        ),
        (
            "ShipmentDispatched",
            {
                "origin": "gudang",
                "destination": "64.01",
                "lines": [{"sku": "A", "qty": 1}],
                "dispatched_on": "2026-11-02",
            },
            "destination",
        ),
    ],
)
def test_invalid_payloads_name_the_field(event_type: str, payload: dict, field: str) -> None:
    """Floats for money, dotted ids, negatives, unknown fields and bad nesting name the field."""
    with pytest.raises(ValidationError) as err:
        REGISTRY.validate(event_type, payload)
    assert err.value.field == field


def test_sale_recorded_v1_upcasts_to_the_latest() -> None:
    """A v1 sale (one payment method and amount) reads as v3 with a payments list."""
    v1 = {
        "lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_000}],
        "payment_method": "khbs",
        "amount": 36_000,
    }
    assert REGISTRY.upcast("SaleRecorded", 1, v1) == (
        3,
        {"lines": v1["lines"], "payments": [{"method": "khbs", "amount": 36_000}]},
    )
    REGISTRY.validate("SaleRecorded", REGISTRY.upcast("SaleRecorded", 1, v1)[1], 3)


def test_sale_recorded_v2_reads_as_v3_and_v3_keeps_a_price_override() -> None:
    """A v2 sale (never checked against the price list) reads as v3 unchanged; v3 carries
    the operator's reason for an off-list price, which v2 does not know."""
    v2 = {
        "lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_000}],
        "payments": [{"method": "cash", "amount": 36_000}],
        "stock_override_reason": "di rak",
    }
    assert REGISTRY.upcast("SaleRecorded", 2, v2) == (3, v2)
    v3 = {**v2, "price_override_reason": "harga promo akhir bulan"}
    REGISTRY.validate("SaleRecorded", v3, 3)
    with pytest.raises(ValidationError) as err:
        REGISTRY.validate("SaleRecorded", v3, 2)
    assert err.value.field == "price_override_reason"


def test_event_stored_as_v1_is_read_as_v3_end_to_end(tmp_path: Path) -> None:
    """A sale recorded as v1 stays v1 in the signed log and is read as v3 by `edge log`."""
    data = tmp_path / "dev"
    with EdgeAgent.init(data, "6271011001", "pky-1") as agent:
        agent.record(
            "StockReceived",
            {
                "sku": "GULA-1KG",
                "qty": 10,
                "location": "main",
                "supplier": "UD Barokah",
                "doc_no": "SJ-9",
            },
            "GULA-1KG",
        )
        env = agent.record(
            "SaleRecorded",
            {
                "lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_000}],
                "payment_method": "cash",
                "amount": 36_000,
            },
            "S-0001",
            version=1,
        )
        assert env.version == 1 and "payment_method" in env.payload
        assert agent.verify().ok
        stock = agent.view("stock:main:GULA-1KG")
        assert stock is not None and stock["on_hand"] == 8
    out = CliRunner().invoke(cli, ["edge", "log", "--data", str(data), "--json", "--since", "1"])
    entry = json.loads(out.output.splitlines()[0])
    assert (entry["type"], entry["version"], entry["stored_version"]) == ("SaleRecorded", 3, 1)
    assert entry["payload"]["payments"] == [{"method": "cash", "amount": 36_000}]


def test_schemas_export_writes_one_json_schema_per_type_and_version(tmp_path: Path) -> None:
    """`kopsync schemas export DIR` writes a valid Draft 2020-12 document per type and version."""
    out = CliRunner().invoke(cli, ["schemas", "export", str(tmp_path / "js")])
    assert out.exit_code == 0, out.output
    files = sorted((tmp_path / "js").glob("*.schema.json"))
    assert len(files) == len(list(REGISTRY)) == 43
    assert (tmp_path / "js" / "SaleRecorded.v1.schema.json").exists()
    for f in files:
        jsonschema.Draft202012Validator.check_schema(json.loads(f.read_text()))
