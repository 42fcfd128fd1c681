"""The ``views`` table: the small per-entity states the local rules read, by key.

See :mod:`edge_agent.domain.base` for what a view is; the store loads the views an event
needs and saves the ones it changed in the transaction that records the event.
"""

from __future__ import annotations

from typing import Any

import msgpack
from eventsourcing.sqlite import SQLiteCursor

from edge_agent.domain.base import Views

CREATE = "CREATE TABLE IF NOT EXISTS views (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"


def load(c: SQLiteCursor, views: Views, keys: list[str]) -> None:
    wanted = [k for k in dict.fromkeys(keys) if k not in views]
    if not wanted:
        return
    c.execute(f"SELECT key, value FROM views WHERE key IN ({','.join('?' * len(wanted))})", wanted)
    found = {k: unpack(v) for k, v in c.fetchall()}
    for k in wanted:
        views[k] = found.get(k)


def save(c: SQLiteCursor, views: Views) -> None:
    gone = [k for k, v in views.items() if v is None]
    kept = [(k, pack(v)) for k, v in views.items() if v is not None]
    if gone:
        c.execute(f"DELETE FROM views WHERE key IN ({','.join('?' * len(gone))})", gone)
    if kept:
        c.execute(
            f"INSERT OR REPLACE INTO views (key, value) VALUES {','.join(['(?,?)'] * len(kept))}",
            [x for pair in kept for x in pair],
        )


# Views are local working state written and read only by the store: plain msgpack,
# without the canonical ordering and peer-input checks that signed envelopes need.
def pack(v: dict[str, Any]) -> bytes:
    return msgpack.packb(v, use_bin_type=True)


def unpack(b: bytes) -> dict[str, Any]:
    return msgpack.unpackb(b, raw=False)  # type: ignore[no-any-return]
