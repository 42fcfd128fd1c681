"""Dated roll-up figures: each cooperative's figures at the end of each of its local days.

The areas whose figures are balances or states (members, savings, the stimulus fund, aid,
stock) add signed *deltas* to a per-cooperative, per-day ledger (``rm_coop_day``, with
its running sum ``rm_coop_total``), written in the same transaction as their rows
(:meth:`~central_projector.projection.folds.base.State.add_day`). A figure as of DATE is
the sum of its deltas on days up to DATE, so a region's figure is one aggregate query,
and adds up over cooperatives by construction.

The day of an event is its business date where its type has one (:data:`BUSINESS_DATE`:
an approval's ``approved_on``, a tranche's ``disbursed_on``, …), else the local day of
its HLC wall time in the cooperative's zone (WIB/WITA/WIT, :mod:`sync_core.localtime`).

Two ways an area keeps its deltas, both a pure function of the set of events:

- *sums* (savings, fund amounts, stock movements): one delta per event on its day;
  what a late event changes (an account's product known only at its opening) is moved
  explicitly, day by day;
- *states* (a member's status, an entitlement's winner and duplicates): the row keeps
  the entries it last contributed (``asof["tl"]``); :func:`restate` derives the new
  entries from the row and adds only the differences.

Figures are named by their place in the roll-up (``members.by_status.APPROVED``,
``aid.by_program.BLT.2026-11.redeemed``); ids never contain dots.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from central_projector.projection.folds.base import Event, Okey, Row, State
from sync_core.localtime import local_day

# event type -> the payload field holding its business date
BUSINESS_DATE = {
    "MembershipApproved": "approved_on",
    "MemberResigned": "resigned_on",
    "SavingsAccountOpened": "opened_on",
    "StimulusTrancheDisbursed": "disbursed_on",
    "StimulusFundUtilized": "used_on",
    "StimulusRevolvingRepaymentMade": "paid_on",
    "MemberCreditRepaid": "paid_on",
}

Entries = dict[tuple[str, str, str], int]  # (coop_id, day, figure) -> amount


def event_day(ev: Event) -> str:
    """The local day an event counts on: its business date, else its HLC wall's day."""
    field = BUSINESS_DATE.get(ev.type)
    if field is not None:
        day = ev.payload.get(field)
        if day:
            return str(day)
    return local_day(ev.key[0], ev.coop_id)


def okey_day(okey: Okey, coop_id: str) -> str:
    """The local day of an order key's HLC wall time in ``coop_id``'s zone."""
    return local_day(okey[0], coop_id)


def asof(row: Row) -> dict[str, Any]:
    """The row's dated bookkeeping (the ``asof`` document), made when missing."""
    doc = row.get("asof")
    if doc is None:
        doc = row["asof"] = {}
    return doc


def earliest(doc: dict[str, Any], name: str, day: str) -> bool:
    """Keep the earlier of ``doc[name]`` and ``day``; whether it moved."""
    current = doc.get(name)
    if current is None or day < current:
        doc[name] = day
        return True
    return False


def restate(state: State, table: str, row: Row, entries: Entries) -> None:
    """Make the row's contribution ``entries``: add to the ledger what differs from the
    entries it contributed before (an empty ``entries`` takes them all back)."""
    doc = asof(row)
    new: list[list[Any]] = sorted([*key, amount] for key, amount in entries.items() if amount)
    old = doc.get("tl") or []
    if new == old:  # an event that moved none of the row's figures on any day
        return
    doc["tl"] = new
    before = {(c, d, f): a for c, d, f, a in old}
    for coop, day, figure, amount in new:
        delta = amount - before.pop((coop, day, figure), 0)
        if delta:
            state.add_day(table, coop, day, figure, delta)
    for (coop, day, figure), amount in before.items():  # no longer contributed
        state.add_day(table, coop, day, figure, -amount)


def steps(coop: str, states: Iterable[tuple[str, dict[str, int]]], into: Entries) -> Entries:
    """The deltas of a piecewise-constant state: ``states`` are (day, figures from that
    day on), in day order; each change is added on its day."""
    before: dict[str, int] = {}
    for day, now in states:
        for figure in before.keys() | now.keys():
            delta = now.get(figure, 0) - before.get(figure, 0)
            if delta:
                key = (coop, day, figure)
                into[key] = into.get(key, 0) + delta
        before = now
    return into
