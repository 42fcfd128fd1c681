"""One cooperative's data shaped for the ministry's reporting: one table per subject.

Tables (every field documented in ``docs/EXPORTS.md``): ``cooperative`` (one row),
``members``, ``savings``, ``loans``, ``receivables`` (member credit, per member), and the
business units ``sales`` (per month and item), ``stock``, ``aid`` (per programme and
cycle) and ``stimulus``. Members are
listed by their cooperative id and status only: names, NIK, KK and phone numbers stay in
the province (UU PDP: the ministry's figures need none of them). Money is integer rupiah.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds import (
    membership,
    portfolio,
    receivables,
    savings,
    stimulus,
    stock_dated,
)
from central_projector.projection.readmodels.queries import alias_map, nik_groups
from central_projector.projection.readmodels.tables import TABLES, decode_row
from central_projector.reporting.regions import Region
from central_projector.reporting.rollups import coop_figures
from sync_core.localtime import zone_of

T = TABLES
Table = list[dict[str, Any]]
# the export's tables, in the order it writes them
TABLES_OUT = ("cooperative", "members", "savings", "loans", "receivables", "sales", "stock",
              "aid", "stimulus")  # fmt: skip


def _rows(conn: sa.Connection, kind: str, coop_id: str) -> Table:
    t = T[kind]
    pk = [t.c[c.name] for c in t.primary_key.columns]
    q = sa.select(t).where(t.c.coop_id == coop_id).order_by(*pk)
    return [decode_row(kind, dict(r)) for r in conn.execute(q).mappings()]


def coop_export(conn: sa.Connection, coop_id: str, as_of: str, now_ms: int) -> dict[str, Table]:
    """The ministry's tables of ``coop_id`` at the end of the day ``as_of``: members,
    savings, loans, member credit, sales, stock, aid and the stimulus fund as dated by then."""
    digits = coop_id.split("-")[0]
    figures = coop_figures(conn, Region(coop_id, "cooperative"), as_of, now_ms=now_ms).get(coop_id)
    sync = figures["sync"] if figures else {}
    cooperative = {
        "coop_id": coop_id,
        "province": coop_id[:2],
        "regency": coop_id[:4],
        "district": coop_id[:6],
        "village": digits,
        "zone": zone_of(coop_id),
        "as_of": as_of,
        "events": sync.get("events", 0),
        "devices": sync.get("devices", 0),
    }
    return {
        "cooperative": [cooperative],
        "members": _members(conn, coop_id, as_of),
        "savings": _savings(conn, coop_id, as_of),
        "loans": _loans(conn, coop_id, as_of),
        "receivables": receivables_table(conn, coop_id, as_of),
        "sales": _sales(conn, coop_id, as_of),
        "stock": _stock(conn, coop_id, as_of),
        "aid": _aid(figures),
        "stimulus": _stimulus(conn, coop_id, as_of),
    }


def _members(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    members = _rows(conn, "member", coop_id)
    alias_of = alias_map(coop_id, nik_groups(conn, members))
    return [
        {
            "member_id": m["member_id"],
            "status": status,
            "desa_code": (m["profile"] or {}).get("desa_code", [None])[0],
            "alias_of": alias_of.get(m["member_id"]),
            "merged_into": (m["merged_into"] or [None])[0],
        }
        for m in members
        if (status := membership.status_on(m, as_of)) is not None
    ]


def _savings(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    keys = ("account_id", "member_id", "product", "opened_on", "deposits", "withdrawals",
            "reversed_deposits", "reversed_withdrawals", "balance")  # fmt: skip
    rows = (savings.as_of(a, as_of) for a in _rows(conn, "savings", coop_id))
    return [{k: a[k] for k in keys} for a in rows if a is not None]


def _loans(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    rows = _rows(conn, "loan", coop_id)
    terms = {r["loan_id"]: (r["terms"] or {}) for r in rows}
    return [
        {
            **line,
            "principal": terms[line["loan_id"]].get("principal"),
            "rate_bp": terms[line["loan_id"]].get("rate_bp"),
            "tenor_months": terms[line["loan_id"]].get("tenor_months"),
            "first_due": terms[line["loan_id"]].get("first_due"),
        }
        for line in portfolio.portfolio(rows, as_of)["list"]
    ]


def receivables_table(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    """Each member's credit at the end of ``as_of``: sales on their days, repayments on
    their ``paid_on``; ``member_id`` None for credit of a sale that named no member."""
    keys = ("sold", "sales", "repaid", "repayments", "outstanding", "overpaid")
    rows = (receivables.as_of(r, as_of) for r in _rows(conn, "receivable", coop_id))
    # sorted here: the databases' collations need not order member ids alike
    found = sorted((r for r in rows if r is not None), key=lambda r: str(r["member_id"]))
    return [{"member_id": r["member_id"] or None, **{k: r[k] for k in keys}} for r in found]


def _sales(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    months: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"qty": 0, "amount": 0, "lines": 0, "voided_qty": 0, "voided_amount": 0}
    )
    for r in _rows(conn, "sales_day", coop_id):
        if r["day"] <= as_of:
            cell = months[(r["day"][:7], r["sku"])]
            for k in cell:
                cell[k] += r[k]
    return [{"month": m, "sku": sku, **cell} for (m, sku), cell in sorted(months.items())]


def _stock(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    keys = ("location", "sku", "on_hand", "received", "sold", "returned", "adjusted",
            "shipped_out", "shipped_in", "counts")  # fmt: skip
    rows = (stock_dated.as_of(r, as_of) for r in _rows(conn, "stock", coop_id))
    return [{k: r[k] for k in keys} for r in rows if r is not None]


def _aid(figures: dict[str, Any] | None) -> Table:
    if not figures:
        return []
    return [
        {"program": program, "cycle": cycle, **cell}
        for program, cycles in sorted(figures["aid"]["by_program"].items())
        for cycle, cell in sorted(cycles.items())
    ]


def _stimulus(conn: sa.Connection, coop_id: str, as_of: str) -> Table:
    keys = ("fund_id", "program_year", "allocated", "tranches", "disbursed", "utilised",
            "repaid", "balance")  # fmt: skip
    rows = (stimulus.as_of(r, as_of) for r in _rows(conn, "fund", coop_id))
    return [{k: r[k] for k in keys} for r in rows if r is not None]
