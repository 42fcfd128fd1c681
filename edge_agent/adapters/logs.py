"""The signed logs a store holds: one eventsourcing recorder table each.

- ``device_events``: the device's own events, stream = the device id, version = seq;
- ``downlink_events``: events the central issued, stream = the issuer, version = its seq.

Every table here is covered by the seal (:mod:`edge_agent.adapters.seal`) and folded, in
the total order, by ``kopsync edge verify`` and ``kopsync edge repair``: a new kind of
signed log (a sibling's events) is one more name here, and one verifier in
:mod:`edge_agent.app.integrity`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.sqlite import SQLiteCursor

DEVICE_LOG = "device_events"
DOWNLINK_LOG = "downlink_events"
SIGNED_LOGS = (DEVICE_LOG, DOWNLINK_LOG)

# Hashed in full by the start-up check: the logs of others, whose rows the device trusts
# for its rules. The device's own log is checked there by its head (the ``@mark`` view);
# every row of it by `kopsync edge verify`, and by the central's chain check.
SCANNED_AT_START = (DOWNLINK_LOG,)

PAGE = 500


def all_rows(c: SQLiteCursor, table: str) -> Iterator[tuple[str, int, bytes]]:
    """(stream, seq, stored bytes) of every row of ``table``."""
    assert table in SIGNED_LOGS, table
    return plain_rows(c, f"SELECT originator_id, originator_version, state FROM {table}")


def plain_rows(c: SQLiteCursor, sql: str) -> Iterator[Any]:
    """The rows of ``sql`` as plain tuples, in ``c``'s transaction: the store's connections
    make ``sqlite3.Row`` objects, which cost a third more to step through a whole table."""
    raw = c.sqlite_cursor.connection.cursor()
    raw.row_factory = None
    return iter(raw.execute(sql))


def fetched(c: SQLiteCursor) -> Iterator[Any]:
    """The rows of the query just executed on ``c``, a page at a time (not all in memory)."""
    while rows := c.sqlite_cursor.fetchmany(PAGE):
        yield from rows


def streams(c: SQLiteCursor, table: str) -> list[str]:
    """The streams (originator ids) of ``table``."""
    assert table in SIGNED_LOGS, table
    c.execute(f"SELECT DISTINCT originator_id FROM {table} ORDER BY originator_id")
    return [str(r[0]) for r in c.fetchall()]
