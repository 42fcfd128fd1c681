"""A stock item's figures day by day (:mod:`.daily`): ``shop.stock_items`` from its first
movement's day, ``shop.stock_negative`` on the days its on-hand ends below zero.

On-hand at the end of a day follows the same rule as the row's (a count fixes it): the
latest count by total order made by then, plus the movements after it made by then, else
the sum of the movements made by then. Movements and counts fall on the local day of
their HLC wall time (a movement before a count in total order is never on a later day).

``asof`` of a stock row = ``{first, days: {day: [net, received, sold, returned, adjusted,
shipped_out, shipped_in]}, counts: [[order key, qty, Σ movements before it]…] (in total
order), neg: {day: ±1}, last: [day, on-hand]}``. ``neg`` are the changes of the negative
flag the row has added to the ledger, ``last`` the on-hand on the latest day with a
change. The usual movement (after every count, on the latest day or later) changes the
on-hand of its own day only; any other (and a count) re-derives the days from its own on.
"""

from __future__ import annotations

import bisect
from typing import Any

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Okey, Row, State

COLUMNS = ("received", "sold", "returned", "adjusted", "shipped_out", "shipped_in")
NEGATIVE, ITEMS = "shop.stock_negative", "shop.stock_items"
_AT = {column: i for i, column in enumerate(COLUMNS, 1)}  # its place in a day's cell


def moved(state: State, row: Row, okey: Okey, delta: int, column: str, counted: int) -> None:
    """One movement of ``delta`` (``counted`` under ``column``, as the row counts it)."""
    doc, coop = _doc(row), row["coop_id"]
    day = daily.okey_day(okey, coop)
    days = doc["days"]
    cell = days.get(day)
    if cell is None:
        cell = days[day] = [0] * (1 + len(COLUMNS))
    cell[0] += delta
    cell[_AT[column]] += counted
    if not any(cell):  # a superseded recording taken back: as if it never moved
        del days[day]
        _first(state, row, day)
    elif doc.get("first") is None or day < doc["first"]:
        _first(state, row, day)
    counts = doc["counts"]
    # counts are in total order: the ones after the movement are a tail, usually empty
    i = len(counts)
    while i and okey < counts[i - 1][0]:
        i -= 1
        counts[i][2] += delta
    last = doc.get("last")
    if i == len(counts) and (last is None or day >= last[0]) and day in days:
        # the usual movement: after every count, on the latest day or later, so it moves
        # the on-hand of its own day only
        before = last[1] if last is not None else 0
        doc["last"] = [day, before + delta]
        _flag(state, row, day, (before + delta < 0) - (before < 0))
    else:  # a late one: the days from its own on
        _recompute(state, row, day)


def counted(state: State, row: Row, okey: Okey, qty: int, before: int) -> None:
    """A count of ``qty`` at ``okey``, ``before`` the movements ahead of it in total order."""
    counts = _doc(row)["counts"]
    if all(c[0] != okey for c in counts):
        bisect.insort(counts, [okey, qty, before])
        _first(state, row, None)
        _recompute(state, row, daily.okey_day(okey, row["coop_id"]))


def _doc(row: Row) -> dict[str, Any]:
    """The row's ``asof`` with every key present (the same whichever way it was reached)."""
    doc = daily.asof(row)
    if "days" not in doc:
        doc.update(first=None, days={}, counts=[], neg={}, last=None)
    return doc


def gone(state: State, row: Row) -> None:
    """The row goes (only a superseded recording ever moved it): take back its figures."""
    doc, coop = daily.asof(row), row["coop_id"]
    if doc.get("first") is not None:
        state.add_day("stock", coop, doc["first"], ITEMS, -1)
    for day, change in doc.get("neg", {}).items():
        state.add_day("stock", coop, day, NEGATIVE, -change)
    row["asof"] = {}


def as_of(row: Row, day: str) -> Row | None:
    """The item at the end of ``day``: on-hand and movements by then; ``None`` before its
    first one."""
    doc, coop = row.get("asof") or {}, row["coop_id"]
    if doc.get("first") is None or doc["first"] > day:
        return None
    sums = [0] * (1 + len(COLUMNS))
    for d, cell in doc.get("days", {}).items():
        if d <= day:
            sums = [a + b for a, b in zip(sums, cell, strict=True)]
    made = [c for c in doc.get("counts", ()) if daily.okey_day(c[0], coop) <= day]
    value = sums[0] if not made else made[-1][1] + sums[0] - made[-1][2]
    return {**row, **dict(zip(COLUMNS, sums[1:], strict=True)), "on_hand": value,
            "counts": len(made)}  # fmt: skip


def _first(state: State, row: Row, touched: str | None) -> None:
    """The item counts from the first day with a movement or a count; ``touched``: the
    only day whose movements changed (``None``: look at every day)."""
    doc, coop = daily.asof(row), row["coop_id"]
    before, days = doc.get("first"), doc.get("days", {})
    if touched is not None and touched in days:
        first = touched if before is None or touched < before else before
    elif touched is not None and touched != before:
        first = before
    else:
        found = [*days, *(daily.okey_day(c[0], coop) for c in doc.get("counts", ()))]
        first = min(found, default=None)
    if first != before:
        if before is not None:
            state.add_day("stock", coop, before, ITEMS, -1)
        if first is not None:
            state.add_day("stock", coop, first, ITEMS, 1)
        doc["first"] = first


def _flag(state: State, row: Row, day: str, change: int) -> None:
    if change:
        neg = daily.asof(row).setdefault("neg", {})
        value = neg.get(day, 0) + change
        if value:
            neg[day] = value
        else:
            neg.pop(day, None)
        state.add_day("stock", row["coop_id"], day, NEGATIVE, change)


def _recompute(state: State, row: Row, start: str | None = None) -> None:
    """The item's on-hand on every day with a change from ``start`` on (every day when
    ``None``), and the negative flag's changes: a movement or a count changes the
    on-hand of its own day and the days after it only, so the days before ``start``
    keep their flags and only their net movements are added up."""
    doc, coop = daily.asof(row), row["coop_id"]
    days = doc.get("days", {})
    counts = doc.get("counts", [])
    count_days = [daily.okey_day(c[0], coop) for c in counts]  # in order, as the counts
    old = doc.get("neg", {})
    if start is None:
        net = latest = 0
        neg: dict[str, int] = {}
        tail = sorted(set(days) | set(count_days))
    else:
        net = sum(cell[0] for day, cell in days.items() if day < start)
        latest = bisect.bisect_left(count_days, start)
        neg = {day: change for day, change in old.items() if day < start}
        tail = sorted({*(d for d in days if d >= start), *count_days[latest:]})
        if not tail:  # the latest day emptied: its on-hand is the day before's
            _recompute(state, row)
            return
    chosen: list[Any] | None = counts[latest - 1] if latest else None
    was_negative = sum(neg.values()) > 0  # the flag's changes alternate, from +1
    last: list[Any] | None = None
    for day in tail:
        net += days[day][0] if day in days else 0
        while latest < len(counts) and count_days[latest] <= day:
            chosen, latest = counts[latest], latest + 1
        value = net if chosen is None else chosen[1] + net - chosen[2]
        negative = value < 0
        if negative != was_negative:
            neg[day] = 1 if negative else -1
        was_negative, last = negative, [day, value]
    for day in old.keys() | neg.keys():
        change = neg.get(day, 0) - old.get(day, 0)
        if change:
            state.add_day("stock", coop, day, NEGATIVE, change)
    doc["neg"], doc["last"] = neg, last
