"""The dated figures of a region's cooperatives as of a day, in one aggregate query.

The projection keeps each cooperative's dated figures as deltas per local day
(``rm_coop_day``) and their running sums (``rm_coop_total``,
:mod:`central_projector.projection.folds.daily`). As of DATE a figure is its running sum
less its deltas on the days after DATE: for a recent date (the default, today) those are
few rows, whatever the history's length, so a province of 1,571 cooperatives is read in
one grouped query over about a hundred rows per cooperative.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from central_projector.projection.readmodels.tables import LIVE

# what an aid cell (programme, cycle) holds, every key present
AID_CELL = ("entitlements", "entitled_value", "redeemed", "redeemed_value", "disputed",
            "disputed_value", "value_at_risk")  # fmt: skip


def dated(
    conn: sa.Connection,
    lo: str,
    hi: str,
    as_of: str,
    fig: Callable[[str], dict[str, Any]],
    width: int | None = None,
) -> None:
    """Add every dated figure of the cooperatives with ids in [lo, hi) as of ``as_of``
    into ``fig(coop_id)`` (that cooperative's figures, by section); with ``width``, into
    ``fig(unit)`` for the units the ids' first ``width`` digits name (a province's
    regencies), summed by the database: a province's cooperatives hold a hundred or so
    figures each (one per aid programme, cycle and figure), too many rows to add up one
    by one in Python, while its regencies hold a few thousand between them."""
    d, t = LIVE.coop_day, LIVE.coop_total
    total = sa.select(t.c.coop_id, t.c.figure, t.c.amount).where(
        t.c.coop_id >= lo, t.c.coop_id < hi
    )
    later = sa.select(d.c.coop_id, d.c.figure, -d.c.amount).where(
        d.c.day > as_of, d.c.coop_id >= lo, d.c.coop_id < hi
    )
    both = sa.union_all(total, later).subquery()
    per_coop = sa.select(
        both.c.coop_id, both.c.figure, sa.func.sum(both.c.amount).label("amount")
    ).group_by(both.c.coop_id, both.c.figure)
    if width is None:
        for coop_id, figure, amount in conn.execute(per_coop):
            if amount:
                place(fig(coop_id), figure, int(amount))
        return
    pc = per_coop.subquery()
    unit = sa.func.substr(pc.c.coop_id, 1, width)
    # a figure is shown where some cooperative has it (not zero), as the sum would show it
    having = sa.func.sum(sa.case((pc.c.amount != 0, 1), else_=0))
    q = sa.select(unit, pc.c.figure, sa.func.sum(pc.c.amount), having).group_by(unit, pc.c.figure)
    for code, figure, amount, nonzero in conn.execute(q):
        if nonzero:
            place(fig(code), figure, int(amount))


def coops(conn: sa.Connection, lo: str, hi: str) -> set[str]:
    """The cooperatives with ids in [lo, hi) that have any dated figure."""
    t = LIVE.coop_total
    q = sa.select(t.c.coop_id).where(t.c.coop_id >= lo, t.c.coop_id < hi).distinct()
    return {r[0] for r in conn.execute(q)}


def place(figures: dict[str, Any], figure: str, amount: int) -> None:
    """Add ``amount`` at the dotted path ``figure`` (``aid.by_program.P.C.redeemed``)."""
    path, name = _path(figure)
    at = figures
    for step, cell in path:
        found = at.get(step)
        if found is None:  # an aid cell shows all of its figures
            found = at[step] = dict.fromkeys(AID_CELL, 0) if cell else {}
        at = found
    at[name] = at.get(name, 0) + amount


@functools.lru_cache(maxsize=4096)
def _path(figure: str) -> tuple[tuple[tuple[str, bool], ...], str]:
    """A figure's steps (each with whether it is an aid cell) and its last name: the same
    few dozen figures recur for every cooperative of a province."""
    *steps, name = figure.split(".")
    cells = tuple((s, i == 3 and steps[1] == "by_program") for i, s in enumerate(steps))
    return cells, name
