"""The teller API: one function per edge event, building its payload and aggregate id.

Each function is a thin wrapper over ``recorder.record(type, payload, aggregate_id)``:
the schema check and the local rules run in the store, exactly as for
``kopsync edge record``. ``recorder`` is usually an :class:`~edge_agent.app.agent.EdgeAgent`
(the function then returns the sealed :class:`~sync_core.envelope.Envelope`); any object
with the same ``record`` method works, which is how the simulator batches commands.

Ids the caller leaves out are generated as ``<PREFIX>-<8 hex>`` (``M-1a2b3c4d`` for a
member). Dates left out are today's date. Money is integer rupiah; nothing here
converts or rounds it, so a float reaches the schema check and is refused there, naming
the field.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from schemas import REGISTRY
from schemas.fields import FieldProblem, check_value
from sync_core.errors import ValidationError
from sync_core.ids import check_id

R_co = TypeVar("R_co", covariant=True)

Line = tuple[str, int, int]
"""A sold line: (sku, qty, unit_price in rupiah)."""
Payment = tuple[str, int]
"""A payment: (method cash|khbs|member_credit, amount in rupiah)."""
Item = tuple[str, int]
"""Goods: (sku, qty)."""

MAIN = "main"


class Recorder(Protocol[R_co]):
    """Whatever records an edge event (an EdgeAgent, or a batch of drafts)."""

    def record(self, event_type: str, payload: dict[str, Any], aggregate_id: str) -> R_co: ...


def new_id(prefix: str) -> str:
    """A fresh id such as ``M-1a2b3c4d`` (prefix, '-', 8 random hex digits)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def today() -> str:
    return dt.date.today().isoformat()


def _id(value: str | None, prefix: str, what: str) -> str:
    return new_id(prefix) if value is None else check_id(value, what)


def _opt(**fields: Any) -> dict[str, Any]:
    """The fields that are given (optional payload fields are left out, not sent as null)."""
    return {k: v for k, v in fields.items() if v is not None}


# --- membership ----------------------------------------------------------------------


def register_member(
    recorder: Recorder[R_co],
    *,
    nik: str,
    kk_no: str,
    name: str,
    birth_date: str,
    desa_code: str,
    phone: str | None = None,
    member_id: str | None = None,
) -> R_co:
    payload = _opt(
        nik=nik, kk_no=kk_no, name=name, birth_date=birth_date, desa_code=desa_code, phone=phone
    )
    return recorder.record("MemberRegistered", payload, _id(member_id, "M", "member id"))


def approve_member(
    recorder: Recorder[R_co],
    member_id: str,
    *,
    approved_on: str | None = None,
    approved_by: str | None = None,
) -> R_co:
    payload = _opt(approved_on=approved_on or today(), approved_by=approved_by)
    return recorder.record("MembershipApproved", payload, check_id(member_id, "member id"))


def change_member_field(recorder: Recorder[R_co], member_id: str, field: str, value: str) -> R_co:
    """Change one profile field; the value must fit the field as registration defines it.

    The event's ``value`` is free text in the schema, so without this check a NIK of 15
    digits or a village code ``abc`` would be recorded as a correction.
    """
    kind = _REGISTRATION_FIELDS.get(field)
    if kind is not None:
        try:
            check_value(kind, value, "value")
        except FieldProblem as exc:
            raise ValidationError(
                "MemberProfileFieldChanged", "value", f"({field}) {exc.problem}"
            ) from None
    payload = {"field": field, "value": value}
    return recorder.record("MemberProfileFieldChanged", payload, check_id(member_id, "member id"))


_REGISTRATION_FIELDS = {f.name: f for f in REGISTRY.get("MemberRegistered").fields}


def resign_member(
    recorder: Recorder[R_co],
    member_id: str,
    *,
    resigned_on: str | None = None,
    reason: str | None = None,
) -> R_co:
    payload = _opt(resigned_on=resigned_on or today(), reason=reason)
    return recorder.record("MemberResigned", payload, check_id(member_id, "member id"))


# --- savings -------------------------------------------------------------------------


def open_savings(
    recorder: Recorder[R_co],
    *,
    member_id: str,
    product: str,
    opened_on: str | None = None,
    account_id: str | None = None,
) -> R_co:
    payload = {"member_id": member_id, "product": product, "opened_on": opened_on or today()}
    return recorder.record("SavingsAccountOpened", payload, _id(account_id, "S", "account id"))


def deposit(
    recorder: Recorder[R_co],
    account_id: str,
    amount: int,
    *,
    receipt_no: str,
    period: str | None = None,
) -> R_co:
    payload = _opt(amount=amount, receipt_no=receipt_no, period=period)
    return recorder.record("SavingsDeposited", payload, check_id(account_id, "account id"))


def withdraw(recorder: Recorder[R_co], account_id: str, amount: int, *, receipt_no: str) -> R_co:
    payload = {"amount": amount, "receipt_no": receipt_no}
    return recorder.record("SavingsWithdrawn", payload, check_id(account_id, "account id"))


def reverse_savings(
    recorder: Recorder[R_co],
    account_id: str,
    *,
    reversed_event_id: str,
    kind: str,
    amount: int,
    reason: str,
) -> R_co:
    """Reverse an earlier deposit (``kind`` DEPOSIT) or withdrawal (WITHDRAWAL)."""
    payload = {
        "reversed_event_id": reversed_event_id,
        "kind": kind,
        "amount": amount,
        "reason": reason,
    }
    return recorder.record(
        "SavingsTransactionReversed", payload, check_id(account_id, "account id")
    )


# --- loans ---------------------------------------------------------------------------


def apply_loan(
    recorder: Recorder[R_co],
    *,
    member_id: str,
    amount_requested: int,
    purpose: str,
    tenor_months: int,
    loan_id: str | None = None,
) -> R_co:
    payload = {
        "member_id": member_id,
        "amount_requested": amount_requested,
        "purpose": purpose,
        "tenor_months": tenor_months,
    }
    return recorder.record("LoanApplied", payload, _id(loan_id, "L", "loan id"))


def approve_loan(
    recorder: Recorder[R_co],
    loan_id: str,
    *,
    principal: int,
    rate_bp: int,
    method: str,
    tenor_months: int,
    first_due: str,
) -> R_co:
    payload = {
        "principal": principal,
        "rate_bp": rate_bp,
        "method": method,
        "tenor_months": tenor_months,
        "first_due": first_due,
    }
    return recorder.record("LoanApproved", payload, check_id(loan_id, "loan id"))


def disburse_loan(
    recorder: Recorder[R_co], loan_id: str, amount: int, *, disbursed_on: str | None = None
) -> R_co:
    payload = {"amount": amount, "disbursed_on": disbursed_on or today()}
    return recorder.record("LoanDisbursed", payload, check_id(loan_id, "loan id"))


def repay_loan(
    recorder: Recorder[R_co],
    loan_id: str,
    amount: int,
    *,
    receipt_no: str,
    paid_on: str | None = None,
) -> R_co:
    payload = {"amount": amount, "paid_on": paid_on or today(), "receipt_no": receipt_no}
    return recorder.record("LoanRepaymentReceived", payload, check_id(loan_id, "loan id"))


def reverse_repayment(
    recorder: Recorder[R_co], loan_id: str, *, reversed_event_id: str, amount: int, reason: str
) -> R_co:
    payload = {"reversed_event_id": reversed_event_id, "amount": amount, "reason": reason}
    return recorder.record("LoanRepaymentReversed", payload, check_id(loan_id, "loan id"))


# --- shop and stock ------------------------------------------------------------------
# StockItem events are keyed by sku: the item is the aggregate, the location a field.


def set_price(
    recorder: Recorder[R_co], sku: str, unit_price: int, *, effective_from: str | None = None
) -> R_co:
    payload = _opt(sku=sku, unit_price=unit_price, effective_from=effective_from)
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
    sale_id: str | None = None,
) -> R_co:
    """Record a sale; without ``payments`` it is paid in cash, in full."""
    paid = [("cash", sale_total(lines))] if payments is None else payments
    payload = _opt(
        lines=[{"sku": s, "qty": q, "unit_price": p} for s, q, p in lines],
        payments=[{"method": m, "amount": a} for m, a in paid],
        location=location,
        member_id=member_id,
        card_uid=card_uid,
        stock_override_reason=override_stock,
    )
    return recorder.record("SaleRecorded", payload, _id(sale_id, "SL", "sale id"))


def void_sale(recorder: Recorder[R_co], sale_id: str, *, reason: str) -> R_co:
    return recorder.record("SaleVoided", {"reason": reason}, check_id(sale_id, "sale id"))


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
    payload = _opt(
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


# --- aid (KHBS) ----------------------------------------------------------------------


def redeem_aid(
    recorder: Recorder[R_co],
    entitlement_id: str,
    *,
    card_uid: str,
    allowance_id: str,
    value: int,
    verification: str = "CHIP_PIN",
) -> R_co:
    payload = {
        "card_uid": card_uid,
        "allowance_id": allowance_id,
        "value": value,
        "verification": verification,
    }
    return recorder.record("AidRedeemed", payload, check_id(entitlement_id, "entitlement id"))


def void_redemption(
    recorder: Recorder[R_co], entitlement_id: str, *, redemption_event_id: str, reason: str
) -> R_co:
    payload = {"redemption_event_id": redemption_event_id, "reason": reason}
    return recorder.record(
        "AidRedemptionVoided", payload, check_id(entitlement_id, "entitlement id")
    )


# --- stimulus fund -------------------------------------------------------------------


def utilize_fund(
    recorder: Recorder[R_co],
    fund_id: str,
    amount: int,
    *,
    purpose: str,
    doc_no: str,
    used_on: str | None = None,
) -> R_co:
    payload = {
        "amount": amount,
        "purpose": purpose,
        "doc_no": doc_no,
        "used_on": used_on or today(),
    }
    return recorder.record("StimulusFundUtilized", payload, check_id(fund_id, "fund id"))


def repay_fund(
    recorder: Recorder[R_co],
    fund_id: str,
    amount: int,
    *,
    receipt_no: str,
    paid_on: str | None = None,
    member_id: str | None = None,
    loan_id: str | None = None,
) -> R_co:
    payload = _opt(
        amount=amount,
        paid_on=paid_on or today(),
        receipt_no=receipt_no,
        member_id=member_id,
        loan_id=loan_id,
    )
    return recorder.record("StimulusRevolvingRepaymentMade", payload, check_id(fund_id, "fund id"))


# --- logistics -----------------------------------------------------------------------


def _items(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [{"sku": s, "qty": q} for s, q in items]


def dispatch_shipment(
    recorder: Recorder[R_co],
    *,
    origin: str,
    destination: str,
    items: Sequence[Item],
    dispatched_on: str | None = None,
    override_stock: str | None = None,
    shipment_id: str | None = None,
) -> R_co:
    payload = _opt(
        origin=origin,
        destination=destination,
        lines=_items(items),
        dispatched_on=dispatched_on or today(),
        stock_override_reason=override_stock,
    )
    return recorder.record("ShipmentDispatched", payload, _id(shipment_id, "SH", "shipment id"))


def receive_shipment(
    recorder: Recorder[R_co],
    shipment_id: str,
    *,
    items: Sequence[Item],
    location: str = MAIN,
    received_on: str | None = None,
) -> R_co:
    payload = {"lines": _items(items), "location": location, "received_on": received_on or today()}
    return recorder.record("ShipmentReceived", payload, check_id(shipment_id, "shipment id"))


def record_discrepancy(
    recorder: Recorder[R_co],
    shipment_id: str,
    *,
    sku: str,
    expected_qty: int,
    received_qty: int,
    reason: str,
) -> R_co:
    payload = {
        "sku": sku,
        "expected_qty": expected_qty,
        "received_qty": received_qty,
        "reason": reason,
    }
    return recorder.record(
        "ShipmentDiscrepancyRecorded", payload, check_id(shipment_id, "shipment id")
    )


COMMANDS: dict[str, str] = {
    "MemberRegistered": "register_member",
    "MembershipApproved": "approve_member",
    "MemberProfileFieldChanged": "change_member_field",
    "MemberResigned": "resign_member",
    "SavingsAccountOpened": "open_savings",
    "SavingsDeposited": "deposit",
    "SavingsWithdrawn": "withdraw",
    "SavingsTransactionReversed": "reverse_savings",
    "LoanApplied": "apply_loan",
    "LoanApproved": "approve_loan",
    "LoanDisbursed": "disburse_loan",
    "LoanRepaymentReceived": "repay_loan",
    "LoanRepaymentReversed": "reverse_repayment",
    "PriceSet": "set_price",
    "SaleRecorded": "record_sale",
    "SaleVoided": "void_sale",
    "StockReceived": "receive_stock",
    "StockAdjusted": "adjust_stock",
    "StockCounted": "count_stock",
    "AidRedeemed": "redeem_aid",
    "AidRedemptionVoided": "void_redemption",
    "StimulusFundUtilized": "utilize_fund",
    "StimulusRevolvingRepaymentMade": "repay_fund",
    "ShipmentDispatched": "dispatch_shipment",
    "ShipmentReceived": "receive_shipment",
    "ShipmentDiscrepancyRecorded": "record_discrepancy",
}
"""The teller function of every edge event type (a test checks it covers the catalog)."""
