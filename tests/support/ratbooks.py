"""Histories for the RAT basis (goods bought at a cost and sold, partly to members, savings
across a new year), and its oracle computed from the events alone."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import strategies as st

from central_projector.projection.folds import Event
from support import creditbooks
from support import histories as H
from sync_core.localtime import local_day

SALES = ("RS1", "RS2", "RS3")
PRICE = 10_000
DAY_MS = 86_400_000

rat_actions: st.SearchStrategy[H.Action] = st.one_of(
    st.builds(
        lambda s, q, cost, loc: (
            "StockReceived",
            s,
            {
                "sku": s,
                "qty": q,
                "location": loc,
                "supplier": "Bulog",
                "doc_no": "DO1",
                **({"unit_cost": cost} if cost else {}),
            },
        ),
        st.sampled_from(H.SKUS),
        st.integers(1, 5),
        st.sampled_from((0, 6_000, 7_500)),
        st.sampled_from(H.LOCATIONS),
    ),
    st.builds(
        lambda sid, lines, member, credit: (
            "SaleRecorded",
            sid,
            {
                "lines": [{"sku": s, "qty": q, "unit_price": PRICE} for s, q in lines],
                "payments": [
                    {
                        "method": "member_credit" if member and credit else "cash",
                        "amount": sum(q for _, q in lines) * PRICE,
                    }
                ],
                **({"member_id": member} if member else {}),
            },
        ),
        st.sampled_from(SALES),
        st.lists(st.tuples(st.sampled_from(H.SKUS), st.integers(1, 3)), min_size=1, max_size=2),
        st.sampled_from((None, *H.MEMBERS)),
        st.booleans(),
    ),
    st.builds(lambda sid: ("SaleVoided", sid, {"reason": "batal"}), st.sampled_from(SALES)),
    st.builds(
        lambda a, m: (
            "SavingsAccountOpened",
            a,
            {"member_id": m, "product": "SUKARELA", "opened_on": "2026-01-01"},
        ),
        st.sampled_from(H.ACCOUNTS),
        st.sampled_from(H.MEMBERS),
    ),
    st.builds(
        lambda a, x: ("SavingsDeposited", a, {"amount": x, "receipt_no": "KW1"}),
        st.sampled_from(H.ACCOUNTS),
        st.sampled_from((25_000, 100_000)),
    ),
    st.builds(
        lambda a, x: ("SavingsWithdrawn", a, {"amount": x, "receipt_no": "KW2"}),
        st.sampled_from(H.ACCOUNTS),
        st.sampled_from((10_000, 40_000)),
    ),
)


def year_of(ev: Event) -> str:
    return local_day(ev.key[0], ev.coop_id)[:4]


def expected(events: list[Event], coop: str, year: int) -> dict[str, Any]:
    """Revenue, cost of goods sold, purchases and savings per member, from the events."""
    y = str(year)
    mine = sorted((e for e in events if e.coop_id == coop), key=lambda e: e.key)
    first: dict[str, Event] = {}
    for e in mine:
        if e.type == "SaleRecorded":
            first.setdefault(e.aggregate_id, e)
    voided = {e.aggregate_id for e in mine if e.type == "SaleVoided"}
    cost_qty: dict[str, int] = defaultdict(int)
    cost_value: dict[str, int] = defaultdict(int)
    for e in mine:
        if e.type == "StockReceived" and e.payload.get("unit_cost"):
            cost_qty[e.payload["sku"]] += e.payload["qty"]
            cost_value[e.payload["sku"]] += e.payload["qty"] * e.payload["unit_cost"]
    revenue, sold, purchases = 0, defaultdict(int), defaultdict(int)
    for sid, sale in first.items():
        if sid in voided or year_of(sale) != y:
            continue
        total = sum(x["qty"] * x["unit_price"] for x in sale.payload["lines"])
        revenue += total
        for x in sale.payload["lines"]:
            sold[x["sku"]] += x["qty"]
        if sale.payload.get("member_id"):
            purchases[sale.payload["member_id"]] += total
    owner: dict[str, str] = {}
    for e in mine:
        if e.type == "SavingsAccountOpened":
            owner.setdefault(e.aggregate_id, e.payload["member_id"])
    saved: dict[str, int] = defaultdict(int)
    for e in mine:
        sign = {"SavingsDeposited": 1, "SavingsWithdrawn": -1}.get(e.type)
        if e.type == "SavingsTransactionReversed":
            sign = -1 if e.payload["kind"] == "DEPOSIT" else 1
        if sign and e.aggregate_id in owner and year_of(e) <= y:
            saved[owner[e.aggregate_id]] += sign * e.payload["amount"]
    cogs = sum(q * cost_value[s] // cost_qty[s] for s, q in sold.items() if cost_qty[s])
    return {
        "revenue": revenue,
        "cost_of_goods_sold": cogs,
        "purchases": {m: v for m, v in purchases.items() if v},
        "savings": {m: v for m, v in saved.items() if v},
    }


def check_rat(basis: dict[str, Any], events: list[Event], loans: list[dict[str, Any]]) -> None:
    """The RAT basis of one cooperative and year equals sums over the events (loan figures:
    over its loans' yearly books, themselves checked against the events by check_loan)."""
    want = expected(events, basis["coop_id"], basis["year"])
    assert basis["revenue"] == want["revenue"]
    assert basis["cost_of_goods_sold"] == want["cost_of_goods_sold"]
    assert basis["gross_margin"] == want["revenue"] - want["cost_of_goods_sold"]
    y = str(basis["year"])
    interest = sum(r["by_year"].get(y, [0] * 6)[2] for r in loans)
    written_off = sum(r["by_year"].get(y, [0] * 6)[5] for r in loans)
    assert (basis["interest_income"], basis["expenses_recorded"]) == (interest, written_off)
    assert basis["shu"] == basis["gross_margin"] + interest - written_off
    members = {m["member_id"]: m for m in basis["members"]}
    assert {m: v["purchases"] for m, v in members.items() if v["purchases"]} == want["purchases"]
    assert {m: v["savings"] for m, v in members.items() if v["savings"]} == want["savings"]
    bought, owed = creditbooks.per_member(events, basis["coop_id"], basis["year"])
    assert {m: v["credit_bought"] for m, v in members.items() if v["credit_bought"]} == bought
    assert {m: v["credit_outstanding"] for m, v in members.items() if v["credit_outstanding"]} == (
        owed
    )
    assert set(bought) | set(owed) <= set(members)
    credit = creditbooks.at_year_end(events, basis["coop_id"], basis["year"])
    assert {k: basis[k] for k in credit} == credit
    allocation = basis["allocation"]
    assert sum(allocation.values()) == max(basis["shu"], 0)
    assert allocation["jasa_usaha"] == sum(m["jasa_usaha"] for m in members.values())
    assert allocation["jasa_modal"] == sum(m["jasa_modal"] for m in members.values())
