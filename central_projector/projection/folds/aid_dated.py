"""An entitlement's aid figures, day by day (:mod:`.daily`).

As of a day, an entitlement counts at its home cooperative from the first day anything
is known of it; its live redemptions are those made by then and not voided by then; the
winner among them (smallest order key) makes it redeemed, the others are duplicates:
value at risk at home, a DISPUTED claim at the cooperative that made each. Its worth is
the granted value from the grant's day (before it, or for item entitlements, what the
winner records). The same rules as :func:`central_projector.projection.folds.aid._derive`,
each fact from its own day, so the latest day gives the entitlement's row as it stands.

``asof`` of an entitlement = ``{seen, voids: {redemption event id: day}, tl}``.
"""

from __future__ import annotations

import functools

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Event, Row, State


def seen(row: Row, ev: Event) -> str:
    """Note the event's day as one the entitlement is known on; returns the day."""
    day = daily.event_day(ev)
    daily.earliest(daily.asof(row), "seen", day)
    return day


def voided(row: Row, target: str, ev: Event) -> None:
    daily.earliest(daily.asof(row).setdefault("voids", {}), target, seen(row, ev))


def restate(state: State, row: Row) -> None:
    daily.restate(state, "entitlement", row, entries(row))


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
