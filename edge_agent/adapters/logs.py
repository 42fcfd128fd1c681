"""The signed logs a store holds: one eventsourcing recorder table each.

- ``device_events``: the device's own events, stream = the device id, version = seq;
- ``downlink_events``: events the central issued, stream = the issuer, version = its seq;
- ``sibling_events``: events of the cooperative's other devices, stream = the sibling's id,
  version = its seq (:mod:`edge_agent.adapters.received`).

Every table here is covered by the seal (:mod:`edge_agent.adapters.seal`) and folded, in
the total order, by ``kopsync edge verify`` and ``kopsync edge repair``: a new kind of
signed log (a sibling's events) is one more name here, and one verifier in
:mod:`edge_agent.app.integrity`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor

from sync_core.envelope import Envelope

DEVICE_LOG = "device_events"
DOWNLINK_LOG = "downlink_events"
SIBLING_LOG = "sibling_events"
SIGNED_LOGS = (DEVICE_LOG, DOWNLINK_LOG, SIBLING_LOG)

# Hashed in full by the start-up check: the logs of others, whose rows the device trusts
# for its rules. The device's own log is checked there by its head (the ``@mark`` view);
# every row of it by `kopsync edge verify`, and by the central's chain check.
SCANNED_AT_START = (DOWNLINK_LOG, SIBLING_LOG)

PAGE = 500


def stored(env: Envelope, stream: str) -> StoredEvent:
    """The recorder row of ``env`` in a signed log: its canonical bytes, never re-encoded."""
    return StoredEvent(
        originator_id=stream,
        originator_version=env.seq,
        topic=f"{env.type}:v{env.version}",
        state=env.encode(),
    )


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
