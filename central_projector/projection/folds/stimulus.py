"""Stimulus fund: allocated, disbursed, utilised, repaid, and the revolving balance.

Conflict rules: sums, so any order gives the same totals. The revolving
balance is disbursed − utilised + repaid; a negative balance (a utilisation recorded
offline before the tranche that pays for it reached the device) is shown as it is,
never refused: the fact happened, the province reconciles.

Row ``fund`` (coop, fund_id) = ``{allocated, disbursed, utilised, repaid, balance,
by_purpose: {purpose: amount}, tranches, program_year, source}``.
"""

from __future__ import annotations

from central_projector.projection.folds.base import Event, Row, State


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
    }
    return row, key


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    row["balance"] = row["disbursed"] - row["utilised"] + row["repaid"]
    state.put("fund", key, row)


def allocated(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    row["allocated"] += ev.payload["amount"]
    if row["alloc_okey"] is None or row["alloc_okey"] < ev.okey:
        row["alloc_okey"] = ev.okey
        row["program_year"] = ev.payload["program_year"]
        row["source"] = ev.payload["source"]
    _finish(state, row, key)


def disbursed(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    row["disbursed"] += ev.payload["amount"]
    row["tranches"] += 1
    _finish(state, row, key)


def utilised(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    amount, purpose = ev.payload["amount"], ev.payload["purpose"]
    row["utilised"] += amount
    row["by_purpose"][purpose] = row["by_purpose"].get(purpose, 0) + amount
    _finish(state, row, key)


def repaid(state: State, ev: Event) -> None:
    row, key = _fund(state, ev)
    row["repaid"] += ev.payload["amount"]
    _finish(state, row, key)


HANDLERS = {
    "StimulusFundAllocated": allocated,
    "StimulusTrancheDisbursed": disbursed,
    "StimulusFundUtilized": utilised,
    "StimulusRevolvingRepaymentMade": repaid,
}
