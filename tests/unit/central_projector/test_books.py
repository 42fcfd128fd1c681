"""Properties of the cooperative's books in the pure fold: loans conserve money in any order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from support import books as B
from support import histories as H
from support.projection import project, snapshot

from central_projector.projection.folds import Event


@given(B.loan_histories(), st.data())
def test_loans_conserve_principal_and_interest_in_any_delivery_order(
    events: list[Event], data: st.DataObject
) -> None:
    """Disbursed = principal repaid + written off + outstanding; interest charged = repaid +
    outstanding; every rupiah paid is principal, interest, overpaid or recovered."""
    p = project(*H.deliveries(data.draw, events))
    assert snapshot(p) == snapshot(project(events))
    loans = p.state.rows("loan")
    for row in loans.values():
        B.check_loan(row, events)
    for e in events:
        if e.type.startswith("Loan"):
            assert (e.coop_id, e.aggregate_id) in loans
