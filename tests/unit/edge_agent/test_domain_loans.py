"""Loan rules: the APPLIED → APPROVED → DISBURSED path, repayments, reversals, write-off."""

from __future__ import annotations

from typing import Any

from edge_agent.domain.memory import MemoryViews

APPLY = {"member_id": "M1", "amount_requested": 5_000_000, "purpose": "seed", "tenor_months": 12}
APPROVE = {
    "principal": 4_000_000,
    "rate_bp": 1200,
    "method": "declining",
    "tenor_months": 12,
    "first_due": "2026-02-05",
}


def disburse(amount: int) -> dict[str, Any]:
    return {"amount": amount, "disbursed_on": "2026-01-06"}


def repay(amount: int) -> dict[str, Any]:
    return {"amount": amount, "paid_on": "2026-02-05", "receipt_no": "R1"}


def unrepay(event_id: str, amount: int) -> dict[str, Any]:
    return {"reversed_event_id": event_id, "amount": amount, "reason": "counterfeit note"}


def loan(book: MemoryViews, loan_id: str = "L1") -> dict[str, Any]:
    view = book.view(f"loan:{loan_id}")
    assert view is not None
    return view


def disbursed_loan() -> MemoryViews:
    book = MemoryViews()
    book.record("LoanApplied", "L1", APPLY)
    book.record("LoanApproved", "L1", APPROVE)
    book.record("LoanDisbursed", "L1", disburse(4_000_000))
    return book


def test_loan_life_happy_path() -> None:
    """A loan is applied for, approved, paid out in two parts and repaid."""
    book = MemoryViews()
    book.record("LoanApplied", "L1", APPLY)
    assert loan(book)["state"] == "APPLIED"
    book.record("LoanApproved", "L1", APPROVE)
    assert loan(book)["state"] == "APPROVED" and loan(book)["principal"] == 4_000_000
    book.record("LoanDisbursed", "L1", disburse(1_000_000))
    book.record("LoanDisbursed", "L1", disburse(3_000_000))
    book.record("LoanRepaymentReceived", "L1", repay(400_000))
    assert loan(book) == {
        "member_id": "M1",
        "state": "DISBURSED",
        "requested": 5_000_000,
        "principal": 4_000_000,
        "disbursed": 4_000_000,
        "repaid": 400_000,
        "recovered": 0,
        "written_off": 0,
    }


def test_applying_twice_is_refused() -> None:
    """A loan number already used on this device cannot be applied for again."""
    book = disbursed_loan()
    assert book.refusal("LoanApplied", "L1", APPLY).rule == "duplicate_loan"


def test_anything_on_an_unknown_loan_is_refused() -> None:
    """Approval, disbursement, repayment and reversal on a loan unknown here are refused."""
    book = disbursed_loan()
    r = book.record("LoanRepaymentReceived", "L1", repay(100_000))
    for event_type, payload in (
        ("LoanApproved", APPROVE),
        ("LoanDisbursed", disburse(1)),
        ("LoanRepaymentReceived", repay(100_000)),
        ("LoanRepaymentReversed", unrepay(r.event_id, 100_000)),
    ):
        assert book.refusal(event_type, "L9", payload).rule == "unknown_loan"


def test_approval_needs_an_applied_loan() -> None:
    """A loan already approved (or further) cannot be approved again."""
    book = MemoryViews()
    book.record("LoanApplied", "L1", APPLY)
    book.record("LoanApproved", "L1", APPROVE)
    assert book.refusal("LoanApproved", "L1", APPROVE).rule == "loan_not_applied"


def test_disbursement_needs_an_approved_loan() -> None:
    """Paying out a loan that is only applied for is refused."""
    book = MemoryViews()
    book.record("LoanApplied", "L1", APPLY)
    assert book.refusal("LoanDisbursed", "L1", disburse(1)).rule == "loan_not_approved"


def test_disbursement_beyond_the_principal_is_refused() -> None:
    """Paid-out parts never exceed the approved principal."""
    book = MemoryViews()
    book.record("LoanApplied", "L1", APPLY)
    book.record("LoanApproved", "L1", APPROVE)
    book.record("LoanDisbursed", "L1", disburse(3_000_000))
    refusal = book.refusal("LoanDisbursed", "L1", disburse(1_000_001))
    assert refusal.rule == "over_disbursement"
    assert "Rp1.000.000" in str(refusal)


def test_repayment_after_write_off_is_a_recovery() -> None:
    """After a central write-off, a repayment is accepted and counted as a recovery."""
    book = disbursed_loan()
    book.receive("LoanWrittenOff", "L1", {"amount": 4_000_000, "written_off_on": "2027-01-01"})
    assert loan(book)["state"] == "WRITTEN_OFF"
    r = book.record("LoanRepaymentReceived", "L1", repay(250_000))
    assert loan(book)["recovered"] == 250_000 and loan(book)["repaid"] == 250_000
    book.record("LoanRepaymentReversed", "L1", unrepay(r.event_id, 250_000))
    assert loan(book)["recovered"] == 0 and loan(book)["repaid"] == 0


def test_repayment_reversal_happy_path() -> None:
    """Reversing a repayment takes it off the repaid total and marks it reversed."""
    book = disbursed_loan()
    r = book.record("LoanRepaymentReceived", "L1", repay(300_000))
    rev = book.record("LoanRepaymentReversed", "L1", unrepay(r.event_id, 300_000))
    assert loan(book)["repaid"] == 0
    assert book[f"tx:{r.event_id}"]["reversed_by"] == rev.event_id


def test_repayment_reversal_needs_that_repayment_and_amount() -> None:
    """A reversal naming no repayment of this loan, or the wrong amount, is refused."""
    book = disbursed_loan()
    r = book.record("LoanRepaymentReceived", "L1", repay(300_000))
    for payload in (unrepay("ev-nothing", 300_000), unrepay(r.event_id, 200_000)):
        assert book.refusal("LoanRepaymentReversed", "L1", payload).rule == "unknown_repayment"


def test_repayment_reversal_of_a_savings_deposit_is_refused() -> None:
    """A savings transaction's event id cannot be reversed as a loan repayment."""
    book = disbursed_loan()
    book.record(
        "SavingsAccountOpened",
        "S1",
        {"member_id": "M1", "product": "WAJIB", "opened_on": "2026-01-01"},
    )
    d = book.record("SavingsDeposited", "S1", {"amount": 300_000, "receipt_no": "R"})
    refusal = book.refusal("LoanRepaymentReversed", "L1", unrepay(d.event_id, 300_000))
    assert refusal.rule == "unknown_repayment"


def test_repayment_reversed_twice_is_refused() -> None:
    """A repayment is reversed at most once."""
    book = disbursed_loan()
    r = book.record("LoanRepaymentReceived", "L1", repay(300_000))
    book.record("LoanRepaymentReversed", "L1", unrepay(r.event_id, 300_000))
    refusal = book.refusal("LoanRepaymentReversed", "L1", unrepay(r.event_id, 300_000))
    assert refusal.rule == "already_reversed"
