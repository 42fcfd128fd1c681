"""Loans: application, approval, disbursement, repayment, and write-off by the province.

Rules (BRIEF §4):
- A loan id is applied for once (``duplicate_loan``); every later event needs the loan
  known on this device (``unknown_loan``): no repayment on an unknown loan.
- States go APPLIED → APPROVED → DISBURSED. Approval needs an applied loan
  (``loan_not_applied``); disbursement needs an approved loan (``loan_not_approved``),
  possibly in several parts, and never more than the approved principal minus what was
  already paid out (``over_disbursement``).
- A repayment is accepted in any state, WRITTEN_OFF included: after a write-off it is a
  recovery (BRIEF §5) and is counted as such too.
- A repayment reversal names an earlier repayment of this loan with the same amount
  (``unknown_repayment``), not reversed before (``already_reversed``).
- ``LoanWrittenOff`` (central) sets the state WRITTEN_OFF and records the amount.

Views:
- ``loan:{loan_id}`` = ``{member_id, state, requested, principal, disbursed, repaid,
  recovered, written_off}`` (money in rupiah; principal 0 until approved);
- ``tx:{event_id}`` = ``{aggregate, kind: REPAYMENT|RECOVERY, amount, reversed_by}``.
"""

from __future__ import annotations

from edge_agent.domain.base import Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import add_tx, get_or_add, loaded, rupiah, tx_key
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
    }
    return get_or_add(views, loan_key(ev.aggregate_id), default)


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


def _check_applied(views: Views, ev: Proposed) -> None:
    if loaded(views, loan_key(ev.aggregate_id)) is not None:
        raise RuleViolation(
            "duplicate_loan",
            f"loan {ev.aggregate_id} already exists on this device; use a new loan number",
        )


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


def _check_disbursed(views: Views, ev: Proposed) -> None:
    loan = _known_loan(views, ev)
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
    tx = loaded(views, tx_key(ev.payload["reversed_event_id"]))
    if tx is not None:
        if tx["kind"] == RECOVERY:
            loan["recovered"] -= ev.payload["amount"]
        tx["reversed_by"] = ev.event_id


# --- LoanWrittenOff (central) --------------------------------------------------------


def _apply_written_off(views: Views, ev: Proposed) -> None:
    loan = _loan(views, ev)
    loan["state"] = WRITTEN_OFF
    loan["written_off"] = ev.payload["amount"]


RULES: dict[str, Rule] = {
    "LoanApplied": Rule(_loan_keys, _check_applied, _apply_applied),
    "LoanApproved": Rule(_loan_keys, _check_approved, _apply_approved),
    "LoanDisbursed": Rule(_loan_keys, _check_disbursed, _apply_disbursed),
    "LoanRepaymentReceived": Rule(_repayment_keys, _check_repaid, _apply_repaid),
    "LoanRepaymentReversed": Rule(
        _reversal_keys, _check_repayment_reversed, _apply_repayment_reversed
    ),
    "LoanWrittenOff": Rule(_loan_keys, no_check, _apply_written_off),
}
