"""Roll-ups: a region's figures as the sum of its cooperatives', as of a date.

Every figure is computed per cooperative (one grouped query per area over the read
models), then added up: the figures of a regency or province are *by construction* the
sum of its cooperatives' (a property test checks it for any delivery order). A
province's dated figures are added up by regency in the database, the same sums (a
cooperative holds a hundred or so of them, one per aid programme, cycle and figure,
which cost more to add one by one in Python than the rest of the roll-up). Sums add,
``last_seen`` takes the latest; the derived figures are recomputed at each level from
the sums they come from: PAR30 (``par30`` / ``outstanding_principal``) and the member
credit outstanding (``credit_sold`` − ``credit_repaid``, net of any overpayment).

What the date means: ``as_of`` (default: today in the region's zone) is the day every
dated figure is evaluated at, its position at the end of that local day: members by
status, savings, aid, the stimulus fund, stock and member credit from the projection's
per-day figures (:mod:`central_projector.reporting.dated`), the whole loan book (each
loan replayed from its movements dated by then:
:mod:`central_projector.projection.folds.portfolio`) and, when a date is given, sales
(days up to and including it; ``day_sales_amount`` the day itself; every sale counts
without one); stock items and the negative ones from their
movements and counts made by then.
Devices are *silent* when the central has not heard from them for ``silent_days`` at
``now_ms``: that is about the present, whatever the date.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds import portfolio
from central_projector.projection.readmodels.tables import TABLES
from central_projector.record.store import ISSUER_ID
from central_projector.record.tables import devices, events, gaps
from central_projector.reporting.dated import coops as dated_coops
from central_projector.reporting.dated import dated
from central_projector.reporting.loanbook import loan_book
from central_projector.reporting.regions import Region
from sync_core import localtime

T = TABLES
Figures = dict[str, Any]
SILENT_DAYS = 3
DAY_MS = 86_400_000
SECTIONS = ("members", "savings", "loans", "aid", "stimulus", "shop", "sync")
# combined by the latest value, not summed
LATEST = frozenset({"last_seen"})


def empty() -> Figures:
    """A cooperative's figures before anything is counted (every fixed key present)."""
    buckets = {name: 0 for name, _, _ in portfolio.BUCKETS} | {portfolio.OVER: 0}
    return {
        "members": {"count": 0, "by_status": {}},
        "savings": {"accounts": 0, "balance": 0, "by_product": {}},
        "loans": {
            "loans": 0,
            "running": 0,
            "disbursed": 0,
            "principal_repaid": 0,
            "interest_repaid": 0,
            "overpaid": 0,
            "outstanding_principal": 0,
            "interest_outstanding": 0,
            "principal_in_arrears": 0,
            "arrears_buckets": buckets,
            "par30": 0,
            "par30_bp": 0,
            "written_off": 0,
            "written_off_loans": 0,
            "recovered": 0,
        },
        "aid": {
            "entitlements": 0,
            "entitled_value": 0,
            "redeemed": 0,
            "redeemed_value": 0,
            "disputed": 0,
            "disputed_value": 0,
            "value_at_risk": 0,
            "by_program": {},
        },
        "stimulus": {
            "funds": 0,
            "allocated": 0,
            "disbursed": 0,
            "utilised": 0,
            "repaid": 0,
            "balance": 0,
        },
        "shop": {
            "sales_amount": 0,
            "sales_qty": 0,
            "sales_lines": 0,
            "voided_amount": 0,
            "day_sales_amount": 0,
            "stock_items": 0,
            "stock_negative": 0,
            "credit_sold": 0,
            "credit_repaid": 0,
            "credit_outstanding": 0,
        },
        "sync": {
            "devices": 0,
            "retired": 0,
            "silent": 0,
            "last_seen": 0,
            "events": 0,
            "backlog": 0,
            "quarantined": 0,
            "clock_skew_events": 0,
            "gap_events": 0,
            "open_gaps": 0,
            "open_conflicts": 0,
            "conflicts_by_kind": {},
        },
    }


def add(into: Figures, more: Mapping[str, Any]) -> Figures:
    """Add ``more`` into ``into`` in place: numbers sum (``last_seen`` takes the latest)."""
    for key, value in more.items():
        if isinstance(value, int):  # most are: checked first, as a Mapping check is slow
            if key in LATEST:
                into[key] = max(into.get(key, 0), value)
            else:
                into[key] = into.get(key, 0) + value
        elif isinstance(value, Mapping):
            add(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value
    return into


def finish(fig: Figures) -> Figures:
    """Recompute the derived figures of one level (PAR30 in basis points)."""
    lo = fig["loans"]
    out = lo["outstanding_principal"]
    lo["par30_bp"] = lo["par30"] * 10_000 // out if out else 0
    shop = fig["shop"]
    shop["credit_outstanding"] = shop["credit_sold"] - shop["credit_repaid"]
    return fig


def total(figures: Iterable[Figures]) -> Figures:
    out = empty()
    for f in figures:
        add(out, f)
    return finish(out)


def rollup(
    source: sa.Connection | sa.Engine,
    region: Region,
    as_of: str | None = None,
    *,
    now_ms: int | None = None,
    silent_days: int = SILENT_DAYS,
) -> dict[str, Any]:
    """The region's figures, its children's (regencies of a province, else cooperatives)
    and every cooperative's, as of ``as_of`` (default: today in the region's zone).
    On an engine the areas are read at the same time (:func:`coop_figures`)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    day = as_of or localtime.today(region.code, now_ms)
    width = region.child_length
    per_coop, per_unit = _figures(
        source, region, day, now_ms, silent_days, sales_until=as_of, dated_width=width
    )
    groups: dict[str, list[Figures]] = defaultdict(list)
    for coop_id, fig in per_coop.items():
        groups[coop_id[:width] if width else coop_id].append(fig)
    children = [
        {
            "region": code,
            "level": "regency" if width else "cooperative",
            "cooperatives": len(figs),
            "figures": total([*figs, *([per_unit[code]] if code in per_unit else [])]),
        }
        for code, figs in sorted(groups.items())
    ]
    return {
        "region": region.code,
        "level": region.level,
        "name": region.name,
        "zone": region.zone,
        "as_of": day,
        "silent_days": silent_days,
        "cooperatives": len(per_coop),
        "figures": total([*per_coop.values(), *per_unit.values()]),
        "children": children,
    }


Source = sa.Connection | sa.Engine
Fig = Callable[[str], Figures]
SectionJob = Callable[[sa.Connection, Fig], None]


def coop_figures(
    source: Source,
    region: Region,
    as_of: str,
    *,
    now_ms: int,
    silent_days: int = SILENT_DAYS,
    sales_until: str | None = None,
) -> dict[str, Figures]:
    """Every cooperative of the region with its own figures (finished), by id; sales on
    days up to ``sales_until`` (every day when ``None``)."""
    return _figures(source, region, as_of, now_ms, silent_days, sales_until)[0]


def _figures(
    source: Source,
    region: Region,
    as_of: str,
    now_ms: int,
    silent_days: int,
    sales_until: str | None,
    dated_width: int | None = None,
) -> tuple[dict[str, Figures], dict[str, Figures]]:
    """Every cooperative's figures (finished), by id; with ``dated_width``, the dated
    figures apart, summed by the units their ids' first ``dated_width`` digits name
    (:func:`central_projector.reporting.dated.dated`): (per cooperative, per unit).

    On a connection the areas are read one after the other in its transaction; on an
    engine (the console) at the same time, each on a connection of its own, so the
    database and the folds of the loan book overlap.
    """
    lo, hi = region.bounds()
    dated_ids: set[str] = set()

    def dated_job(c: sa.Connection, fig: Fig) -> None:
        dated(c, lo, hi, as_of, fig, dated_width)
        if dated_width is not None:  # a cooperative with dated figures only counts too
            dated_ids.update(dated_coops(c, lo, hi))

    jobs: dict[tuple[str, ...], SectionJob] = {
        DATED: dated_job,
        ("loans",): lambda c, fig: loan_book(c, lo, hi, as_of, fig),
        ("shop",): lambda c, fig: _shop(
            c, lo, hi, sales_until or as_of, sales_until is not None, fig
        ),
        ("sync",): lambda c, fig: _sync(c, lo, hi, fig, now_ms - silent_days * DAY_MS),
    }
    if isinstance(source, sa.Engine):
        engine = source

        def on_own_connection(item: tuple[tuple[str, ...], SectionJob]) -> dict[str, Figures]:
            with engine.connect() as conn:
                return _section(conn, *item)

        with engine.connect() as conn:
            ids = _coop_ids(conn, lo, hi)
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            parts = list(pool.map(on_own_connection, jobs.items()))
    else:
        ids = _coop_ids(source, lo, hi)
        parts = [_section(source, names, job) for names, job in jobs.items()]
    per_unit: dict[str, Figures] = {}
    if dated_width is not None:
        per_unit, parts = parts[0], parts[1:]
    out = {coop_id: empty() for coop_id in ids | dated_ids}
    for part in parts:
        for coop_id, sections in part.items():
            add(out.setdefault(coop_id, empty()), sections)
    for f in out.values():
        finish(f)
    return dict(sorted(out.items())), per_unit


PARALLEL = 4  # connections one roll-up reads on at once (the areas' queries overlap)
# the sections read from the dated figures (central_projector.reporting.dated)
DATED = ("members", "savings", "aid", "stimulus", "shop")
_TEMPLATE = empty()


def _section(conn: sa.Connection, names: tuple[str, ...], job: SectionJob) -> dict[str, Figures]:
    """Some sections' figures of every cooperative that has any, by cooperative."""
    part: dict[str, Figures] = {}

    def fig(coop_id: str) -> Figures:
        found = part.get(coop_id)
        if found is None:
            # the template's nested maps are flat (buckets) or empty: one level of copy
            found = part[coop_id] = {
                name: {k: dict(v) if isinstance(v, dict) else v for k, v in _TEMPLATE[name].items()}
                for name in names
            }
        return found

    job(conn, fig)
    return part


def _in(col: sa.ColumnElement[Any], lo: str, hi: str) -> sa.ColumnElement[bool]:
    return sa.and_(col >= lo, col < hi)


def _coop_ids(conn: sa.Connection, lo: str, hi: str) -> set[str]:
    c = T["coop"]
    ids = {r[0] for r in conn.execute(sa.select(c.c.coop_id).where(_in(c.c.coop_id, lo, hi)))}
    ids |= {
        r[0]
        for r in conn.execute(
            sa.select(devices.c.coop_id).where(_in(devices.c.coop_id, lo, hi)).distinct()
        )
        if r[0] != "central"
    }
    return ids


def _shop(conn: sa.Connection, lo: str, hi: str, as_of: str, cut: bool, fig: Any) -> None:
    d = T["sales_day"]
    on_day = sa.func.sum(sa.case((d.c.day == as_of, d.c.amount), else_=0))
    q = (
        sa.select(
            d.c.coop_id,
            sa.func.sum(d.c.amount),
            sa.func.sum(d.c.qty),
            sa.func.sum(d.c.lines),
            sa.func.sum(d.c.voided_amount),
            on_day,
        )
        .where(_in(d.c.coop_id, lo, hi), *([d.c.day <= as_of] if cut else []))
        .group_by(d.c.coop_id)
    )
    for coop_id, amount, qty, lines, voided, today in conn.execute(q):
        section = fig(coop_id)["shop"]
        section["sales_amount"] += int(amount or 0)
        section["sales_qty"] += int(qty or 0)
        section["sales_lines"] += int(lines or 0)
        section["voided_amount"] += int(voided or 0)
        section["day_sales_amount"] += int(today or 0)


def _sync(conn: sa.Connection, lo: str, hi: str, fig: Any, silent_before: int) -> None:
    q = sa.select(
        devices.c.coop_id, devices.c.retired, devices.c.last_seen, devices.c.quarantined
    ).where(_in(devices.c.coop_id, lo, hi))
    for coop_id, retired, last_seen, quarantined in conn.execute(q):
        section = fig(coop_id)["sync"]
        section["devices"] += 1
        section["retired"] += 1 if retired else 0
        section["quarantined"] += int(quarantined or 0)
        seen = int(last_seen or 0)
        section["last_seen"] = max(section["last_seen"], seen)
        if not retired and seen < silent_before:
            section["silent"] += 1
    co = T["coop"]
    for coop_id, n in conn.execute(
        sa.select(co.c.coop_id, co.c.events).where(_in(co.c.coop_id, lo, hi))
    ):
        fig(coop_id)["sync"]["events"] += int(n or 0)
    d = T["device"]
    q2 = (
        sa.select(d.c.coop_id, sa.func.sum(d.c.skew_count), sa.func.sum(d.c.gap_count))
        # the central's own issuer is no device of the cooperative it issued to first
        .where(_in(d.c.coop_id, lo, hi), d.c.device_id != ISSUER_ID)
        .group_by(d.c.coop_id)
    )
    for coop_id, skew, gap in conn.execute(q2):
        section = fig(coop_id)["sync"]
        section["clock_skew_events"] += int(skew or 0)
        section["gap_events"] += int(gap or 0)
    held = (
        sa.select(events.c.coop_id, sa.func.count())
        .where(events.c.status == "held", _in(events.c.coop_id, lo, hi))
        .group_by(events.c.coop_id)
    )
    for coop_id, n in conn.execute(held):
        fig(coop_id)["sync"]["backlog"] += n
    open_gaps = (
        sa.select(devices.c.coop_id, sa.func.count())
        .select_from(gaps.join(devices, devices.c.device_id == gaps.c.device_id))
        .where(gaps.c.status == "open", _in(devices.c.coop_id, lo, hi))
        .group_by(devices.c.coop_id)
    )
    for coop_id, n in conn.execute(open_gaps):
        fig(coop_id)["sync"]["open_gaps"] += n
    c, r = T["conflict"], T["resolution"]
    q3 = (
        sa.select(c.c.coop_id, c.c.kind, sa.func.count())
        .select_from(c.outerjoin(r, r.c.conflict_id == c.c.conflict_id))
        .where(c.c.active.is_(True), r.c.conflict_id.is_(None), _in(c.c.coop_id, lo, hi))
        .group_by(c.c.coop_id, c.c.kind)
    )
    for coop_id, kind, n in conn.execute(q3):
        section = fig(coop_id)["sync"]
        section["open_conflicts"] += n
        section["conflicts_by_kind"][kind] = section["conflicts_by_kind"].get(kind, 0) + n
