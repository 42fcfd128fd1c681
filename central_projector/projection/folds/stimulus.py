"""Stimulus fund: allocated, disbursed, utilised, repaid, and the revolving balance.

Conflict rules: sums, so any order gives the same totals. The revolving
balance is disbursed − utilised + repaid; a negative balance (a utilisation recorded
offline before the tranche that pays for it reached the device) is shown as it is,
never refused: the fact happened, the province reconciles.

Row ``fund`` (coop, fund_id) = ``{allocated, disbursed, utilised, repaid, balance,
by_purpose: {purpose: amount}, tranches, program_year, source, asof}``; ``asof`` =
``{first, days: {day: [allocated, disbursed, utilised, repaid, tranches]}}``: the fund
counts from the first day anything happens to it, and each amount moves its figures on
its event's day (a tranche's ``disbursed_on``, …; :mod:`.daily`).
"""

from __future__ import annotations

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Event, Row, State

# figure -> its sign in the revolving balance
_BALANCE = {"allocated": 0, "disbursed": 1, "utilised": -1, "repaid": 1}
DAY_COLUMNS = ("allocated", "disbursed", "utilised", "repaid", "tranches")


def _fund(state: State, ev: Event) -> tuple[Row, tuple[str, str]]:
    key = (ev.coop_id, ev.aggregate_id)
    row = state.get("fund", key) or {
        "coop_id": key[0],
        "fund_id": key[1],
        "allocated": 0,
        "disbursed": 0,
        "utilised": 0,
        "repaid": 0,
        "balance": 0,
        "by_purpose": {},
        "tranches": 0,
        "program_year": None,
        "source": None,
        "alloc_okey": None,
        "asof": {},
    }
    return row, key


def _dated(state: State, row: Row, ev: Event, figure: str) -> None:
    """The fund counts from its first day; ``figure`` moves by the event's amount on its day."""
    day, coop, amount = daily.event_day(ev), row["coop_id"], ev.payload["amount"]
    doc = daily.asof(row)
    before = doc.get("first")
    if daily.earliest(doc, "first", day):
        if before is not None:
            state.add_day("fund", coop, before, "stimulus.funds", -1)
        state.add_day("fund", coop, day, "stimulus.funds", 1)
    cell = doc.setdefault("days", {}).setdefault(day, [0] * len(DAY_COLUMNS))
    cell[DAY_COLUMNS.index(figure)] += amount
    cell[-1] += 1 if figure == "disbursed" else 0
    state.add_day("fund", coop, day, f"stimulus.{figure}", amount)
    if _BALANCE[figure]:
        state.add_day("fund", coop, day, "stimulus.balance", _BALANCE[figure] * amount)


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    row["balance"] = row["disbursed"] - row["utilised"] + row["repaid"]
    state.put("fund", key, row)


def allocated(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    _dated(state, row, ev, "allocated")
    row["allocated"] += ev.payload["amount"]
    if row["alloc_okey"] is None or row["alloc_okey"] < ev.okey:
        row["alloc_okey"] = ev.okey
        row["program_year"] = ev.payload["program_year"]
        row["source"] = ev.payload["source"]
    _finish(state, row, key)


def disbursed(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    _dated(state, row, ev, "disbursed")
    row["disbursed"] += ev.payload["amount"]
    row["tranches"] += 1
    _finish(state, row, key)


def utilised(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    _dated(state, row, ev, "utilised")
    amount, purpose = ev.payload["amount"], ev.payload["purpose"]
    row["utilised"] += amount
    row["by_purpose"][purpose] = row["by_purpose"].get(purpose, 0) + amount
    _finish(state, row, key)


def repaid(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    _dated(state, row, ev, "repaid")
    row["repaid"] += ev.payload["amount"]
    _finish(state, row, key)


def as_of(row: Row, day: str) -> Row | None:
    """The fund at the end of ``day`` (its amounts dated by then); ``None`` before anything
    happened to it."""
    doc = row.get("asof") or {}
    if doc.get("first") is None or doc["first"] > day:
        return None
    sums = [0] * len(DAY_COLUMNS)
    for d, cell in doc.get("days", {}).items():
        if d <= day:
            sums = [a + b for a, b in zip(sums, cell, strict=True)]
    out = {**row, **dict(zip(DAY_COLUMNS, sums, strict=True))}
    out["balance"] = sum(_BALANCE[k] * out[k] for k in _BALANCE)
    return out


HANDLERS = {
    "StimulusFundAllocated": allocated,
    "StimulusTrancheDisbursed": disbursed,
    "StimulusFundUtilized": utilised,
    "StimulusRevolvingRepaymentMade": repaid,
}
