"""The basis of a cooperative's annual members' meeting (RAT) for one fiscal year.

A fiscal year is the calendar year of the cooperative's local days (WIB/WITA/WIT by its
province). From the read models:

- **revenue**: the sales of the year (voided ones excluded), on the day each fell;
- **cost of goods sold**: per item, the quantity sold times its average received cost
  (Σ qty × unit cost over the receipts that recorded a cost, at every location); items
  sold with no costed receipt are listed as ``uncosted`` and count nothing;
- **gross margin** = revenue − cost of goods sold;
- **interest income**: loan interest repaid in the year (business date of the repayment);
- **expenses recorded**: loan principal written off in the year (interest never earned is
  no loss); no other event of the catalog records an operating expense;
- **SHU** (sisa hasil usaha) = gross margin + interest income − expenses recorded;
- **member credit** (piutang anggota): credit sold in the year (sales paid by member
  credit, on the sale's day), repaid in the year (business date of the repayment), and
  at the year's end the receivables outstanding (Σ over members of what each still owes)
  and what members paid beyond their debt (``credit_overpaid``, to refund or keep as an
  advance); credit sold up to then = repaid up to then + outstanding − overpaid;
- **member participation**: each member's purchases of the year (sales naming the member,
  whatever the payment), the part of them bought on member credit (``credit_bought``),
  what she still owes at the year's end (``credit_outstanding``: her credit sold up to
  then less what she repaid, never below zero) and savings at the year's end (Σ of the
  net movements of the member's accounts up to that year); a member with only a debt
  left from an earlier year is listed too. Credit of a sale that named no member (only
  one recorded before the edge asked for the member) counts in the cooperative's credit
  figures, not in the list;
- **allocation** of a positive SHU by the statute's shares (percent); the members' shares
  (jasa usaha by purchases, jasa modal by savings) are divided in proportion, rounded
  down to the rupiah, what rounding leaves goes to the reserve. Money is integer rupiah.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from central_projector.projection.readmodels.tables import TABLES, decode_row
from sync_core.errors import UsageError
from sync_core.loanbook import BY_YEAR_FIELDS

Row = dict[str, Any]

# A common statute's shares; a cooperative's own are given with --share.
DEFAULT_SHARES = {
    "reserve": 40,
    "jasa_usaha": 25,
    "jasa_modal": 20,
    "management": 5,
    "education": 5,
    "social": 5,
}
INTEREST = BY_YEAR_FIELDS.index("interest")
WRITTEN_OFF = BY_YEAR_FIELDS.index("written_off")


def check_shares(shares: Mapping[str, int]) -> dict[str, int]:
    """Statute shares in whole percent, summing to 100, with the members' two shares."""
    out = {**{k: 0 for k in DEFAULT_SHARES}, **shares}
    bad = [k for k, v in out.items() if v < 0]
    if bad or sum(out.values()) != 100:
        raise UsageError(
            f"the SHU shares must be whole percents ≥ 0 adding up to 100, not {out}; "
            "give them as --share reserve=40 --share jasa_usaha=25 …"
        )
    return out


def rat_basis(
    coop_id: str,
    year: int,
    sales: Iterable[Row],
    stock: Iterable[Row],
    loans: Iterable[Row],
    savings: Iterable[Row],
    shares: Mapping[str, int] = DEFAULT_SHARES,
    receivables: Iterable[Row] = (),
) -> dict[str, Any]:
    """The RAT figures of ``coop_id`` for ``year`` from its read-model rows (pure)."""
    y = str(year)
    cost_qty: dict[str, int] = defaultdict(int)
    cost_value: dict[str, int] = defaultdict(int)
    for s in stock:
        cost_qty[s["sku"]] += s["cost_qty"] or 0
        cost_value[s["sku"]] += s["cost_value"] or 0
    revenue = 0
    sold: dict[str, int] = defaultdict(int)
    purchases: dict[str, int] = defaultdict(int)
    for sale in sales:
        if not sale["recorded"] or sale["void_okey"] is not None or sale["day"][:4] != y:
            continue
        revenue += sale["total"]
        for sku, qty, _price in sale["lines"]:
            sold[sku] += qty
        if sale["member_id"]:
            purchases[sale["member_id"]] += sale["total"]
    cogs = sum(qty * cost_value[sku] // cost_qty[sku] for sku, qty in sold.items() if cost_qty[sku])
    interest = sum((r["by_year"] or {}).get(y, [0] * 6)[INTEREST] for r in loans)
    expenses = sum((r["by_year"] or {}).get(y, [0] * 6)[WRITTEN_OFF] for r in loans)
    saved: dict[str, int] = defaultdict(int)
    for a in savings:
        if a["member_id"]:
            saved[a["member_id"]] += sum(v for k, v in (a["by_year"] or {}).items() if k <= y)
    margin = revenue - cogs
    shu = margin + interest - expenses
    shares = check_shares(shares)
    allocation = _allocate(shu, shares)
    usaha = _split(allocation["jasa_usaha"], purchases)
    modal = _split(allocation["jasa_modal"], saved)
    allocation["reserve"] += allocation["jasa_usaha"] - sum(usaha.values())
    allocation["reserve"] += allocation["jasa_modal"] - sum(modal.values())
    allocation["jasa_usaha"], allocation["jasa_modal"] = sum(usaha.values()), sum(modal.values())
    bought, owed = _credit_by_member(receivables, y)
    members = sorted(set(purchases) | {m for m, v in saved.items() if v} | set(bought) | set(owed))
    return {
        "coop_id": coop_id,
        "year": year,
        "revenue": revenue,
        "cost_of_goods_sold": cogs,
        "uncosted": sorted(sku for sku in sold if not cost_qty[sku]),
        "gross_margin": margin,
        "interest_income": interest,
        "expenses_recorded": expenses,
        "shu": shu,
        **_member_credit(receivables, y),
        "shares": shares,
        "allocation": allocation,
        "members": [
            {
                "member_id": m,
                "purchases": purchases.get(m, 0),
                "credit_bought": bought.get(m, 0),
                "credit_outstanding": owed.get(m, 0),
                "savings": saved.get(m, 0),
                "jasa_usaha": usaha.get(m, 0),
                "jasa_modal": modal.get(m, 0),
            }
            for m in members
        ],
    }


def _member_credit(receivables: Iterable[Row], y: str) -> dict[str, int]:
    """Credit sold and repaid in year ``y``; outstanding and overpaid at its end."""
    sold = repaid = outstanding = overpaid = 0
    for r in receivables:
        years = r["by_year"] or {}
        sold += years.get(y, [0, 0])[0]
        repaid += years.get(y, [0, 0])[1]
        balance = sum(s - p for k, (s, p) in years.items() if k <= y)
        outstanding += max(balance, 0)
        overpaid += max(-balance, 0)
    return {
        "credit_sold": sold,
        "credit_repaid": repaid,
        "receivables_outstanding": outstanding,
        "credit_overpaid": overpaid,
    }


def _credit_by_member(receivables: Iterable[Row], y: str) -> tuple[dict[str, int], dict[str, int]]:
    """Per member: credit bought in year ``y``, and what she still owes at its end."""
    bought: dict[str, int] = {}
    owed: dict[str, int] = {}
    for r in receivables:
        if not r["member_id"]:
            continue
        years = r["by_year"] or {}
        if sold := years.get(y, [0, 0])[0]:
            bought[r["member_id"]] = sold
        if (balance := sum(s - p for k, (s, p) in years.items() if k <= y)) > 0:
            owed[r["member_id"]] = balance
    return bought, owed


def _allocate(shu: int, shares: Mapping[str, int]) -> dict[str, int]:
    """A positive SHU by shares, rounded down; the rest of the rounding to the reserve."""
    if shu <= 0:
        return {k: 0 for k in shares}
    out = {k: shu * pct // 100 for k, pct in shares.items()}
    out["reserve"] += shu - sum(out.values())
    return out


def _split(pool: int, weights: Mapping[str, int]) -> dict[str, int]:
    """``pool`` in proportion to positive ``weights``, each share rounded down."""
    positive = {k: w for k, w in weights.items() if w > 0}
    total = sum(positive.values())
    return {k: pool * w // total for k, w in positive.items()} if total else {}


def coop_rat(
    conn: sa.Connection, coop_id: str, year: int, shares: Mapping[str, int] = DEFAULT_SHARES
) -> dict[str, Any]:
    """:func:`rat_basis` over the projected read models of one cooperative."""

    def rows(kind: str) -> list[Row]:
        t = TABLES[kind]
        found = conn.execute(sa.select(t).where(t.c.coop_id == coop_id)).mappings()
        return [decode_row(kind, dict(r)) for r in found]

    return rat_basis(
        coop_id,
        year,
        rows("sale"),
        rows("stock"),
        rows("loan"),
        rows("savings"),
        shares,
        receivables=rows("receivable"),
    )
