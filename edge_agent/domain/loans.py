"""Loans: application, approval, disbursement, repayment, and write-off by the province.

Rules:
- A loan id is applied for once (``duplicate_loan``), by a member registered on this
  device (``unknown_member``) who has not resigned (``member_resigned``); every later
  event needs the loan known on this device (``unknown_loan``): no repayment on an
  unknown loan. A resigned member is not paid out either (``member_resigned``).
- States go APPLIED → APPROVED → DISBURSED. Approval needs an applied loan
  (``loan_not_applied``); disbursement needs an approved loan (``loan_not_approved``),
  possibly in several parts, and never more than the approved principal minus what was
  already paid out (``over_disbursement``).
- A repayment is accepted in any state, WRITTEN_OFF included: after a write-off it is a
  recovery and is counted as such too.
- A repayment reversal names an earlier repayment of this loan with the same amount
  (``unknown_repayment``), not reversed before (``already_reversed``).
- ``LoanWrittenOff`` (central) sets the state WRITTEN_OFF and records the amount.

Views:
- ``loan:{loan_id}`` = ``{member_id, state, requested, principal, disbursed, repaid,
  recovered, written_off, terms, moves, n}`` (money in rupiah; principal 0 until approved);
  ``terms`` are the approved ``{rate_bp, method, tenor_months, first_due}``, ``moves`` the
  money movements ``[date, n, kind D|R|W, amount, event_id]`` (a reversed repayment
  leaves the list; ``n`` numbers them in the order recorded here), bounded by the tenor;
- ``tx:{event_id}`` = ``{aggregate, kind: REPAYMENT|RECOVERY, amount, reversed_by}``.

:func:`statement` turns a loan view into the member's statement on a date (schedule,
what was paid of each instalment, arrears) with the same book the central keeps
(:mod:`sync_core.loanbook`), so the counter shows offline what the province will show.
"""

from __future__ import annotations

from typing import Any

from edge_agent.domain.base import Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import add_tx, get_or_add, loaded, rupiah, tx_key
from edge_agent.domain.membership import RESIGNED, known_member, member_key
from sync_core import loanbook, loanschedule
from sync_core.errors import RuleViolation

APPLIED = "APPLIED"
APPROVED = "APPROVED"
DISBURSED = "DISBURSED"
WRITTEN_OFF = "WRITTEN_OFF"
REPAYMENT = "REPAYMENT"
RECOVERY = "RECOVERY"


def loan_key(loan_id: str) -> str:
    return f"loan:{loan_id}"


def _loan(views: Views, ev: Proposed) -> View:
    """The loan view; created empty if a fact arrives for a loan never applied for here."""
    default: View = {
        "member_id": None,
        "state": APPLIED,
        "requested": 0,
        "principal": 0,
        "disbursed": 0,
        "repaid": 0,
        "recovered": 0,
        "written_off": 0,
        "terms": None,
        "moves": [],
        "n": 0,
    }
    return get_or_add(views, loan_key(ev.aggregate_id), default)


def _move(loan: View, ev: Proposed, kind: str, date_field: str) -> None:
    """Remember a money movement for the statement (views made before it had none)."""
    n = loan.get("n", 0) + 1
    loan["n"] = n
    entry = [ev.payload[date_field], n, kind, ev.payload["amount"], ev.event_id]
    loan["moves"] = [*loan.get("moves", []), entry]


def _known_loan(views: Views, ev: Proposed) -> View:
    loan = loaded(views, loan_key(ev.aggregate_id))
    if loan is None:
        raise RuleViolation(
            "unknown_loan",
            f"loan {ev.aggregate_id} is not known on this device; check the loan number "
            "(a loan must be applied for on this device before anything else is recorded)",
        )
    return loan


def _loan_keys(ev: Proposed) -> list[str]:
    return [loan_key(ev.aggregate_id)]


# --- LoanApplied ---------------------------------------------------------------------


def _applied_keys(ev: Proposed) -> list[str]:
    return [loan_key(ev.aggregate_id), member_key(ev.payload["member_id"])]


def _check_applied(views: Views, ev: Proposed) -> None:
    if loaded(views, loan_key(ev.aggregate_id)) is not None:
        raise RuleViolation(
            "duplicate_loan",
            f"loan {ev.aggregate_id} already exists on this device; use a new loan number",
        )
    known_member(views, ev.payload["member_id"])


def _apply_applied(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["member_id"] = ev.payload["member_id"]
    loan["requested"] = ev.payload["amount_requested"]


# --- LoanApproved, LoanDisbursed -----------------------------------------------------


def _check_approved(views: Views, ev: Proposed) -> None:
    loan = _known_loan(views, ev)
    if loan["state"] != APPLIED:
        raise RuleViolation(
            "loan_not_applied",
            f"loan {ev.aggregate_id} is {loan['state']}; only an APPLIED loan can be approved",
        )


def _apply_approved(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["state"] = APPROVED
    loan["principal"] = ev.payload["principal"]
    p = ev.payload
    loan["terms"] = {k: p[k] for k in ("rate_bp", "method", "tenor_months", "first_due")}


def _borrower_keys(views: Views, ev: Proposed) -> list[str]:
    loan = views.get(loan_key(ev.aggregate_id))
    return [] if loan is None or not loan["member_id"] else [member_key(loan["member_id"])]


def _check_disbursed(views: Views, ev: Proposed) -> None:
    loan = _known_loan(views, ev)
    borrower = loaded(views, member_key(loan["member_id"])) if loan["member_id"] else None
    if borrower is not None and borrower["status"] == RESIGNED:
        raise RuleViolation(
            "member_resigned",
            f"member {loan['member_id']} has resigned; loan {ev.aggregate_id} is not paid out "
            "to a former member",
        )
    if loan["state"] not in (APPROVED, DISBURSED):
        raise RuleViolation(
            "loan_not_approved",
            f"loan {ev.aggregate_id} is {loan['state']}; it must be approved before it is paid out",
        )
    left: int = loan["principal"] - loan["disbursed"]
    amount: int = ev.payload["amount"]
    if amount > left:
        raise RuleViolation(
            "over_disbursement",
            f"paying out {rupiah(amount)} would exceed the approved principal of "
            f"{rupiah(loan['principal'])} ({rupiah(loan['disbursed'])} already paid out); "
            f"at most {rupiah(left)} remains",
        )


def _apply_disbursed(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["disbursed"] += ev.payload["amount"]
    _move(loan, ev, loanbook.DISBURSE, "disbursed_on")
    if loan["state"] != WRITTEN_OFF:
        loan["state"] = DISBURSED


# --- LoanRepaymentReceived, LoanRepaymentReversed ------------------------------------


def _repayment_keys(ev: Proposed) -> list[str]:
    return [loan_key(ev.aggregate_id), tx_key(ev.event_id)]


def _check_repaid(views: Views, ev: Proposed) -> None:
    _known_loan(views, ev)


def _apply_repaid(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["repaid"] += ev.payload["amount"]
    recovery = loan["state"] == WRITTEN_OFF
    if recovery:
        loan["recovered"] += ev.payload["amount"]
    _move(loan, ev, loanbook.REPAY, "paid_on")
    add_tx(views, ev, loan_key(ev.aggregate_id), RECOVERY if recovery else REPAYMENT)


def _reversal_keys(ev: Proposed) -> list[str]:
    return [loan_key(ev.aggregate_id), tx_key(ev.payload["reversed_event_id"])]


def _check_repayment_reversed(views: Views, ev: Proposed) -> None:
    _known_loan(views, ev)
    target: str = ev.payload["reversed_event_id"]
    amount: int = ev.payload["amount"]
    tx = loaded(views, tx_key(target))
    if tx is None or tx["aggregate"] != loan_key(ev.aggregate_id):
        raise RuleViolation(
            "unknown_repayment",
            f"no repayment {target} of loan {ev.aggregate_id} on this device; "
            "copy the event id from the loan's history",
        )
    if tx["amount"] != amount:
        raise RuleViolation(
            "unknown_repayment",
            f"repayment {target} was {rupiah(tx['amount'])}, not {rupiah(amount)}; "
            "reverse it with its own amount",
        )
    if tx["reversed_by"] is not None:
        raise RuleViolation(
            "already_reversed",
            f"repayment {target} was already reversed by event {tx['reversed_by']}",
        )


def _apply_repayment_reversed(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["repaid"] -= ev.payload["amount"]
    target = ev.payload["reversed_event_id"]
    loan["moves"] = [m for m in loan.get("moves", []) if m[4] != target]
    tx = loaded(views, tx_key(target))
    if tx is not None:
        if tx["kind"] == RECOVERY:
            loan["recovered"] -= ev.payload["amount"]
        tx["reversed_by"] = ev.event_id


# --- LoanWrittenOff (central) --------------------------------------------------------


def _apply_written_off(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["state"] = WRITTEN_OFF
    loan["written_off"] = ev.payload["amount"]
    _move(loan, ev, loanbook.WRITE_OFF, "written_off_on")


# --- the member's statement ----------------------------------------------------------


def statement(view: View, as_of: str) -> dict[str, Any]:
    """A loan's statement on business date ``as_of``: schedule, payments, arrears (pure)."""
    t = view.get("terms")
    terms = None if t is None else loanbook.Terms(
        t["rate_bp"], t["method"], t["tenor_months"], t["first_due"]
    )  # fmt: skip
    moves = [loanbook.Movement(on, n, kind, amount, ref)
             for on, n, kind, amount, ref in view.get("moves", [])]  # fmt: skip
    book = loanbook.replay(terms, moves, as_of)
    late = book.arrears(as_of)
    rows = loanschedule.statement_rows(book.schedule, book.position, as_of)
    return {
        "member_id": view["member_id"],
        "as_of": as_of,
        "state": view["state"],
        "terms": t,
        "disbursed": book.disbursed,
        "principal_repaid": book.principal_repaid,
        "interest_repaid": book.interest_repaid,
        "overpaid": book.overpaid,
        "outstanding_principal": book.outstanding_principal,
        "interest_outstanding": book.interest_outstanding,
        "written_off": book.written_off,
        "recovered": book.recovered,
        "arrears": {"days": late.days, "principal": late.principal, "interest": late.interest},
        "schedule": [_row(r) for r in rows] if terms else [],
    }


def _row(r: loanschedule.Row) -> dict[str, Any]:
    return {
        "number": r.number,
        "due": r.due,
        "principal": r.principal,
        "interest": r.interest,
        "principal_paid": r.principal_paid,
        "interest_paid": r.interest_paid,
        "status": r.status,
    }


RULES: dict[str, Rule] = {
    "LoanApplied": Rule(_applied_keys, _check_applied, _apply_applied),
    "LoanApproved": Rule(_loan_keys, _check_approved, _apply_approved),
    "LoanDisbursed": Rule(_loan_keys, _check_disbursed, _apply_disbursed, more_keys=_borrower_keys),
    "LoanRepaymentReceived": Rule(_repayment_keys, _check_repaid, _apply_repaid),
    "LoanRepaymentReversed": Rule(
        _reversal_keys, _check_repayment_reversed, _apply_repayment_reversed
    ),
    "LoanWrittenOff": Rule(_loan_keys, no_check, _apply_written_off),
}
