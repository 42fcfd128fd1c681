"""The RAT basis: a worked example by hand, and for any delivery order the figures equal
sums over the events."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support import books as B
from support import histories as H
from support import ratbooks

from central_projector.projection.folds import Event, MemoryProjector
from central_projector.reporting.rat import rat_basis

COOP = H.COOP  # 6472010001: Samarinda, WITA (UTC+8)
T0 = H.T0  # 2026-01-01T00:00Z, 08:00 WITA


def ev(n: int, type_: str, agg: str, wall: int = T0, **payload: Any) -> Event:
    return Event((wall + n * 1000, 0, "d1", n), f"ev-{n}", COOP, type_, agg, payload)


def basis(pr: MemoryProjector, year: int) -> dict[str, Any]:
    def rows(kind: str) -> list[dict[str, Any]]:
        return [r for r in pr.state.rows(kind).values() if r["coop_id"] == COOP]

    return rat_basis(COOP, year, rows("sale"), rows("stock"), rows("loan"), rows("savings"),
                     receivables=rows("receivable"))  # fmt: skip


def sale(qty: int, member: str | None = None, credit: bool = False) -> dict[str, Any]:
    total = qty * 72_000
    return {
        "lines": [{"sku": "BERAS-5KG", "qty": qty, "unit_price": 72_000}],
        "payments": [{"method": "member_credit" if credit else "cash", "amount": total}],
        **({"member_id": member} if member else {}),
    }


WORKED = [
    ev(1, "StockReceived", "BERAS-5KG", sku="BERAS-5KG", qty=10, location="main",
       supplier="Bulog", doc_no="DO1", unit_cost=60_000),
    ev(2, "StockReceived", "BERAS-5KG", sku="BERAS-5KG", qty=10, location="gudang",
       supplier="Bulog", doc_no="DO2", unit_cost=66_000),
    ev(3, "SaleRecorded", "SL1", **sale(2, "M1")),
    ev(4, "SaleRecorded", "SL2", **sale(1)),
    ev(5, "SaleRecorded", "SL3", **sale(1, "M2", credit=True)),
    ev(6, "SaleRecorded", "SL4", **sale(5, "M1")),
    ev(7, "SaleVoided", "SL4", reason="batal"),
    ev(8, "SaleRecorded", "SL0", wall=T0 - 10 * 3_600_000, **sale(3, "M1")),  # 31 Dec, 22:00
    ev(9, "SavingsAccountOpened", "S1", member_id="M1", product="SUKARELA", opened_on="2026-01-01"),
    ev(10, "SavingsDeposited", "S1", amount=300_000, receipt_no="KW1"),
    ev(11, "SavingsAccountOpened", "S2", member_id="M2", product="WAJIB", opened_on="2026-01-01"),
    ev(12, "SavingsDeposited", "S2", amount=100_000, receipt_no="KW2"),
    ev(13, "LoanApproved", "L1", principal=1_200_000, rate_bp=1200, method="flat",
       tenor_months=12, first_due="2026-02-05"),
    ev(14, "LoanDisbursed", "L1", amount=1_200_000, disbursed_on="2026-01-05"),
    ev(15, "LoanRepaymentReceived", "L1", amount=112_000, paid_on="2026-02-05", receipt_no="K1"),
    ev(16, "MemberCreditRepaid", "M2", amount=50_000, paid_on="2026-03-01", receipt_no="K2"),
]  # fmt: skip


def test_a_worked_rat_basis_by_hand() -> None:
    """Rp288.000 of sales in 2026 (the voided one and the one of 31 December 2025 WITA left
    out) at an average cost of Rp63.000 a sack, Rp12.000 of flat interest in the first
    instalment: SHU Rp48.000, divided 40/25/20/5/5/5, the members' shares by purchases
    (2:1) and savings (3:1); of M2's Rp72.000 on member credit Rp50.000 is repaid, so
    Rp22.000 is a receivable at the year's end."""
    b = basis(_projected(WORKED), 2026)
    assert (b["revenue"], b["cost_of_goods_sold"], b["gross_margin"]) == (288_000, 252_000, 36_000)
    assert (b["interest_income"], b["expenses_recorded"], b["shu"]) == (12_000, 0, 48_000)
    assert b["allocation"] == {
        "reserve": 19_200,
        "jasa_usaha": 12_000,
        "jasa_modal": 9_600,
        "management": 2_400,
        "education": 2_400,
        "social": 2_400,
    }
    assert b["members"] == [
        {"member_id": "M1", "purchases": 144_000, "credit_bought": 0, "credit_outstanding": 0,
         "savings": 300_000, "jasa_usaha": 8_000, "jasa_modal": 7_200},
        {"member_id": "M2", "purchases": 72_000, "credit_bought": 72_000,
         "credit_outstanding": 22_000, "savings": 100_000, "jasa_usaha": 4_000,
         "jasa_modal": 2_400},
    ]  # fmt: skip
    credit = ("credit_sold", "credit_repaid", "receivables_outstanding", "credit_overpaid")
    assert [b[k] for k in credit] == [72_000, 50_000, 22_000, 0]  # M2's sack on credit
    before = basis(_projected(WORKED), 2025)
    assert (before["revenue"], before["members"][0]["purchases"]) == (216_000, 216_000)
    assert before["members"][0]["savings"] == 0
    after = basis(_projected(WORKED), 2027)  # M2's debt is still there a year on
    assert [(m["member_id"], m["credit_bought"], m["credit_outstanding"]) for m in
            after["members"]] == [("M1", 0, 0), ("M2", 0, 22_000)]  # fmt: skip
    assert [before[k] for k in credit] == [0, 0, 0, 0]


def _projected(events: list[Event]) -> MemoryProjector:
    pr = MemoryProjector()
    pr.apply(events)
    return pr


@given(B.books_histories(("loans", "rat", "credit")), st.data())
def test_rat_figures_equal_sums_over_the_events_in_any_order(
    events: list[Event], data: st.DataObject
) -> None:
    """For any delivery order: revenue, cost of goods sold, margin, purchases, credit bought
    and owed and savings per member, member credit sold, repaid and outstanding at the
    year's end equal sums over the events; interest and write-offs those of the loan book;
    the allocation adds up to the SHU."""
    pr = MemoryProjector()
    for batch in H.deliveries(data.draw, events):
        pr.apply(batch)
    for coop in {e.coop_id for e in events}:
        loans = [r for r in pr.state.rows("loan").values() if r["coop_id"] == coop]
        for year in (2025, 2026, 2027):

            def rows(kind: str) -> list[dict[str, Any]]:
                return [r for r in pr.state.rows(kind).values() if r["coop_id"] == coop]  # noqa: B023

            b = rat_basis(coop, year, rows("sale"), rows("stock"), loans, rows("savings"),
                          receivables=rows("receivable"))  # fmt: skip
            ratbooks.check_rat(b, events, loans)
