"""Savings accounts: open, deposit, withdraw, reverse."""

from __future__ import annotations

from edge_agent.app.teller.base import R_co, Recorder, given_id, present, today
from sync_core.ids import check_id


def open_savings(
    recorder: Recorder[R_co],
    *,
    member_id: str,
    product: str,
    opened_on: str | None = None,
    account_id: str | None = None,
) -> R_co:
    payload = {
        "member_id": member_id,
        "product": product,
        "opened_on": opened_on or today(recorder),
    }
    return recorder.record("SavingsAccountOpened", payload, given_id(account_id, "S", "account id"))


def deposit(
    recorder: Recorder[R_co],
    account_id: str,
    amount: int,
    *,
    receipt_no: str,
    period: str | None = None,
) -> R_co:
    payload = present(amount=amount, receipt_no=receipt_no, period=period)
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
