"""The devices as the store sees them: one row each, for `kopsync central status`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from central_projector.record.tables import device_paths, devices, events, gaps


def device_status(conn: sa.Connection) -> list[dict[str, Any]]:
    """One row per device: committed seq, last seen, gaps, held, quarantined, skew, and the
    hub it last synced through (``via``; ``None``: directly)."""
    held: dict[str, int] = {
        r[0]: int(r[1])
        for r in conn.execute(
            sa.select(events.c.device_id, sa.func.count())
            .where(events.c.status == "held")
            .group_by(events.c.device_id)
        )
    }
    gap_count: dict[str, int] = {
        r[0]: int(r[1])
        for r in conn.execute(
            sa.select(gaps.c.device_id, sa.func.count())
            .where(gaps.c.status != "filled")
            .group_by(gaps.c.device_id)
        )
    }
    paths: dict[str, str | None] = {
        str(r[0]): r[1]
        for r in conn.execute(sa.select(device_paths.c.device_id, device_paths.c.via))
    }
    rows = conn.execute(sa.select(devices).order_by(devices.c.coop_id, devices.c.device_id))
    return [
        {
            "device_id": r.device_id,
            "coop_id": r.coop_id,
            "committed_seq": int(r.committed_seq),
            "last_seen": r.last_seen,
            "gaps": int(gap_count.get(r.device_id, 0)),
            "held": int(held.get(r.device_id, 0)),
            "quarantined": int(r.quarantined),
            "duplicates": int(r.duplicates),
            "clock_skew": int(r.clock_skew),
            "via": paths.get(r.device_id),
        }
        for r in rows
    ]
