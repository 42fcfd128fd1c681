"""The store's reading side: its logs, views and meta records, each read in a snapshot.

:class:`edge_agent.adapters.store.EdgeStore` is a :class:`StoreReads`; the writes, which
keep the views and their seal, are there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from edge_agent.adapters import logs, refs, viewtable
from edge_agent.adapters.sqlite_durable import read_transaction
from sync_core import codec
from sync_core.envelope import Envelope
from sync_core.signing import GENESIS_HASH

PAGE = 500
MARK_KEY = "@mark"


class StoreReads:
    """What a store answers without writing."""

    _ds: SQLiteDatastore
    log: SQLiteApplicationRecorder
    downlink: SQLiteApplicationRecorder
    device_id: str

    def raw_events(self, since: int = 0, until: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(stored seq, stored bytes) of every local event after ``since``, in seq order."""
        gt = since
        while True:
            rows = self.log.select_events(self.device_id, gt=gt, lte=until, limit=PAGE)
            for r in rows:
                yield r.originator_version, r.state
            if len(rows) < PAGE:
                return
            gt = rows[-1].originator_version

    def events(self, since: int = 0, until: int | None = None) -> Iterator[Envelope]:
        for _, data in self.raw_events(since, until):
            yield Envelope.decode(data)

    def central_events(self) -> Iterator[Envelope]:
        start = 1
        while True:
            rows = self.downlink.select_notifications(start, PAGE)
            for n in rows:
                yield Envelope.decode(n.state)
            if len(rows) < PAGE:
                return
            start = rows[-1].id + 1

    def events_about(self, ref: str, before: int | None = None, limit: int = 50) -> list[Envelope]:
        """The newest ``limit`` local events about ``ref`` (see :mod:`.refs`), newest first."""
        with read_transaction(self._ds) as c:
            rows = refs.select(c, self.device_id, ref, before=before, limit=limit)
        return [Envelope.decode(data) for _, data in rows]

    def high_water(self) -> tuple[int, bytes]:
        """The seq and hash of the newest event ever appended (the ``@mark`` view)."""
        mark = self.view(MARK_KEY)
        return (int(mark["seq"]), bytes(mark["hash"])) if mark else (0, GENESIS_HASH)

    def view(self, key: str) -> dict[str, Any] | None:
        with read_transaction(self._ds) as c:
            c.execute("SELECT value FROM views WHERE key=?", (key,))
            row = c.fetchone()
        return None if row is None else viewtable.unpack(row[0])

    def views(self, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        with read_transaction(self._ds) as c:
            c.execute(
                "SELECT key, value FROM views WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\uffff"),
            )
            rows = c.fetchall()
        for k, v in rows:
            if not k.startswith("@"):
                yield k, viewtable.unpack(v)

    def meta(self, name: str) -> Any:
        with read_transaction(self._ds) as c:
            return get_meta(c, name)

    def signed_rows(self, table: str) -> Iterator[tuple[str, int, bytes]]:
        """(stream, seq, stored bytes) of every row of the signed log ``table``."""
        with read_transaction(self._ds) as c:
            yield from logs.all_rows(c, table)

    def stream_rows(self, table: str, stream: str) -> Iterator[tuple[int, bytes]]:
        """(seq, stored bytes) of one stream of the signed log ``table``, in seq order."""
        recorder = SQLiteApplicationRecorder(self._ds, events_table_name=table)
        gt = 0
        while True:
            rows = recorder.select_events(stream, gt=gt, limit=PAGE)
            for r in rows:
                yield r.originator_version, r.state
            if len(rows) < PAGE:
                return
            gt = rows[-1].originator_version

    def streams(self, table: str) -> list[str]:
        with read_transaction(self._ds) as c:
            return logs.streams(c, table)

    def sibling_heads(self) -> dict[str, int]:
        """The highest seq applied of every sibling heard of."""
        with read_transaction(self._ds) as c:
            c.execute(
                f"SELECT originator_id, MAX(originator_version) FROM {logs.SIBLING_LOG} GROUP BY 1"
            )
            return {str(d): int(s) for d, s in c.fetchall()}

    def all_views(self) -> Iterator[tuple[str, bytes]]:
        """(key, stored bytes) of every view row, ``@`` rows included."""
        with read_transaction(self._ds) as c:
            c.execute("SELECT key, value FROM views")
            for k, v in logs.fetched(c):
                yield str(k), bytes(v)


def get_meta(c: SQLiteCursor, name: str) -> Any:
    c.execute("SELECT value FROM meta WHERE key=?", (name,))
    row = c.fetchone()
    return None if row is None else codec.decode(row[0])
