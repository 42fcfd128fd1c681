"""Stimulus fund totals (never refused), shipments and devices."""

from __future__ import annotations

from typing import Any

from edge_agent.domain.memory import MemoryViews


def receive_stock(book: MemoryViews, sku: str, qty: int, location: str) -> None:
    payload = {"sku": sku, "qty": qty, "location": location, "supplier": "Bulog", "doc_no": "D1"}
    book.record("StockReceived", sku, payload)


def on_hand(book: MemoryViews, sku: str, location: str) -> int:
    view = book.view(f"stock:{location}:{sku}")
    return 0 if view is None else int(view["on_hand"])


def dispatch(qty: int, **extra: Any) -> dict[str, Any]:
    return {
        "origin": "gudang",
        "destination": "6472021006",
        "lines": [{"sku": "BERAS5", "qty": qty}],
        "dispatched_on": "2026-02-01",
        **extra,
    }


def test_stimulus_fund_keeps_totals() -> None:
    """Allocation, tranche, utilisation and revolving repayment add to their own totals."""
    book = MemoryViews()
    book.receive(
        "StimulusFundAllocated",
        "F1",
        {"amount": 250_000_000, "program_year": 2026, "source": "APBD"},
    )
    book.receive(
        "StimulusTrancheDisbursed",
        "F1",
        {"amount": 100_000_000, "tranche_no": 1, "disbursed_on": "2026-02-01"},
    )
    book.record(
        "StimulusFundUtilized",
        "F1",
        {"amount": 30_000_000, "purpose": "STOCK", "doc_no": "D1", "used_on": "2026-02-03"},
    )
    book.record(
        "StimulusRevolvingRepaymentMade",
        "F1",
        {"amount": 5_000_000, "paid_on": "2026-03-01", "receipt_no": "R1"},
    )
    assert book.view("fund:F1") == {
        "allocated": 250_000_000,
        "disbursed": 100_000_000,
        "utilized": 30_000_000,
        "repaid": 5_000_000,
    }


def test_stimulus_events_are_never_refused() -> None:
    """Utilising a fund this device has not heard of, or beyond what it received, is recorded."""
    book = MemoryViews()
    book.record(
        "StimulusFundUtilized",
        "F9",
        {"amount": 1_000, "purpose": "OTHER", "doc_no": "D", "used_on": "2026-02-03"},
    )
    book.record(
        "StimulusRevolvingRepaymentMade",
        "F9",
        {"amount": 500, "paid_on": "2026-03-01", "receipt_no": "R"},
    )
    assert book.view("fund:F9") == {
        "allocated": 0,
        "disbursed": 0,
        "utilized": 1_000,
        "repaid": 500,
    }


def test_dispatch_takes_stock_at_origin() -> None:
    """A dispatched shipment takes its lines from stock at its origin."""
    book = MemoryViews()
    receive_stock(book, "BERAS5", 10, "gudang")
    book.record("ShipmentDispatched", "SH1", dispatch(4))
    assert on_hand(book, "BERAS5", "gudang") == 6
    assert book.view("shipment:SH1") == {
        "dispatched": True,
        "origin": "gudang",
        "destination": "6472021006",
        "receipts": 0,
        "discrepancies": 0,
    }


def test_dispatch_twice_is_refused() -> None:
    """A shipment id is dispatched once from this device."""
    book = MemoryViews()
    receive_stock(book, "BERAS5", 10, "gudang")
    book.record("ShipmentDispatched", "SH1", dispatch(1))
    assert book.refusal("ShipmentDispatched", "SH1", dispatch(1)).rule == "duplicate_shipment"


def test_dispatch_below_zero_needs_an_override() -> None:
    """Shipping more than is on hand is refused unless a stock override reason is given."""
    book = MemoryViews()
    receive_stock(book, "BERAS5", 1, "gudang")
    refusal = book.refusal("ShipmentDispatched", "SH1", dispatch(2))
    assert refusal.rule == "negative_stock" and "--override-stock REASON" in str(refusal)
    book.record("ShipmentDispatched", "SH1", dispatch(2, stock_override_reason="count pending"))
    assert on_hand(book, "BERAS5", "gudang") == -1


def test_receipt_adds_stock_and_discrepancy_is_recorded() -> None:
    """A received shipment adds its lines at the location; a discrepancy is never refused."""
    book = MemoryViews()
    lines = [{"sku": "BERAS5", "qty": 3}, {"sku": "GULA1", "qty": 1}]
    book.record(
        "ShipmentReceived", "SH1", {"lines": lines, "location": "main", "received_on": "2026-02-02"}
    )
    assert on_hand(book, "BERAS5", "main") == 3 and on_hand(book, "GULA1", "main") == 1
    discrepancy = {"sku": "BERAS5", "expected_qty": 4, "received_qty": 3, "reason": "torn bag"}
    book.record("ShipmentDiscrepancyRecorded", "SH1", discrepancy)
    shipment = book.view("shipment:SH1")
    assert shipment is not None and (shipment["receipts"], shipment["discrepancies"]) == (1, 1)


def test_device_registry_is_a_view_and_resolutions_keep_none() -> None:
    """A registration keeps the sibling's key, a retirement marks it for good; a resolution
    changes no view on the edge."""
    book = MemoryViews()
    registered = {"coop_id": "6472021005-KMP", "public_key": b"k" * 32}
    book.receive("DeviceRegistered", "dev-2", registered)
    book.receive("DeviceRetired", "dev-2", {"reason": "stolen"})
    book.receive("DeviceRegistered", "dev-2", registered)
    assert book.view("device:dev-2") == {
        "coop_id": "6472021005-KMP",
        "public_key": b"k" * 32,
        "retired": True,
        "retired_after": None,  # the fact does not say how far its history goes
    }
    before = dict(book.saved)
    book.receive("ConflictResolved", "C1", {"decision": "KEEP_FIRST", "note": "checked"})
    assert book.saved == before
