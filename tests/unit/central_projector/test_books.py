"""Properties of the cooperative's books in the pure fold: loans, card wallets and member
credit conserve money in any order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from support import books as B
from support import creditbooks
from support import histories as H
from support.projection import conflicts_of, project, snapshot

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


@given(B.wallet_histories(), st.data())
def test_a_card_wallet_never_pays_out_more_than_its_value_without_an_overspend_item(
    events: list[Event], data: st.DataObject
) -> None:
    """Aid redemptions and shop payments draw on one wallet in total order; whatever is paid
    beyond its value is an OVERSPEND item of exactly that excess, in any delivery order."""
    p = project(*H.deliveries(data.draw, events))
    queue = conflicts_of(p)
    cards = p.state.rows("card")
    for row in cards.values():
        B.check_card(row, events, queue)
    for card in B.CARDS:
        assert (card,) in cards


@given(B.books_histories(("credit",)), st.data())
def test_member_credit_sold_is_repaid_or_outstanding_in_any_delivery_order(
    events: list[Event], data: st.DataObject
) -> None:
    """Credit sold = credit repaid + credit outstanding (− what was overpaid, an item of
    exactly that excess), per member, a reversed repayment counting nothing however many
    reversals name it, for any delivery order and any duplicates."""
    p = project(*H.deliveries(data.draw, events))
    assert snapshot(p) == snapshot(project(events))
    rows = list(p.state.rows("receivable").values())
    creditbooks.check_receivables(rows, events, conflicts_of(p))
