"""Member-credit repayment reversals: what the counter refuses, and how it counts them."""

from __future__ import annotations

from typing import Any

from support.members import with_members

from edge_agent.domain.base import Proposed
from edge_agent.domain.memory import MemoryViews

SALE = {
    "lines": [{"sku": "BERAS-5KG", "qty": 2, "unit_price": 70_000}],
    "payments": [{"method": "member_credit", "amount": 140_000}],
    "member_id": "M1",
    "stock_override_reason": "rak",
}


def repay(book: MemoryViews, member: str, amount: int) -> Proposed:
    payload = {"amount": amount, "paid_on": "2026-02-01", "receipt_no": "KW-7"}
    return book.record("MemberCreditRepaid", member, payload)


def unrepay(event_id: str, amount: int) -> dict[str, Any]:
    return {"reversed_event_id": event_id, "amount": amount, "reason": "salah anggota"}


def owing() -> MemoryViews:
    book = with_members("M1", "M2")
    book.record("SaleRecorded", "SL1", SALE)
    return book


def test_a_reversed_repayment_is_owed_again_by_exactly_its_amount() -> None:
    """Reversing a repayment puts exactly its amount back on what the member owes, marks it
    reversed, and she may then repay it again."""
    book = owing()
    r = repay(book, "M1", 40_000)
    assert book["credit:M1"] == {"sold": 140_000, "repaid": 40_000, "owed": 100_000}
    rev = book.record("MemberCreditRepaymentReversed", "M1", unrepay(r.event_id, 40_000))
    assert book["credit:M1"] == {"sold": 140_000, "repaid": 0, "owed": 140_000}
    assert book[f"tx:{r.event_id}"]["reversed_by"] == rev.event_id
    repay(book, "M1", 140_000)
    assert book["credit:M1"]["owed"] == 0


def test_a_reversal_needs_a_repayment_of_that_member_with_its_amount() -> None:
    """No such event, another member's repayment, a loan or savings event id, or the wrong
    amount: each is refused as `unknown_repayment`, and nothing changes."""
    book = owing()
    book.record("SaleRecorded", "SL2", {**SALE, "member_id": "M2"})
    r1 = repay(book, "M1", 40_000)
    r2 = repay(book, "M2", 10_000)
    book.record(
        "SavingsAccountOpened",
        "S1",
        {"member_id": "M1", "product": "SUKARELA", "opened_on": "2026-01-05"},
    )
    d = book.record("SavingsDeposited", "S1", {"amount": 40_000, "receipt_no": "R"})
    for payload in (
        unrepay("ev-nothing", 40_000),
        unrepay(r2.event_id, 10_000),
        unrepay(d.event_id, 40_000),
        unrepay(r1.event_id, 39_999),
    ):
        refused = book.refusal("MemberCreditRepaymentReversed", "M1", payload)
        assert refused.rule == "unknown_repayment"
    assert "Rp40.000" in str(book.refusal(
        "MemberCreditRepaymentReversed", "M1", unrepay(r1.event_id, 39_999)))  # fmt: skip


def test_a_repayment_is_reversed_at_most_once() -> None:
    """A second reversal of one repayment is refused as `already_reversed`, naming the first."""
    book = owing()
    r = repay(book, "M1", 40_000)
    rev = book.record("MemberCreditRepaymentReversed", "M1", unrepay(r.event_id, 40_000))
    refused = book.refusal("MemberCreditRepaymentReversed", "M1", unrepay(r.event_id, 40_000))
    assert refused.rule == "already_reversed" and rev.event_id in str(refused)


def test_a_reversal_names_a_registered_member_who_may_have_resigned() -> None:
    """An unknown member is refused as `unknown_member`; a resigned member's repayment can
    still be reversed (she owes it again)."""
    book = owing()
    r = repay(book, "M1", 40_000)
    refused = book.refusal("MemberCreditRepaymentReversed", "M-nobody", unrepay(r.event_id, 1))
    assert refused.rule == "unknown_member"
    book.record("MemberResigned", "M1", {"resigned_on": "2026-06-30", "reason": "pindah"})
    book.record("MemberCreditRepaymentReversed", "M1", unrepay(r.event_id, 40_000))
    assert book["credit:M1"]["owed"] == 140_000


def sibling(book: MemoryViews, type: str, member: str, payload: dict[str, Any], eid: str) -> None:
    book.run(Proposed(type, member, payload, eid, "dev-2", book.coop_id), check=False)


def test_siblings_reversals_count_once_in_any_order() -> None:
    """A sibling's reversal that arrives before its repayment keeps that repayment from ever
    counting; two reversals of one repayment count once; one naming another member's
    repayment changes nothing (as the central counts them)."""
    repaid = {"amount": 40_000, "paid_on": "2026-02-01", "receipt_no": "KW-9"}
    early = owing()
    sibling(early, "MemberCreditRepaymentReversed", "M1", unrepay("ev-r", 40_000), "ev-x1")
    sibling(early, "MemberCreditRepaid", "M1", repaid, "ev-r")
    assert early["credit:M1"]["owed"] == 140_000
    assert early["tx:ev-r"]["reversed_by"] == "ev-x1"
    late = owing()
    sibling(late, "MemberCreditRepaid", "M1", repaid, "ev-r")
    sibling(late, "MemberCreditRepaymentReversed", "M2", unrepay("ev-r", 40_000), "ev-x0")
    assert late["credit:M1"]["owed"] == 100_000
    for eid in ("ev-x1", "ev-x2"):
        sibling(late, "MemberCreditRepaymentReversed", "M1", unrepay("ev-r", 40_000), eid)
    assert late["credit:M1"] == early["credit:M1"] == {"sold": 140_000, "repaid": 0,
                                                       "owed": 140_000}  # fmt: skip
