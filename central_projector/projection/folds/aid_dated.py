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

from typing import Any

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
    cell = f"aid.by_program.{row['program'] or 'UNKNOWN'}.{row['cycle'] or '-'}."
    granted = daily.okey_day(row["grant_okey"], home) if row["grant_okey"] else None
    made = {eid: daily.okey_day(r[0], r[1]) for eid, r in row["redemptions"].items()}
    known: set[str] = {doc["seen"], *made.values(), *voids.values()}
    if granted is not None:
        known.add(granted)
    days = sorted(known)
    by_coop: dict[str, list[tuple[str, dict[str, int]]]] = {home: []}
    for r in row["redemptions"].values():
        by_coop.setdefault(r[1], [])
    for day in days:
        live = sorted(
            (r[0], eid, r)
            for eid, r in row["redemptions"].items()
            if made[eid] <= day and not (eid in voids and voids[eid] <= day)
        )
        value = row["value"] if granted is not None and granted <= day else None
        figures: dict[str, dict[str, int]] = {coop: {} for coop in by_coop}
        winner = live[0][2][3] if live else 0
        home_figures = {
            "entitlements": 1,
            "entitled_value": value if value is not None else winner,
            "redeemed": 1 if live else 0,
            "redeemed_value": winner,
            "value_at_risk": sum(r[3] for _, _, r in live[1:]),
        }
        _add(figures[home], cell, home_figures)
        for _, _, r in live[1:]:
            _add(figures[r[1]], cell, {"disputed": 1, "disputed_value": r[3]})
        for coop, states in by_coop.items():
            states.append((day, figures[coop]))
    out: daily.Entries = {}
    for coop, states in by_coop.items():
        daily.steps(coop, states, out)
    return out


def _add(into: dict[str, int], cell: str, figures: dict[str, Any]) -> None:
    for name, value in figures.items():
        if value:
            for figure in (f"aid.{name}", cell + name):
                into[figure] = into.get(figure, 0) + value
