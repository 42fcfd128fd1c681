"""The rule table as a whole: coverage of the catalog, totality of apply, bounded views."""

from __future__ import annotations

from typing import Any

import pytest
from support.members import with_members

from edge_agent.domain import RULES, rule_for
from edge_agent.domain.base import FREE, Rule, load_for
from edge_agent.domain.memory import MemoryViews
from schemas import REGISTRY
from sync_core import codec
from sync_core.errors import UnknownEventType

NIK = "6472010101900001"
KK = "6472010101900099"

# One valid payload per event type (aggregate id, payload).
EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "MemberRegistered": (
        "M1",
        {
            "nik": NIK,
            "kk_no": KK,
            "name": "Siti Aminah",
            "birth_date": "1990-01-01",
            "desa_code": "6472021005",
        },
    ),
    "MembershipApproved": ("M1", {"approved_on": "2026-01-05"}),
    "MemberProfileFieldChanged": ("M1", {"field": "phone", "value": "081234567890"}),
    "MemberResigned": ("M1", {"resigned_on": "2026-06-30"}),
    "MembersMerged": ("M1", {"alias_member_ids": ["M2"]}),
    "SavingsAccountOpened": (
        "S1",
        {"member_id": "M1", "product": "SUKARELA", "opened_on": "2026-01-05"},
    ),
    "SavingsDeposited": ("S1", {"amount": 50_000, "receipt_no": "R1"}),
    "SavingsWithdrawn": ("S1", {"amount": 10_000, "receipt_no": "R2"}),
    "SavingsTransactionReversed": (
        "S1",
        {"reversed_event_id": "ev-x", "kind": "DEPOSIT", "amount": 50_000, "reason": "typo"},
    ),
    "LoanApplied": (
        "L1",
        {"member_id": "M1", "amount_requested": 5_000_000, "purpose": "seed", "tenor_months": 12},
    ),
    "LoanApproved": (
        "L1",
        {
            "principal": 5_000_000,
            "rate_bp": 1200,
            "method": "flat",
            "tenor_months": 12,
            "first_due": "2026-02-05",
        },
    ),
    "LoanDisbursed": ("L1", {"amount": 5_000_000, "disbursed_on": "2026-01-06"}),
    "LoanRepaymentReceived": (
        "L1",
        {"amount": 450_000, "paid_on": "2026-02-05", "receipt_no": "R3"},
    ),
    "LoanRepaymentReversed": (
        "L1",
        {"reversed_event_id": "ev-x", "amount": 450_000, "reason": "bounced"},
    ),
    "LoanWrittenOff": ("L1", {"amount": 4_000_000, "written_off_on": "2027-01-01"}),
    "PriceSet": ("BERAS5", {"sku": "BERAS5", "unit_price": 75_000}),
    "SaleRecorded": (
        "SALE1",
        {
            "lines": [{"sku": "BERAS5", "qty": 1, "unit_price": 75_000}],
            "payments": [{"method": "cash", "amount": 75_000}],
            "stock_override_reason": "count pending",
        },
    ),
    "SaleVoided": ("SALE1", {"reason": "customer returned it"}),
    "MemberCreditRepaid": ("M1", {"amount": 50_000, "paid_on": "2026-02-01", "receipt_no": "KW9"}),
    "MemberCreditRepaymentReversed": (
        "M1",
        {"reversed_event_id": "ev-x", "amount": 50_000, "reason": "wrong member"},
    ),
    "StockReceived": (
        "BERAS5",
        {"sku": "BERAS5", "qty": 10, "location": "main", "supplier": "Bulog", "doc_no": "DO1"},
    ),
    "StockAdjusted": (
        "BERAS5",
        {"sku": "BERAS5", "location": "main", "delta": -1, "reason": "torn bag"},
    ),
    "StockCounted": ("BERAS5", {"sku": "BERAS5", "location": "main", "counted_qty": 7}),
    "QuotaAllocated": (
        "LPG3",
        {"program": "LPG_3KG", "sku": "LPG3", "qty": 300, "period": "2026-01"},
    ),
    "BeneficiaryEnrolled": ("B1", {"kk_no": KK, "home_coop": "6472021005-KMP"}),
    "CardIssued": ("CARD1", {"beneficiary_id": "B1"}),
    "CardBlocked": ("CARD1", {"reason": "reported lost"}),
    "EntitlementGranted": (
        "E1",
        {
            "beneficiary_id": "B1",
            "card_uid": "CARD1",
            "program": "BLT",
            "cycle": "2026-01",
            "value": 300_000,
        },
    ),
    "RedemptionAllowanceAllocated": (
        "A1",
        {
            "scope": "COOP",
            "program": "BLT",
            "cycle": "2026-01",
            "max_count": 10,
            "max_value": 3_000_000,
        },
    ),
    "AidRedeemed": (
        "E1",
        {"card_uid": "CARD1", "allowance_id": "A1", "value": 300_000, "verification": "CHIP_PIN"},
    ),
    "AidRedemptionVoided": ("E1", {"redemption_event_id": "ev-x", "reason": "wrong family"}),
    "StimulusFundAllocated": (
        "F1",
        {"amount": 250_000_000, "program_year": 2026, "source": "APBD Kalteng"},
    ),
    "StimulusTrancheDisbursed": (
        "F1",
        {"amount": 100_000_000, "tranche_no": 1, "disbursed_on": "2026-02-01"},
    ),
    "StimulusFundUtilized": (
        "F1",
        {"amount": 20_000_000, "purpose": "STOCK", "doc_no": "D1", "used_on": "2026-02-03"},
    ),
    "StimulusRevolvingRepaymentMade": (
        "F1",
        {"amount": 1_000_000, "paid_on": "2026-03-01", "receipt_no": "R9"},
    ),
    "ShipmentDispatched": (
        "SH1",
        {
            "origin": "gudang",
            "destination": "6472021006",
            "lines": [{"sku": "BERAS5", "qty": 2}],
            "dispatched_on": "2026-02-01",
            "stock_override_reason": "count pending",
        },
    ),
    "ShipmentReceived": (
        "SH1",
        {"lines": [{"sku": "BERAS5", "qty": 2}], "location": "main", "received_on": "2026-02-02"},
    ),
    "ShipmentDiscrepancyRecorded": (
        "SH1",
        {"sku": "BERAS5", "expected_qty": 2, "received_qty": 1, "reason": "one bag torn"},
    ),
    "DeviceRegistered": ("dev-2", {"coop_id": "6472021005-KMP", "public_key": b"k" * 32}),
    "DeviceRetired": ("dev-2", {"reason": "stolen"}),
    "ConflictResolved": ("C1", {"decision": "KEEP_FIRST", "note": "checked with the family"}),
}


def test_every_catalog_type_has_a_rule() -> None:
    """RULES has exactly one entry per event type of the schema registry."""
    assert set(RULES) == set(REGISTRY.types)
    assert set(EXAMPLES) == set(REGISTRY.types)


def test_rule_for_unknown_type_raises() -> None:
    """An event type with no schema has no rule, and the error is the registry's kind."""
    with pytest.raises(UnknownEventType, match="NoSuchEvent"):
        rule_for("NoSuchEvent")
    assert rule_for("ConflictResolved") is FREE


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_apply_is_total_on_an_empty_device(event_type: str) -> None:
    """Every event type, received as a fact on a device with no views, applies without error."""
    book = MemoryViews()
    aggregate_id, payload = EXAMPLES[event_type]
    book.receive(event_type, aggregate_id, payload)
    for data in book.saved.values():
        assert len(data) < 1024


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_key_is_loaded_before_check_and_apply(event_type: str) -> None:
    """Rules read and write only the keys they announce (keys, then more_keys)."""
    aggregate_id, payload = EXAMPLES[event_type]
    ev = MemoryViews().propose(event_type, aggregate_id, payload)
    rule = rule_for(event_type)
    views: dict[str, Any] = {}
    load_for(rule, ev, views, lambda keys: views.update(dict.fromkeys(keys)))
    announced = set(views)
    rule.apply(views, ev)
    assert set(views) <= announced


def test_a_key_not_loaded_is_an_error_not_an_empty_view() -> None:
    """A store that skips more_keys fails loudly instead of overwriting stock with a guess."""
    book = MemoryViews()
    book.record("SaleRecorded", *EXAMPLES["SaleRecorded"])
    ev = book.propose("SaleVoided", "SALE1", {"reason": "returned"})
    rule = rule_for("SaleVoided")
    views = {k: book.view(k) for k in rule.keys(ev)}
    with pytest.raises(LookupError, match="more_keys"):
        rule.apply(views, ev)


def test_views_stay_small_after_a_thousand_deposits() -> None:
    """After 1,000 deposits to one account every view is under 1 KiB: no view grows with history."""
    book = with_members("M1")
    book.record("SavingsAccountOpened", *EXAMPLES["SavingsAccountOpened"])
    for i in range(1000):
        book.record("SavingsDeposited", "S1", {"amount": 10_000, "receipt_no": f"R{i}"})
    assert book.view("savings:S1") == {"member_id": "M1", "product": "SUKARELA", "balance": 10**7}
    assert len(book.saved) == 1003  # the member, its NIK, the account, 1,000 transactions
    assert max(len(codec.encode(book.view(k))) for k in book.saved) < 1024


def test_rules_are_plain_data() -> None:
    """Every rule is a Rule of four callables, so the store can treat them all alike."""
    for rule in RULES.values():
        assert isinstance(rule, Rule)
        assert all(callable(f) for f in (rule.keys, rule.more_keys, rule.check, rule.apply))
