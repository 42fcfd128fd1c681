"""The ``views`` table: the small per-entity states the local rules read, by key.

See :mod:`edge_agent.domain.base` for what a view is; a write transaction of the store
loads the views an event needs and saves the ones it changed through a :class:`ViewWrite`,
which also keeps the seal (:mod:`edge_agent.adapters.seal`) over the views and the signed
rows the transaction logged. Every write to ``views`` goes through it: a row written any
other way breaks the seal, and the device then refuses to record.
"""

from __future__ import annotations

from typing import Any

import msgpack
from eventsourcing.sqlite import SQLiteCursor

from edge_agent.adapters.seal import SEAL_KEY, Seal, row_hash, view_hash
from edge_agent.domain.base import Views

CREATE = "CREATE TABLE IF NOT EXISTS views (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"


class ViewWrite:
    """The views one write transaction reads and changes, and the seal it leaves behind."""

    def __init__(self, c: SQLiteCursor, seal_key: bytes) -> None:
        self.c = c
        self._key = seal_key
        self.views: Views = {}
        self._before: dict[str, bytes | None] = {}
        self._logged: list[tuple[str, str, int, bytes]] = []
        self._pins: dict[str, bytes] = {}

    def load(self, keys: list[str]) -> None:
        """Put every key of ``keys`` into :attr:`views` (``None`` when absent)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self.views]
        if not wanted:
            return
        extra = [] if SEAL_KEY in self._before else [SEAL_KEY]  # in the same query
        self._fetch(wanted + extra)
        for k in wanted:
            raw = self._before[k]
            self.views[k] = None if raw is None else unpack(raw)

    def logged(self, table: str, stream: str, seq: int, state: bytes) -> None:
        """Count a row this transaction inserted into the signed log ``table``."""
        self._logged.append((table, stream, seq, state))

    def pin(self, issuer: str, public_key: bytes) -> None:
        """Seal ``issuer``'s key as one whose events the device accepts."""
        self._pins[issuer] = public_key

    def save(self) -> None:
        """Write the views that changed, and the seal updated by them and the rows logged.

        A seal that is missing or fails its MAC is left as it is: the store stays untrusted
        until ``kopsync edge repair`` seals it afresh.
        """
        self._fetch([k for k in [*self.views, SEAL_KEY] if k not in self._before])
        changed = {k: None if v is None else pack(v) for k, v in self.views.items()}
        changed = {k: b for k, b in changed.items() if b != self._before[k]}
        stored = self._before[SEAL_KEY]
        seal = Seal.from_view(self._key, None if stored is None else unpack(stored))
        if seal is not None:
            for k, new in changed.items():
                old = self._before[k]
                if old is not None:
                    seal.views.add(view_hash(self._key, k, old), -1)
                if new is not None:
                    seal.views.add(view_hash(self._key, k, new))
            for table, stream, seq, state in self._logged:
                seal.log(table).add(row_hash(self._key, table, stream, seq, state))
            seal.pins.update(self._pins)
            changed[SEAL_KEY] = pack(seal.to_view(self._key))
        write(self.c, changed)
        self._before.update(changed)
        self._logged.clear()
        self._pins.clear()

    def _fetch(self, keys: list[str]) -> None:
        if not keys:
            return
        self.c.execute(f"SELECT key, value FROM views WHERE key IN ({_marks(keys)})", keys)
        found = {k: bytes(v) for k, v in self.c.fetchall()}
        for k in keys:
            self._before[k] = found.get(k)


def write(c: SQLiteCursor, rows: dict[str, bytes | None]) -> None:
    """Store packed views (``None``: delete). Only :class:`ViewWrite` and a re-seal call it."""
    gone = [k for k, v in rows.items() if v is None]
    kept = [(k, v) for k, v in rows.items() if v is not None]
    if gone:
        c.executemany("DELETE FROM views WHERE key = ?", [(k,) for k in gone])
    for i in range(0, len(kept), CHUNK):
        part = kept[i : i + CHUNK]
        c.execute(
            f"INSERT OR REPLACE INTO views (key, value) VALUES {','.join(['(?,?)'] * len(part))}",
            [x for pair in part for x in pair],
        )


CHUNK = 400  # rows per statement: SQLite binds at most 32,766 parameters


def _marks(keys: list[str]) -> str:
    return ",".join("?" * len(keys))


# Views are local working state written and read only by the store: plain msgpack,
# without the canonical ordering and peer-input checks that signed envelopes need.
def pack(v: dict[str, Any]) -> bytes:
    return msgpack.packb(v, use_bin_type=True)


def unpack(b: bytes) -> dict[str, Any]:
    return msgpack.unpackb(b, raw=False)  # type: ignore[no-any-return]
