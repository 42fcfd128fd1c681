"""Member credit histories (sales on credit, split or whole, voided or recorded twice;
repayments dated across three years, some beyond the debt as two counters can take them
offline; reversals of repayments, before or after them, twice, or of none), and their
oracle computed from the events alone."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import strategies as st

from central_projector.projection.folds import Event
from support import histories as H
from sync_core.localtime import local_day

SALES = ("CS1", "CS2", "CS3")
PAID_ON = ("2025-12-31", "2026-01-01", "2026-06-30", "2027-01-02")


def _credit_sale(sale: str, member: str | None, qty: int, split: bool) -> H.Action:
    total = qty * 25_000
    credit = total - 5_000 if split else total
    payments = [{"method": "member_credit", "amount": credit}]
    if split:
        payments.append({"method": "cash", "amount": 5_000})
    payload: dict[str, Any] = {
        "lines": [{"sku": "GULA-1KG", "qty": qty, "unit_price": 25_000}],
        "payments": payments,
        "stock_override_reason": "stok belum dicatat",
    }
    if member is not None:  # a sale recorded before the edge asked for the member
        payload["member_id"] = member
    return ("SaleRecorded", sale, payload)


credit_actions: st.SearchStrategy[H.Action] = st.one_of(
    st.builds(
        _credit_sale,
        st.sampled_from(SALES),
        st.one_of(st.sampled_from(H.MEMBERS[:2]), st.none()),
        st.integers(1, 4),
        st.booleans(),
    ),
    st.builds(lambda s: ("SaleVoided", s, {"reason": "batal"}), st.sampled_from(SALES)),
    st.builds(
        lambda m, x, d: ("MemberCreditRepaid", m, {"amount": x, "paid_on": d, "receipt_no": "KW"}),
        st.sampled_from(H.MEMBERS[:2]),
        st.sampled_from((5_000, 20_000, 45_000)),
        st.sampled_from(PAID_ON),
    ),
    st.builds(  # pointed at a repayment of the history (or at none) by link_references
        lambda m: (
            "MemberCreditRepaymentReversed",
            m,
            {"reversed_event_id": "REF", "amount": 1, "reason": "salah catat"},
        ),
        st.sampled_from(H.MEMBERS[:2]),
    ),
)


def cancelled(events: list[Event]) -> set[tuple[str, str, str]]:
    """(cooperative, member, event id) of every repayment some reversal of that member at
    that cooperative names: it counts nothing, however many name it, in any order."""
    return {(e.coop_id, e.aggregate_id, e.payload["reversed_event_id"]) for e in events
            if e.type == "MemberCreditRepaymentReversed"}  # fmt: skip


def credit_entries(events: list[Event]) -> dict[tuple[str, str], list[tuple[str, int, int]]]:
    """Per (cooperative, member): (day, credit sold, repaid) of every live credit sale (its
    first recording, never voided; on the local day of its HLC wall) and every repayment
    (on the day it was paid)."""
    first: dict[tuple[str, str], Event] = {}
    for e in sorted(events, key=lambda e: e.key):
        if e.type == "SaleRecorded":
            first.setdefault((e.coop_id, e.aggregate_id), e)
    voided = {(e.coop_id, e.aggregate_id) for e in events if e.type == "SaleVoided"}
    out: dict[tuple[str, str], list[tuple[str, int, int]]] = defaultdict(list)
    for key, sale in first.items():
        credit = sum(p["amount"] for p in sale.payload["payments"]
                     if p["method"] == "member_credit")  # fmt: skip
        if credit and key not in voided:
            out[(sale.coop_id, sale.payload.get("member_id") or "")].append(
                (local_day(sale.key[0], sale.coop_id), credit, 0)
            )
    gone = cancelled(events)
    for e in events:
        if e.type == "MemberCreditRepaid" and (e.coop_id, e.aggregate_id, e.event_id) not in gone:
            out[(e.coop_id, e.aggregate_id)].append((e.payload["paid_on"], 0, e.payload["amount"]))
    return out


def check_receivables(
    rows: list[dict[str, Any]], events: list[Event], items: list[dict[str, Any]]
) -> None:
    """Every member's receivable equals the sums over the events (a reversed repayment
    counting nothing) and conserves credit: sold + overpaid = repaid + outstanding; what is
    repaid beyond the debt is a CREDIT_OVERPAID item of exactly that excess, and nothing
    else is."""
    want = credit_entries(events)
    assert {(r["coop_id"], r["member_id"]) for r in rows} == set(want)
    for row in rows:
        entries = want[(row["coop_id"], row["member_id"])]
        sold, repaid = sum(e[1] for e in entries), sum(e[2] for e in entries)
        assert (row["sold"], row["repaid"]) == (sold, repaid)
        assert row["repayments"] == sum(1 for e in entries if e[2])
        assert row["sold"] + row["overpaid"] == row["repaid"] + row["outstanding"]
        assert (
            min(row["outstanding"], row["overpaid"])
            == 0
            <= max(row["outstanding"], row["overpaid"])
        )
        years: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for day, s, r in entries:
            years[day[:4]][0] += s
            years[day[:4]][1] += r
        assert row["by_year"] == {y: v for y, v in years.items() if any(v)}
        mine = [i for i in items if i["subject"] == f"credit:{row['coop_id']}:{row['member_id']}"]
        if repaid > sold:
            assert [i["detail"]["overpaid"] for i in mine] == [repaid - sold]
        else:
            assert mine == []


def at_year_end(events: list[Event], coop: str, year: int) -> dict[str, int]:
    """The member-credit figures of one cooperative's RAT for ``year``, from the events."""
    y = str(year)
    sold = repaid = outstanding = overpaid = 0
    for (c, _member), entries in credit_entries(events).items():
        if c != coop:
            continue
        sold += sum(s for day, s, _ in entries if day[:4] == y)
        repaid += sum(r for day, _, r in entries if day[:4] == y)
        balance = sum(s - r for day, s, r in entries if day[:4] <= y)
        outstanding += max(balance, 0)
        overpaid += max(-balance, 0)
    return {"credit_sold": sold, "credit_repaid": repaid,
            "receivables_outstanding": outstanding, "credit_overpaid": overpaid}  # fmt: skip


def per_member(events: list[Event], coop: str, year: int) -> tuple[dict[str, int], dict[str, int]]:
    """Per member of ``coop`` (a sale naming none aside): credit bought in ``year``, and
    what she still owes at its end (only the non-zero ones), from the events."""
    y = str(year)
    bought: dict[str, int] = {}
    owed: dict[str, int] = {}
    for (c, member), entries in credit_entries(events).items():
        if c != coop or not member:
            continue
        if sold := sum(s for day, s, _ in entries if day[:4] == y):
            bought[member] = sold
        if (balance := sum(s - r for day, s, r in entries if day[:4] <= y)) > 0:
            owed[member] = balance
    return bought, owed


def sold_and_repaid_by(events: list[Event], day: str) -> tuple[int, int]:
    """Credit sold and repaid on days up to ``day``, over every cooperative."""
    entries = [x for xs in credit_entries(events).values() for x in xs if x[0] <= day]
    return sum(x[1] for x in entries), sum(x[2] for x in entries)


def as_of_day(events: list[Event], coop: str, day: str) -> list[dict[str, Any]]:
    """The ministry export's ``receivables`` of ``coop`` at the end of ``day``, from the
    events: per member with a credit sale or repayment dated by then."""
    out = []
    for (c, member), entries in sorted(credit_entries(events).items()):
        upto = [e for e in entries if c == coop and e[0] <= day]
        if not upto:
            continue
        sold, repaid = sum(e[1] for e in upto), sum(e[2] for e in upto)
        row = {"member_id": member or None, "sold": sold, "sales": sum(1 for e in upto if e[1]),
               "repaid": repaid, "repayments": sum(1 for e in upto if e[2])}  # fmt: skip
        out.append(row | {"outstanding": max(sold - repaid, 0), "overpaid": max(repaid - sold, 0)})
    return out
