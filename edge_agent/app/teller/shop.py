"""Shop and stock: prices, sales and their voids, receipts, adjustments, counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from edge_agent.app.teller.base import (
    MAIN,
    Line,
    Payment,
    R_co,
    Recorder,
    given_id,
    present,
    today,
)
from sync_core.ids import check_id

# StockItem events are keyed by sku: the item is the aggregate, the location a field.


def set_price(
    recorder: Recorder[R_co], sku: str, unit_price: int, *, effective_from: str | None = None
) -> R_co:
    payload = present(sku=sku, unit_price=unit_price, effective_from=effective_from)
    return recorder.record("PriceSet", payload, check_id(sku, "sku"))


def sale_total(lines: Iterable[Line]) -> int:
    return sum(qty * price for _, qty, price in lines)


def record_sale(
    recorder: Recorder[R_co],
    lines: Sequence[Line],
    payments: Sequence[Payment] | None = None,
    *,
    location: str | None = None,
    member_id: str | None = None,
    card_uid: str | None = None,
    override_stock: str | None = None,
    override_price: str | None = None,
    sale_id: str | None = None,
) -> R_co:
    """Record a sale; without ``payments`` it is paid in cash, in full."""
    paid = [("cash", sale_total(lines))] if payments is None else payments
    payload = present(
        lines=[{"sku": s, "qty": q, "unit_price": p} for s, q, p in lines],
        payments=[{"method": m, "amount": a} for m, a in paid],
        location=location,
        member_id=member_id,
        card_uid=card_uid,
        stock_override_reason=override_stock,
        price_override_reason=override_price,
    )
    return recorder.record("SaleRecorded", payload, given_id(sale_id, "SL", "sale id"))


def void_sale(recorder: Recorder[R_co], sale_id: str, *, reason: str) -> R_co:
    return recorder.record("SaleVoided", {"reason": reason}, check_id(sale_id, "sale id"))


def repay_member_credit(
    recorder: Recorder[R_co],
    member_id: str,
    amount: int,
    *,
    receipt_no: str,
    paid_on: str | None = None,
) -> R_co:
    """A member pays back what she bought on member credit, at most what she owes."""
    payload = {"amount": amount, "paid_on": paid_on or today(recorder), "receipt_no": receipt_no}
    return recorder.record("MemberCreditRepaid", payload, check_id(member_id, "member id"))


def reverse_member_credit_repayment(
    recorder: Recorder[R_co], member_id: str, *, reversed_event_id: str, amount: int, reason: str
) -> R_co:
    """Reverse a member-credit repayment recorded by mistake: she owes it again."""
    payload = {"reversed_event_id": reversed_event_id, "amount": amount, "reason": reason}
    return recorder.record(
        "MemberCreditRepaymentReversed", payload, check_id(member_id, "member id")
    )


def receive_stock(
    recorder: Recorder[R_co],
    sku: str,
    qty: int,
    *,
    supplier: str,
    doc_no: str,
    location: str = MAIN,
    unit_cost: int | None = None,
) -> R_co:
    payload = present(
        sku=sku, qty=qty, location=location, supplier=supplier, doc_no=doc_no, unit_cost=unit_cost
    )
    return recorder.record("StockReceived", payload, check_id(sku, "sku"))


def adjust_stock(
    recorder: Recorder[R_co], sku: str, delta: int, *, reason: str, location: str = MAIN
) -> R_co:
    payload = {"sku": sku, "location": location, "delta": delta, "reason": reason}
    return recorder.record("StockAdjusted", payload, check_id(sku, "sku"))


def count_stock(
    recorder: Recorder[R_co], sku: str, counted_qty: int, *, location: str = MAIN
) -> R_co:
    payload = {"sku": sku, "location": location, "counted_qty": counted_qty}
    return recorder.record("StockCounted", payload, check_id(sku, "sku"))
