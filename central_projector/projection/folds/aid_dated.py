"""An entitlement's aid figures, day by day (:mod:`.daily`).

As of a day, an entitlement counts at its home cooperative from the first day anything
is known of it; its live redemptions are those made by then and not voided by then; the
winner among them (smallest order key) makes it redeemed, the others are duplicates:
value at risk at home, a DISPUTED claim at the cooperative that made each. Its worth is
the granted value from the grant's day (before it, or for item entitlements, what the
winner records). The same rules as :func:`central_projector.projection.folds.aid._derive`,
each fact from its own day, so the latest day gives the entitlement's row as it stands.

``asof`` of an entitlement = ``{seen, voids: {redemption event id: day}, tl}``.

A fact changes the figures of its own day and the days after it only. So the usual event,
one on or after every day known of the entitlement before it (a redemption, a void, the
grant of an entitlement first seen then), changes only the figures as the row stands, and
only on its own day: its timeline is patched there by how they moved from the row before
it to the row after (:func:`restate`). Any other (a late fact, a new home cooperative,
programme or grant) re-derives the whole timeline from the facts (:func:`entries`).
"""

from __future__ import annotations

import bisect
import functools
from typing import Any

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Event, Okey, Row, State

# The entitlement before an event: home cooperative, programme, cycle, grant's order key,
# whether it had a timeline, its figures as they stood and the latest day anything was
# known of it on (see :func:`mark`).
Mark = tuple[str | None, str | None, str | None, Okey | None, bool, tuple[Any, ...], str]


def seen(row: Row, ev: Event) -> str:
    """Note the event's day as one the entitlement is known on; returns the day."""
    day = daily.event_day(ev)
    daily.earliest(daily.asof(row), "seen", day)
    return day


def voided(row: Row, target: str, ev: Event) -> str:
    """Note the void of ``target`` on the event's day; returns the day."""
    day = seen(row, ev)
    daily.earliest(daily.asof(row).setdefault("voids", {}), target, day)
    return day


def mark(row: Row) -> Mark:
    """What :func:`restate` needs of the row before an event changes it."""
    figures = (row["worth"], row["winner"] is not None, row["redeemed_value"], row["duplicates"])
    doc = row.get("asof") or {}
    had = bool(doc.get("tl"))
    latest = _latest(row, doc) if had else ""
    return row["coop_id"], row["program"], row["cycle"], row["grant_okey"], had, figures, latest


def restate(state: State, row: Row, was: Mark, day: str) -> None:
    """Bring the ledger and the timeline up to the row, after an event of ``day`` that
    found the row as ``was``."""
    home, program, cycle, grant, had, figures, latest = was
    doc = daily.asof(row)
    same = (home, program, cycle, grant) == (
        row["coop_id"], row["program"], row["cycle"], row["grant_okey"])  # fmt: skip
    # a day on or after every day known before: no fact's day moved (they move only
    # earlier), and the days before it keep their figures
    if (same or not had) and day >= latest:
        names = _names(row["program"] or "UNKNOWN", row["cycle"] or "-")
        now = row["worth"], row["winner"] is not None, row["redeemed_value"], row["duplicates"]
        _patch(state, doc, day, _change(row["coop_id"], names, figures if had else None, now))
    else:
        daily.restate(state, "entitlement", row, entries(row))


def _latest(row: Row, doc: dict[str, Any]) -> str:
    """The latest day anything is known of the entitlement on."""
    latest: str = doc["seen"]
    for r in row["redemptions"].values():
        made = daily.okey_day(r[0], r[1])
        if made > latest:
            latest = made
    for void in doc.get("voids", {}).values():
        if void > latest:
            latest = void
    if row["grant_okey"] is not None:
        latest = max(latest, daily.okey_day(row["grant_okey"], row["coop_id"]))
    return latest


def _change(
    home: str, names: dict[str, tuple[str, str]], before: tuple[Any, ...] | None,
    now: tuple[Any, ...],
) -> dict[tuple[str, str], int]:  # fmt: skip
    """How the figures as the row stands (those of its latest day in :func:`entries`)
    moved from ``before`` (``None``: nothing known of it) to ``now``, both (worth, whether
    a redemption won, the winner's value, the duplicates)."""
    out: dict[tuple[str, str], int] = {}
    worth, won, value, duplicates = now
    if before is None:
        before = 0, False, 0, ()
        _add(out, home, names, "entitlements", 1)
    _add(out, home, names, "entitled_value", worth - before[0])
    _add(out, home, names, "redeemed", won - before[1])
    _add(out, home, names, "redeemed_value", value - before[2])
    for sign, dups in ((1, duplicates), (-1, before[3])):
        for d in dups:
            _add(out, home, names, "value_at_risk", sign * d["value"])
            _add(out, d["coop_id"], names, "disputed", sign)
            _add(out, d["coop_id"], names, "disputed_value", sign * d["value"])
    return out


def _patch(state: State, doc: dict[str, Any], day: str, change: dict[tuple[str, str], int]) -> None:
    """Add ``change`` to the timeline on ``day``, on or after every day in it, and to the
    ledger: each entry is found (or placed) by bisection, in place."""
    tl: list[list[Any]] | None = doc.get("tl")
    if not tl:  # the first event of the entitlement: its whole timeline
        doc["tl"] = sorted([coop, day, figure, a] for (coop, figure), a in change.items() if a)
        for coop, _, figure, a in doc["tl"]:
            state.add_day("entitlement", coop, day, figure, a)
        return
    for (coop, figure), amount in change.items():
        if not amount:
            continue
        at = [coop, day, figure]
        i = bisect.bisect_left(tl, at)
        if i < len(tl) and tl[i][:3] == at:
            value = tl[i][3] + amount
            if value:
                tl[i][3] = value
            else:
                del tl[i]
        else:
            tl.insert(i, [*at, amount])
        state.add_day("entitlement", coop, day, figure, amount)


def entries(row: Row) -> daily.Entries:
    doc = daily.asof(row)
    home, voids = row["coop_id"], doc.get("voids", {})
    names = _names(row["program"] or "UNKNOWN", row["cycle"] or "-")
    granted = daily.okey_day(row["grant_okey"], home) if row["grant_okey"] else None
    # (order key, redemption, the day it was made, the day it was voided or None), in
    # total order: the first live one on a day is that day's winner
    made = sorted(
        (r[0], r, daily.okey_day(r[0], r[1]), voids.get(eid))
        for eid, r in row["redemptions"].items()
    )
    known: set[str] = {doc["seen"], *(m[2] for m in made), *voids.values()}
    if granted is not None:
        known.add(granted)
    out: daily.Entries = {}
    before: dict[tuple[str, str], int] = {}  # (cooperative, figure) -> value the day before
    for day in sorted(known):
        live = [m[1] for m in made if m[2] <= day and (m[3] is None or m[3] > day)]
        winner = live[0][3] if live else 0
        value = row["value"] if granted is not None and granted <= day else None
        now: dict[tuple[str, str], int] = {}
        _add(now, home, names, "entitlements", 1)
        _add(now, home, names, "entitled_value", value if value is not None else winner)
        if live:
            _add(now, home, names, "redeemed", 1)
            _add(now, home, names, "redeemed_value", winner)
        for r in live[1:]:
            _add(now, home, names, "value_at_risk", r[3])
            _add(now, r[1], names, "disputed", 1)
            _add(now, r[1], names, "disputed_value", r[3])
        for key in before.keys() | now.keys():
            delta = now.get(key, 0) - before.get(key, 0)
            if delta:
                entry = (key[0], day, key[1])
                out[entry] = out.get(entry, 0) + delta
        before = now
    return out


@functools.lru_cache(maxsize=4096)
def _names(program: str, cycle: str) -> dict[str, tuple[str, str]]:
    """Each aid figure's two names: the cooperative's total and the programme's cycle."""
    cell = f"aid.by_program.{program}.{cycle}."
    return {name: (f"aid.{name}", cell + name) for name in FIGURES}


FIGURES = ("entitlements", "entitled_value", "redeemed", "redeemed_value", "value_at_risk",
           "disputed", "disputed_value")  # fmt: skip


def _add(
    into: dict[tuple[str, str], int],
    coop: str,
    names: dict[str, tuple[str, str]],
    name: str,
    value: int,
) -> None:
    if value:
        for figure in names[name]:
            key = (coop, figure)
            into[key] = into.get(key, 0) + value
