"""Loans: apply, approve, disburse, repay, reverse a repayment."""

from __future__ import annotations

import datetime as dt

from edge_agent.app.teller.base import R_co, Recorder, given_id, today
from sync_core.ids import check_id


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
    return recorder.record("LoanApplied", payload, given_id(loan_id, "L", "loan id"))


def a_month_after(day: str) -> str:
    """The same day of the next month, at most the 28th so every month has it."""
    d = dt.date.fromisoformat(day)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return d.replace(year=year, month=month, day=min(d.day, 28)).isoformat()


def approve_loan(
    recorder: Recorder[R_co],
    loan_id: str,
    *,
    principal: int,
    rate_bp: int,
    method: str,
    tenor_months: int,
    first_due: str | None = None,
) -> R_co:
    """``first_due`` defaults to a month after today in the cooperative's zone."""
    payload = {
        "principal": principal,
        "rate_bp": rate_bp,
        "method": method,
        "tenor_months": tenor_months,
        "first_due": first_due or a_month_after(today(recorder)),
    }
    return recorder.record("LoanApproved", payload, check_id(loan_id, "loan id"))


def disburse_loan(
    recorder: Recorder[R_co], loan_id: str, amount: int, *, disbursed_on: str | None = None
) -> R_co:
    payload = {"amount": amount, "disbursed_on": disbursed_on or today(recorder)}
    return recorder.record("LoanDisbursed", payload, check_id(loan_id, "loan id"))


def repay_loan(
    recorder: Recorder[R_co],
    loan_id: str,
    amount: int,
    *,
    receipt_no: str,
    paid_on: str | None = None,
) -> R_co:
    payload = {"amount": amount, "paid_on": paid_on or today(recorder), "receipt_no": receipt_no}
    return recorder.record("LoanRepaymentReceived", payload, check_id(loan_id, "loan id"))


def reverse_repayment(
    recorder: Recorder[R_co], loan_id: str, *, reversed_event_id: str, amount: int, reason: str
) -> R_co:
    payload = {"reversed_event_id": reversed_event_id, "amount": amount, "reason": reason}
    return recorder.record("LoanRepaymentReversed", payload, check_id(loan_id, "loan id"))
