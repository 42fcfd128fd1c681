"""The loan book of a region's cooperatives as of a day, summed by SQL where it can be.

A loan whose every movement is dated by the day (``last_day``) stands on that day as
its row does: only its arrears depend on the day, and the row keeps what it owes by
instalment (``dues``, the first of them due on ``unpaid_since``; see
:func:`central_projector.projection.folds.loans._store_dues`). Days past due are the
day less ``unpaid_since`` when that is before the day, so the buckets and PAR30 are
ranges of ``unpaid_since``: one grouped query adds up every such loan of a province.
Principal in arrears is summed from ``dues`` for the loans in arrears only. A loan with a
movement dated after the day (a date in the past) is replayed from its movements
(:func:`central_projector.projection.folds.portfolio.portfolio`), as before; the result
is the same figure by figure (a property test compares them).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds import portfolio
from central_projector.projection.readmodels.tables import TABLES, decode_row, unpack

T = TABLES["loan"]
SUMMED = ("disbursed", "principal_repaid", "interest_repaid", "overpaid", "written_off",
          "recovered")  # fmt: skip
RUNNING_SUMS = ("outstanding_principal", "interest_outstanding")


def loan_book(
    conn: sa.Connection, lo: str, hi: str, as_of: str, fig: Callable[[str], dict[str, Any]]
) -> None:
    """Add the loan book on ``as_of`` of the cooperatives with ids in [lo, hi) into
    ``fig(coop_id)["loans"]`` (every figure but ``par30_bp``, derived per level)."""
    c = T.c
    region = sa.and_(c.coop_id >= lo, c.coop_id < hi)
    settled = sa.or_(c.last_day.is_(None), c.last_day <= as_of)
    running = sa.and_(c.status == "DISBURSED", c.outstanding_principal > 0)
    since = c.unpaid_since

    def on(days: int) -> str:
        return (dt.date.fromisoformat(as_of) - dt.timedelta(days=days)).isoformat()

    def when(cond: sa.ColumnElement[bool], value: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((cond, value), else_=0)), 0)

    late = sa.and_(since.is_not(None), since < as_of)  # days past due ≥ 1
    ranges = {
        "current": sa.not_(late),
        "1-30": sa.and_(late, since >= on(30)),
        "31-60": sa.and_(since < on(30), since >= on(60)),
        "61-90": sa.and_(since < on(60), since >= on(90)),
        portfolio.OVER: since < on(90),
    }
    out = c.outstanding_principal
    columns = {
        "loans": sa.func.count(),
        "running": when(running, 1),
        **{k: sa.func.coalesce(sa.func.sum(c[k]), 0) for k in SUMMED},
        **{k: when(running, c[k]) for k in RUNNING_SUMS},
        "written_off_loans": when(c.status == "WRITTEN_OFF", 1),
        "par30": when(sa.and_(running, since < on(30)), out),
        **{f"bucket:{name}": when(sa.and_(running, cond), out) for name, cond in ranges.items()},
    }
    q = (
        sa.select(c.coop_id, *(v.label(k.replace(":", "_")) for k, v in columns.items()))
        .where(region, settled)
        .group_by(c.coop_id)
    )
    for row in conn.execute(q):
        section = fig(row[0])["loans"]
        for key, value in zip(columns, row[1:], strict=True):
            if key.startswith("bucket:"):
                section["arrears_buckets"][key[7:]] += int(value)
            else:
                section[key] += int(value)
    # one pass over the table finds both the loans in arrears and whether any loan has
    # a movement after the day (usually none for a recent day): those are replayed
    later = c.last_day > as_of
    q2 = sa.select(c.coop_id, c.dues, later).where(
        region, sa.or_(sa.and_(settled, running, late), later)
    )
    replay = False
    for coop_id, data, after in conn.execute(q2):
        if after:
            replay = True
            continue
        dues = unpack(data) or []
        overdue = bisect_left([d[0] for d in dues], as_of)
        fig(coop_id)["loans"]["principal_in_arrears"] += sum(d[1] for d in dues[:overdue])
    if replay:
        _replayed(conn, sa.and_(region, later), as_of, fig)


def _replayed(
    conn: sa.Connection,
    chosen: sa.ColumnElement[bool],
    as_of: str,
    fig: Callable[[str], dict[str, Any]],
) -> None:
    """The loans with movements dated after the day, each replayed up to it."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(sa.select(T).where(chosen)).mappings():
        rows[r["coop_id"]].append(decode_row("loan", dict(r)))
    for coop_id, loans in rows.items():
        book = portfolio.portfolio(loans, as_of)
        section = fig(coop_id)["loans"]
        for key, value in book.items():
            if key in section and key not in ("arrears_buckets", "par30_bp"):
                section[key] += value
        for name, value in book["arrears_buckets"].items():
            section["arrears_buckets"][name] += value
