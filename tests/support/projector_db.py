"""Helpers for projector tests on a real database: load events as the store would hold them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.projection.folds import Event
from central_projector.projection.folds.base import MEMORY_PSEUDONYM_KEY
from central_projector.projection.folds.sync_health import RECEIPT_FIELDS
from central_projector.projection.readmodels.tables import LIVE, TABLES, decode_row
from central_projector.projection.readmodels.tables import metadata as rm_metadata
from central_projector.record.meta import PSEUDONYM_KEY, ensure_pseudonym_key
from central_projector.record.tables import central_meta, events, gaps
from schemas import REGISTRY

_HASH = b"\x00" * 32


def pin_pseudonym_key(engine: sa.Engine, key: bytes = MEMORY_PSEUDONYM_KEY) -> None:
    """Give a store a known pseudonym key (by default the in-memory fold's): compared with
    a fold in memory or with another store, it names a person's conflicts the same way
    (each store otherwise makes its own)."""
    ensure_pseudonym_key(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.update(central_meta).where(central_meta.c.key == PSEUDONYM_KEY).values(value=key)
        )


def store_row(ev: Event, status: str = "committed") -> dict[str, Any]:
    """An ``events`` row for ``ev``; the envelope carries what the projector reads."""
    return {
        "device_id": ev.device_id,
        "seq": ev.seq,
        "event_id": ev.event_id,
        "coop_id": ev.coop_id,
        "type": ev.type,
        "version": REGISTRY.latest_version(ev.type),
        "aggregate_id": ev.aggregate_id,
        "hlc_wall": ev.key[0],
        "hlc_counter": ev.key[1],
        "prev_hash": _HASH,
        "hash": _HASH,
        "envelope": msgpack.packb({"payload": ev.payload, "event_id": ev.event_id}),
        "received_at": ev.received_at,
        "status": status,
        "flags": ev.flags,
    }


def deliver(engine: sa.Engine, batch: Iterable[Event], seen: set[tuple[str, int]]) -> None:
    """Commit a batch as the store would: a (device, seq) already there is a duplicate."""
    rows = []
    for ev in batch:
        if (ev.device_id, ev.seq) not in seen:
            seen.add((ev.device_id, ev.seq))
            rows.append(store_row(ev))
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(events), rows)


def wipe(engine: sa.Engine) -> None:
    """Empty the event record and every read model (between hypothesis examples)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(events))
        conn.execute(sa.delete(gaps))
        for table in rm_metadata.sorted_tables:
            conn.execute(sa.delete(table))


def sql_snapshot(engine: sa.Engine) -> dict[str, Any]:
    """Every read-model row keyed like the in-memory state, receipt times aside."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for kind, table in TABLES.items():
            pk = [c.name for c in table.primary_key.columns]
            rows = {
                tuple(r[c] for c in pk): {k: v for k, v in r.items() if k not in RECEIPT_FIELDS}
                for r in (
                    decode_row(kind, dict(m)) for m in conn.execute(sa.select(table)).mappings()
                )
            }
            if rows:
                out[kind] = rows
        # the dated figures' ledger as the memory state keeps it: zeros are no entry
        d = LIVE.coop_day
        days = {
            (r.coop_id, r.day, r.area, r.figure): r.amount
            for r in conn.execute(sa.select(d).where(d.c.amount != 0))
        }
        if days:
            out["coop_day"] = days
    return out
