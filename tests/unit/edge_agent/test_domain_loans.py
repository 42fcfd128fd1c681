"""Loan rules: the APPLIED → APPROVED → DISBURSED path, repayments, reversals, write-off."""

from __future__ import annotations

from typing import Any

from support.members import with_members

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
    book = with_members("M1")
    book.record("LoanApplied", "L1", APPLY)
    book.record("LoanApproved", "L1", APPROVE)
    book.record("LoanDisbursed", "L1", disburse(4_000_000))
    return book


def test_loan_life_happy_path() -> None:
    """A loan is applied for, approved, paid out in two parts and repaid."""
    book = with_members("M1")
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
        "terms": {k: APPROVE[k] for k in ("rate_bp", "method", "tenor_months", "first_due")},
        "moves": [
            ["2026-01-06", 1, "D", 1_000_000, "ev-000004"],
            ["2026-01-06", 2, "D", 3_000_000, "ev-000005"],
            ["2026-02-05", 3, "R", 400_000, "ev-000006"],
        ],
        "n": 3,
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
    book = with_members("M1")
    book.record("LoanApplied", "L1", APPLY)
    book.record("LoanApproved", "L1", APPROVE)
    assert book.refusal("LoanApproved", "L1", APPROVE).rule == "loan_not_applied"


def test_disbursement_needs_an_approved_loan() -> None:
    """Paying out a loan that is only applied for is refused."""
    book = with_members("M1")
    book.record("LoanApplied", "L1", APPLY)
    assert book.refusal("LoanDisbursed", "L1", disburse(1)).rule == "loan_not_approved"


def test_disbursement_beyond_the_principal_is_refused() -> None:
    """Paid-out parts never exceed the approved principal."""
    book = with_members("M1")
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


def test_the_statement_shows_the_schedule_payments_and_arrears_offline() -> None:
    """The member's statement is the central's book: 12 annuity instalments, interest first."""
    from edge_agent.domain.loans import statement

    book = disbursed_loan()
    book.record("LoanRepaymentReceived", "L1", repay(400_000))
    s = statement(loan(book), "2026-04-01")
    assert len(s["schedule"]) == 12 and s["schedule"][0]["interest"] == 40_000
    first = s["schedule"][0]
    assert (first["status"], first["interest_paid"]) == ("PAID", 40_000)
    assert s["principal_repaid"] + s["outstanding_principal"] == 4_000_000
    # the February instalment is paid; March's (due 5 March) is 27 days late on 1 April
    assert s["arrears"]["days"] == 27
    assert s["schedule"][1]["status"] == "LATE"
    before = statement(loan(book), "2026-01-31")
    assert before["arrears"]["days"] == 0 and before["principal_repaid"] == 0


def test_a_reversed_repayment_leaves_the_statement() -> None:
    """Reversing a repayment takes it out of the movements the statement replays."""
    from edge_agent.domain.loans import statement

    book = disbursed_loan()
    r = book.record("LoanRepaymentReceived", "L1", repay(400_000))
    book.record("LoanRepaymentReversed", "L1", unrepay(r.event_id, 400_000))
    s = statement(loan(book), "2026-03-01")
    assert s["principal_repaid"] == 0 == s["interest_repaid"]
