"""The loan book as of a date: outstanding principal, arrears buckets and PAR30 (pure).

Every figure is on *principal* and *as of* the date asked for: each loan's book is
replayed from its movements dated by then (:func:`central_projector.projection.folds.loans.as_of`),
so a cooperative that goes quiet does not look current forever, and a date in the past
shows the book as it stood then.

- A loan counts while it has principal outstanding and is not written off by then.
- Days past due: from the oldest instalment due before the date and not fully paid by
  the repayments dated by then (:func:`sync_core.loanschedule.arrears`).
- Buckets hold outstanding principal by days past due: current (0), 1-30, 31-60, 61-90,
  90+. PAR30 = outstanding principal of loans more than 30 days past due ÷ all
  outstanding principal, in basis points (and the amount itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from central_projector.projection.folds import loans
from central_projector.projection.folds.base import Row

BUCKETS = (("current", 0, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90))
OVER = "90+"


def bucket_of(days: int) -> str:
    return next((name for name, lo, hi in BUCKETS if lo <= days <= hi), OVER)


def loan_as_of(row: Row, day: str) -> dict[str, Any]:
    """One loan's figures on ``day``."""
    book = loans.as_of(row, day)
    late = book.arrears(day)
    status = _before(row) if book.status == "NONE" else book.status
    return {
        "loan_id": row["loan_id"],
        "member_id": row["member_id"],
        "method": row["method"],
        "status": status,
        "disbursed": book.disbursed,
        "principal_repaid": book.principal_repaid,
        "interest_repaid": book.interest_repaid,
        "overpaid": book.overpaid,
        "outstanding_principal": book.outstanding_principal,
        "interest_outstanding": book.interest_outstanding,
        "days_past_due": late.days,
        "principal_in_arrears": late.principal,
        "interest_in_arrears": late.interest,
        "written_off": book.written_off,
        "written_off_on": book.written_off_on,
        "recovered": book.recovered,
    }


def _before(row: Row) -> str:
    """The status of a loan with nothing paid out yet (as far as the date shows)."""
    return "APPROVED" if row["terms"] else "APPLIED" if row["applied_okey"] else "UNKNOWN"


def portfolio(rows: Iterable[Row], day: str) -> dict[str, Any]:
    """The cooperative's (or any set of loans') book on ``day``, and each loan's line."""
    buckets = {name: 0 for name, _, _ in BUCKETS} | {OVER: 0}
    listed = [loan_as_of(r, day) for r in rows]
    running = [x for x in listed if x["status"] == "DISBURSED" and x["outstanding_principal"]]
    for x in running:
        buckets[bucket_of(x["days_past_due"])] += x["outstanding_principal"]
    outstanding = sum(x["outstanding_principal"] for x in running)
    par30 = sum(x["outstanding_principal"] for x in running if x["days_past_due"] > 30)
    return {
        "as_of": day,
        "loans": len(listed),
        "running": len(running),
        "outstanding_principal": outstanding,
        "interest_outstanding": sum(x["interest_outstanding"] for x in running),
        "principal_in_arrears": sum(x["principal_in_arrears"] for x in running),
        "arrears_buckets": buckets,
        "par30": par30,
        "par30_bp": par30 * 10_000 // outstanding if outstanding else 0,
        "disbursed": sum(x["disbursed"] for x in listed),
        "principal_repaid": sum(x["principal_repaid"] for x in listed),
        "interest_repaid": sum(x["interest_repaid"] for x in listed),
        "overpaid": sum(x["overpaid"] for x in listed),
        "written_off": sum(x["written_off"] for x in listed),
        "written_off_loans": sum(1 for x in listed if x["status"] == "WRITTEN_OFF"),
        "recovered": sum(x["recovered"] for x in listed),
        "list": listed,
    }
