"""Helpers for projection tests: fold in memory, compare read models, list conflicts."""

from __future__ import annotations

from typing import Any, Protocol

from central_projector.projection.folds import Event, MemoryProjector
from central_projector.projection.folds.base import MemoryState
from central_projector.projection.folds.conflicts import listing
from central_projector.projection.folds.sync_health import RECEIPT_FIELDS


class HasState(Protocol):
    @property
    def state(self) -> MemoryState: ...


def snapshot(p: HasState) -> dict[str, Any]:
    """Every read-model row, receipt times and cleared conflict items aside.

    A cleared item (its condition came and went) is bookkeeping that depends on the path
    taken; the queue lists only active and decided items (``listing``).
    """
    out = {
        table: {
            key: {k: v for k, v in row.items() if k not in RECEIPT_FIELDS}
            for key, row in rows.items()
            if table != "conflict" or row["active"]
        }
        for table, rows in p.state.tables.items()
    }
    out["coop_day"] = dict(p.state.days)  # the dated figures' ledger, zeros left out
    return {table: rows for table, rows in out.items() if rows}


def project(*batches: list[Event]) -> MemoryProjector:
    p = MemoryProjector()
    for batch in batches:
        p.apply(batch)
    return p


def conflicts_of(p: MemoryProjector) -> list[dict[str, Any]]:
    return listing(p.state.rows("conflict").values(), p.state.rows("resolution").values())
