"""Sync health per device, the conflict queue of a region, and where projection stands."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds.conflicts import listing
from central_projector.projection.readmodels.tables import TABLES, decode_row, projector_position
from central_projector.projection.replay import shadow
from central_projector.record.tables import devices, events, gaps
from central_projector.reporting.regions import Region
from central_projector.reporting.rollups import DAY_MS

T = TABLES


def _in(col: sa.ColumnElement[Any], region: Region) -> sa.ColumnElement[bool]:
    lo, hi = region.bounds()
    return sa.and_(col >= lo, col < hi)


def device_health(
    conn: sa.Connection, region: Region, now_ms: int, silent_days: int
) -> list[dict[str, Any]]:
    """Every device of the region, the longest silent first (never heard from: first of all)."""
    d = T["device"]
    held = (
        sa.select(events.c.device_id, sa.func.count().label("n"))
        .where(events.c.status == "held")
        .group_by(events.c.device_id)
        .subquery()
    )
    open_gaps = (
        sa.select(gaps.c.device_id, sa.func.count().label("n"))
        .where(gaps.c.status == "open")
        .group_by(gaps.c.device_id)
        .subquery()
    )
    q = (
        sa.select(
            devices.c.device_id,
            devices.c.coop_id,
            devices.c.retired,
            devices.c.last_seen,
            devices.c.committed_seq,
            devices.c.quarantined,
            d.c.events,
            d.c.skew_count,
            d.c.gap_count,
            held.c.n.label("held"),
            open_gaps.c.n.label("open_gaps"),
        )
        .select_from(
            devices.outerjoin(d, d.c.device_id == devices.c.device_id)
            .outerjoin(held, held.c.device_id == devices.c.device_id)
            .outerjoin(open_gaps, open_gaps.c.device_id == devices.c.device_id)
        )
        .where(_in(devices.c.coop_id, region))
    )
    out = []
    for r in conn.execute(q).mappings():
        seen = int(r["last_seen"] or 0)
        days = (now_ms - seen) // DAY_MS if seen else None
        out.append(
            {
                "device_id": r["device_id"],
                "coop_id": r["coop_id"],
                "retired": bool(r["retired"]),
                "last_seen": seen or None,
                "days_silent": days,
                "silent": not r["retired"] and (days is None or days >= silent_days),
                "committed_seq": int(r["committed_seq"] or 0),
                "events": int(r["events"] or 0),
                "held": int(r["held"] or 0),
                "open_gaps": int(r["open_gaps"] or 0),
                "quarantined": int(r["quarantined"] or 0),
                "clock_skew": int(r["skew_count"] or 0),
                "gaps": int(r["gap_count"] or 0),
            }
        )
    out.sort(key=lambda x: (x["last_seen"] or 0, x["device_id"]))
    return out


def conflict_queue(
    conn: sa.Connection,
    region: Region,
    *,
    kind: str | None = None,
    status: str | None = None,
    coop_id: str | None = None,
) -> list[dict[str, Any]]:
    """The region's items as ``central conflicts`` lists them, filtered."""
    c, r = T["conflict"], T["resolution"]
    cw: list[Any] = [_in(c.c.coop_id, region)]
    rw: list[Any] = [_in(r.c.coop_id, region)]
    if coop_id:
        cw.append(c.c.coop_id == coop_id)
        rw.append(r.c.coop_id == coop_id)
    if kind:
        cw.append(c.c.kind == kind)
    conflicts = [
        decode_row("conflict", dict(m)) for m in conn.execute(sa.select(c).where(*cw)).mappings()
    ]
    decided = [
        decode_row("resolution", dict(m)) for m in conn.execute(sa.select(r).where(*rw)).mappings()
    ]
    items = listing(conflicts, decided)
    if kind:
        items = [i for i in items if i["kind"] == kind]
    if status:
        items = [i for i in items if i["status"] == status]
    return items


def projection_status(conn: sa.Connection) -> dict[str, Any]:
    """The live projector's position against the record, and a replay's shadow if one runs."""
    pos = projector_position
    committed = conn.execute(
        sa.select(sa.func.max(events.c.id), sa.func.count()).where(events.c.status == "committed")
    ).one()
    rows = [dict(m) for m in conn.execute(sa.select(pos)).mappings()]
    last_id = int(committed[0] or 0)
    live = rows[0] if rows else None
    out: dict[str, Any] = {
        "committed_events": int(committed[1] or 0),
        "last_committed_id": last_id,
        "projector": None,
        "replay": None,
    }
    if live is not None:
        behind = conn.execute(
            sa.select(sa.func.count()).where(
                events.c.status == "committed", events.c.id > live["position"]
            )
        ).scalar()
        out["projector"] = {
            "name": live["name"],
            "position": int(live["position"]),
            "events": int(live["events"]),
            "updated_at": int(live["updated_at"]),
            "generation": int(live["generation"]),
            "behind": int(behind or 0),
        }
    started = shadow.find(conn)
    if started is not None:
        sp = conn.execute(sa.select(shadow.SHADOW.position)).first()
        out["replay"] = {
            "scope": started.scope.as_dict(),
            "created_at": started.created_at,
            "position": int(sp.position) if sp else 0,
            "behind": max(0, last_id - int(sp.position)) if sp else last_id,
        }
    return out
