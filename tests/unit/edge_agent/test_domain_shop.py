"""Shop and stock rules: prices, sales, voids, stock movements, quotas, and stock conservation."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from edge_agent.domain.memory import MemoryViews
from sync_core.errors import RuleViolation


def line(sku: str, qty: int, unit_price: int = 10_000) -> dict[str, Any]:
    return {"sku": sku, "qty": qty, "unit_price": unit_price}


def sale(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    total = sum(ln["qty"] * ln["unit_price"] for ln in lines)
    return {"lines": list(lines), "payments": [{"method": "cash", "amount": total}], **extra}


def receive(book: MemoryViews, sku: str, qty: int, location: str = "main") -> None:
    payload = {"sku": sku, "qty": qty, "location": location, "supplier": "Bulog", "doc_no": "D1"}
    book.record("StockReceived", sku, payload)


def on_hand(book: MemoryViews, sku: str, location: str = "main") -> int:
    view = book.view(f"stock:{location}:{sku}")
    return 0 if view is None else int(view["on_hand"])


def stocked(**skus: int) -> MemoryViews:
    book = MemoryViews()
    for sku, qty in skus.items():
        receive(book, sku, qty)
    return book


def test_price_set_records_the_price_per_sku() -> None:
    """PriceSet keeps the current price of its sku."""
    book = MemoryViews()
    book.record("PriceSet", "any-id", {"sku": "GULA1", "unit_price": 18_000})
    book.record("PriceSet", "any-id", {"sku": "GULA1", "unit_price": 19_000})
    assert book.view("price:GULA1") == {"unit_price": 19_000, "effective_from": None}


def test_sale_takes_stock_and_keeps_its_lines() -> None:
    """A sale takes each line from stock at its location and remembers lines and location."""
    book = stocked(BERAS5=10, GULA1=5)
    book.record("SaleRecorded", "SALE1", sale(line("BERAS5", 2, 75_000), line("GULA1", 1, 18_000)))
    assert on_hand(book, "BERAS5") == 8 and on_hand(book, "GULA1") == 4
    assert book.view("sale:SALE1") == {
        "location": "main",
        "lines": [{"sku": "BERAS5", "qty": 2}, {"sku": "GULA1", "qty": 1}],
        "total": 168_000,
        "voided_by": None,
        "card_uid": None,
        "khbs": 0,
    }


def test_sale_v1_is_upcast_and_recorded() -> None:
    """A SaleRecorded of schema version 1 (one payment) is recorded like a v2 sale."""
    book = stocked(BERAS5=1)
    payload = {"lines": [line("BERAS5", 1)], "payment_method": "cash", "amount": 10_000}
    book.record("SaleRecorded", "SALE1", payload, version=1)
    assert on_hand(book, "BERAS5") == 0


def test_duplicate_sale_is_refused() -> None:
    """A sale id already recorded on this device cannot be recorded again."""
    book = stocked(BERAS5=10)
    book.record("SaleRecorded", "SALE1", sale(line("BERAS5", 1)))
    assert book.refusal("SaleRecorded", "SALE1", sale(line("BERAS5", 1))).rule == "duplicate_sale"


def test_payments_must_add_up_to_the_lines() -> None:
    """Payments that differ from Σ qty × unit price are refused, showing both totals."""
    book = stocked(BERAS5=10)
    payload = sale(line("BERAS5", 3, 75_000))
    payload["payments"] = [{"method": "cash", "amount": 200_000}]
    refusal = book.refusal("SaleRecorded", "SALE1", payload)
    assert refusal.rule == "payment_mismatch"
    assert "Rp225.000" in str(refusal) and "Rp200.000" in str(refusal)


def test_sale_below_zero_is_refused_with_how_to_override() -> None:
    """Selling more than is on hand is refused, naming sku, on-hand, request and the override."""
    book = stocked(BERAS5=3)
    refusal = book.refusal("SaleRecorded", "SALE1", sale(line("BERAS5", 2), line("BERAS5", 2)))
    assert refusal.rule == "negative_stock"
    message = str(refusal)
    assert "BERAS5" in message and "on hand 3" in message and "requested 4" in message
    assert "--override-stock REASON" in message


def test_sale_at_another_location_uses_that_stock() -> None:
    """A sale with a location takes from that location, not from main."""
    book = stocked(BERAS5=3)
    receive(book, "BERAS5", 1, location="kios2")
    refusal = book.refusal("SaleRecorded", "SALE1", sale(line("BERAS5", 2), location="kios2"))
    assert refusal.rule == "negative_stock"
    book.record("SaleRecorded", "SALE1", sale(line("BERAS5", 1), location="kios2"))
    assert on_hand(book, "BERAS5", "kios2") == 0 and on_hand(book, "BERAS5") == 3


def test_override_reason_lets_stock_go_negative() -> None:
    """With a stock override reason the sale is recorded and the on-hand goes below zero."""
    book = stocked(BERAS5=1)
    book.record(
        "SaleRecorded", "SALE1", sale(line("BERAS5", 3), stock_override_reason="truck late")
    )
    assert on_hand(book, "BERAS5") == -2


def test_khbs_payment_with_a_blocked_card_is_refused() -> None:
    """A KHBS card payment with a card blocked over the downlink is refused; cash is not."""
    book = stocked(BERAS5=10)
    book.receive("CardIssued", "CARD1", {"beneficiary_id": "B1"})
    grant = {"beneficiary_id": "B1", "card_uid": "CARD1", "program": "BLT", "cycle": "2026-01",
             "value": 300_000}  # fmt: skip
    book.receive("EntitlementGranted", "E1", grant)
    book.record("SaleRecorded", "SALE0", {**_khbs(sale(line("BERAS5", 1))), "card_uid": "CARD1"})
    book.receive("CardBlocked", "CARD1", {"reason": "reported lost"})
    refusal = book.refusal(
        "SaleRecorded", "SALE1", {**_khbs(sale(line("BERAS5", 1))), "card_uid": "CARD1"}
    )
    assert refusal.rule == "card_blocked" and "reported lost" in str(refusal)
    book.record("SaleRecorded", "SALE2", sale(line("BERAS5", 1), card_uid="CARD1"))


def test_a_khbs_payment_names_its_card_and_stays_within_its_value() -> None:
    """Without a card, or beyond what the card has left here, a KHBS payment is refused."""
    book = stocked(BERAS5=10)
    assert book.refusal("SaleRecorded", "S1", _khbs(sale(line("BERAS5", 1)))).rule == (
        "card_missing"
    )
    refusal = book.refusal("SaleRecorded", "S1", {**_khbs(sale(line("BERAS5", 1))),
                                                  "card_uid": "CARD9"})  # fmt: skip
    assert refusal.rule == "card_value_exhausted" and "Rp0 left" in str(refusal)


def _khbs(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "payments": [{**p, "method": "khbs"} for p in payload["payments"]]}


def test_void_returns_the_stock_where_it_was_taken() -> None:
    """Voiding a sale puts its goods back at the sale's location and marks it voided."""
    book = stocked(BERAS5=5)
    receive(book, "GULA1", 2, location="kios2")
    book.record("SaleRecorded", "SALE1", sale(line("GULA1", 2), location="kios2"))
    v = book.record("SaleVoided", "SALE1", {"reason": "returned"})
    assert on_hand(book, "GULA1", "kios2") == 2
    assert book["sale:SALE1"]["voided_by"] == v.event_id


def test_void_of_unknown_or_voided_sale_is_refused() -> None:
    """Only a recorded, not yet voided sale can be voided."""
    book = stocked(BERAS5=5)
    assert book.refusal("SaleVoided", "SALE1", {"reason": "x"}).rule == "unknown_sale"
    book.record("SaleRecorded", "SALE1", sale(line("BERAS5", 1)))
    book.record("SaleVoided", "SALE1", {"reason": "returned"})
    assert book.refusal("SaleVoided", "SALE1", {"reason": "x"}).rule == "already_voided"
    assert on_hand(book, "BERAS5") == 5


def test_stock_received_adjusted_and_counted() -> None:
    """Receipts add, adjustments add their delta even below zero, counts set the on-hand."""
    book = stocked(MINYAK=4)
    adjust = {"sku": "MINYAK", "location": "main", "delta": -6, "reason": "leaking bottles"}
    book.record("StockAdjusted", "MINYAK", adjust)
    assert on_hand(book, "MINYAK") == -2
    book.record("StockCounted", "MINYAK", {"sku": "MINYAK", "location": "main", "counted_qty": 9})
    assert on_hand(book, "MINYAK") == 9


def test_quota_is_recorded_without_touching_stock() -> None:
    """QuotaAllocated adds to the quota per program, sku and period; stock is unchanged."""
    book = MemoryViews()
    quota = {"program": "LPG_3KG", "sku": "LPG3", "qty": 300, "period": "2026-01"}
    book.receive("QuotaAllocated", "q1", quota)
    book.receive("QuotaAllocated", "q2", {**quota, "qty": 50})
    assert book.view("quota:LPG_3KG:LPG3:2026-01") == {"qty": 350}
    assert book.view("stock:main:LPG3") is None


SKUS = st.sampled_from(["A", "B"])
LOCATIONS = st.sampled_from(["main", "gudang"])
LINES = st.lists(st.tuples(SKUS, st.integers(1, 5)), min_size=1, max_size=3)
Lines = list[tuple[str, int]]


class StockMachine(RuleBasedStateMachine):
    """Every stock movement a device can record, against a model of accepted movements."""

    def __init__(self) -> None:
        super().__init__()
        self.book = MemoryViews()
        self.expected: dict[tuple[str, str], int] = {}
        self.sales: list[tuple[str, Lines, str]] = []
        self.voided: set[str] = set()
        self.n = 0

    def _try(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> bool:
        try:
            self.book.record(event_type, aggregate_id, payload)
        except RuleViolation as refusal:
            assert refusal.rule in ("negative_stock", "already_voided")
            return False
        return True

    def _move(self, lines: Lines, location: str, sign: int) -> None:
        for sku, qty in lines:
            key = (location, sku)
            self.expected[key] = self.expected.get(key, 0) + sign * qty

    def _new_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    @rule(sku=SKUS, loc=LOCATIONS, qty=st.integers(1, 10))
    def receive(self, sku: str, loc: str, qty: int) -> None:
        receive(self.book, sku, qty, loc)
        self._move([(sku, qty)], loc, +1)

    @rule(sku=SKUS, loc=LOCATIONS, delta=st.integers(-5, 5).filter(bool))
    def adjust(self, sku: str, loc: str, delta: int) -> None:
        payload = {"sku": sku, "location": loc, "delta": delta, "reason": "r"}
        self.book.record("StockAdjusted", sku, payload)
        self._move([(sku, delta)], loc, +1)

    @rule(sku=SKUS, loc=LOCATIONS, qty=st.integers(0, 10))
    def count(self, sku: str, loc: str, qty: int) -> None:
        self.book.record("StockCounted", sku, {"sku": sku, "location": loc, "counted_qty": qty})
        self.expected[(loc, sku)] = qty

    @rule(lines=LINES, loc=LOCATIONS, override=st.booleans())
    def sell(self, lines: Lines, loc: str, override: bool) -> None:
        sale_id = self._new_id("S")
        extra = {"stock_override_reason": "truck late"} if override else {}
        payload = sale(*(line(s, q) for s, q in lines), location=loc, **extra)
        if self._try("SaleRecorded", sale_id, payload):
            self._move(lines, loc, -1)
            self.sales.append((sale_id, lines, loc))
            assert override or all(self.expected[(loc, s)] >= 0 for s, _ in lines)

    @precondition(lambda self: bool(self.sales))
    @rule(pick=st.integers(0, 100))
    def void(self, pick: int) -> None:
        sale_id, lines, loc = self.sales[pick % len(self.sales)]
        if self._try("SaleVoided", sale_id, {"reason": "returned"}):
            assert sale_id not in self.voided
            self.voided.add(sale_id)
            self._move(lines, loc, +1)

    @rule(lines=LINES, loc=LOCATIONS, override=st.booleans())
    def dispatch(self, lines: Lines, loc: str, override: bool) -> None:
        payload: dict[str, Any] = {
            "origin": loc,
            "destination": "6472021006",
            "lines": [{"sku": s, "qty": q} for s, q in lines],
            "dispatched_on": "2026-02-01",
        }
        if override:
            payload["stock_override_reason"] = "truck late"
        if self._try("ShipmentDispatched", self._new_id("SH"), payload):
            self._move(lines, loc, -1)

    @rule(lines=LINES, loc=LOCATIONS)
    def arrive(self, lines: Lines, loc: str) -> None:
        items = [{"sku": s, "qty": q} for s, q in lines]
        payload = {"lines": items, "location": loc, "received_on": "2026-02-02"}
        self.book.record("ShipmentReceived", self._new_id("SH"), payload)
        self._move(lines, loc, +1)

    @invariant()
    def on_hand_is_the_sum_of_accepted_movements(self) -> None:
        for (loc, sku), qty in self.expected.items():
            assert on_hand(self.book, sku, loc) == qty


StockMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30)
test_on_hand_equals_the_sum_of_accepted_movements = StockMachine.TestCase
test_on_hand_equals_the_sum_of_accepted_movements.__doc__ = (
    "For any run of stock operations, each on-hand equals the sum of accepted movements."
)
