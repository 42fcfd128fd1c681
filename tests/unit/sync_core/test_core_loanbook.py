"""A loan's book: write-off of outstanding principal only, late repayments, recoveries."""

from __future__ import annotations

from sync_core.loanbook import DISBURSE, REPAY, WRITE_OFF, Movement, Terms, replay

TERMS = Terms(rate_bp=1200, method="flat", tenor_months=10, first_due="2026-02-01")


def _book(*moves: tuple[str, int, str, int]) -> object:
    return replay(TERMS, [Movement(on, order, kind, amount) for on, order, kind, amount in moves])


def test_a_write_off_removes_outstanding_principal_only() -> None:
    """Rp5,000,000 lent, nothing repaid: Rp5,000,000 written off, not principal plus interest."""
    book = replay(
        TERMS,
        [
            Movement("2026-01-10", 1, DISBURSE, 5_000_000),
            Movement("2026-06-01", 2, WRITE_OFF, 5_350_000),
        ],
    )
    assert book.written_off == 5_000_000
    assert book.outstanding_principal == 0
    assert book.interest_charged == 0 == book.interest_outstanding
    assert book.status == "WRITTEN_OFF"


def test_a_late_repayment_dated_before_the_write_off_lowers_it() -> None:
    """A repayment dated before the write-off, whenever it arrives, is replayed before it."""
    base = [
        Movement("2026-01-10", 1, DISBURSE, 1_000_000),
        Movement("2026-03-01", 2, WRITE_OFF, 1_000_000),
    ]
    before = replay(TERMS, base)
    late = replay(TERMS, [*base, Movement("2026-02-01", 9, REPAY, 110_000)])
    assert before.written_off == 1_000_000
    # instalment 1 is 100,000 principal + 10,000 interest: the write-off drops by the principal
    assert late.written_off == 900_000
    assert late.principal_repaid == 100_000 and late.interest_repaid == 10_000
    assert late.interest_charged == 10_000


def test_a_repayment_after_the_write_off_is_a_recovery() -> None:
    """Money paid after the write-off date is recovered, not allocated to the schedule."""
    book = replay(
        TERMS,
        [
            Movement("2026-01-10", 1, DISBURSE, 1_000_000),
            Movement("2026-03-01", 2, WRITE_OFF, 1_000_000),
            Movement("2026-03-05", 3, REPAY, 50_000),
        ],
    )
    assert (book.recovered, book.recoveries, book.principal_repaid) == (50_000, 1, 0)
    assert book.by_year["2026"][4] == 50_000


def test_conservation_holds_for_a_running_loan() -> None:
    """Disbursed = principal repaid + outstanding; charged = repaid + outstanding interest."""
    book = replay(
        TERMS,
        [
            Movement("2026-01-10", 1, DISBURSE, 1_000_000),
            Movement("2026-02-01", 2, REPAY, 110_000),
            Movement("2026-03-01", 3, REPAY, 50_000),
        ],
    )
    assert book.disbursed == book.principal_repaid + book.outstanding_principal
    assert book.interest_charged == book.interest_repaid + book.interest_outstanding
    assert book.interest_charged == 100_000  # 12 % a year on 1,000,000 for 10 months
    assert book.arrears("2026-03-15").amount == 110_000 - 50_000
    assert book.status == "DISBURSED"


def test_without_terms_repayments_go_to_principal_and_nothing_is_late() -> None:
    """Before the approval is known, the principal is one instalment that never falls due."""
    book = replay(None, [Movement("2026-01-10", 1, DISBURSE, 500_000),
                         Movement("2026-01-20", 2, REPAY, 600_000)])  # fmt: skip
    assert (book.principal_repaid, book.overpaid, book.interest_repaid) == (500_000, 100_000, 0)
    assert book.arrears("2030-01-01").days == 0
    assert book.status == "OVERPAID"


def test_as_of_ignores_what_is_dated_later() -> None:
    """The book as of a date replays only the movements dated by then."""
    moves = [
        Movement("2026-01-10", 1, DISBURSE, 1_000_000),
        Movement("2026-02-01", 2, REPAY, 110_000),
        Movement("2026-05-01", 3, WRITE_OFF, 1),
    ]
    assert replay(TERMS, moves, as_of="2026-04-01").status == "DISBURSED"
    assert replay(TERMS, moves, as_of="2026-04-01").arrears("2026-04-01").days == 31
    assert replay(TERMS, moves).status == "WRITTEN_OFF"
