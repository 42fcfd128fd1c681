"""Events a device receives (the central's, its siblings'), stored and folded into the views.

Two signed logs beside the device's own, in the same SQLite file:

- ``downlink_events``: centrally issued events, keyed by (issuer, issuer seq);
- ``sibling_events``: the events of the cooperative's other devices, keyed by (device id,
  seq), each checked by :mod:`edge_agent.domain.siblings` first; ``sibling_held`` keeps the
  ones that wait (for a registration, for a predecessor) until they can be judged again.

Both fold into the views in the cooperative's total order (:mod:`edge_agent.domain.fold`):
events that all come after everything applied so far (``@fold`` view: the newest order key
received; the device's own events come after every event its clock has seen) apply one by
one; one that comes earlier makes the store fold the three logs again, from nothing, in the
same transaction (through the write's :class:`ViewWrite`, so the seal follows). The views are
therefore always the fold ``kopsync edge verify`` computes. Receiving also advances the
device's clock past the events' clocks (not past one more than a day ahead of the device's
wall clock: a wrong clock must not drag this device's into its future).
"""

from __future__ import annotations

from collections.abc import Iterator

from eventsourcing.sqlite import SQLiteCursor

from edge_agent.adapters import logs
from edge_agent.adapters.viewtable import ViewWrite
from edge_agent.domain.fold import apply_event, as_proposed, fold
from sync_core import hlc
from sync_core.envelope import Envelope, OrderKey
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, digest

FOLD_KEY = "@fold"
CLOCK_KEY = "@clock"
SKEW_LIMIT_MS = 24 * 3600 * 1000
LOAD_CHUNK = 500

CREATE_HELD = (
    "CREATE TABLE IF NOT EXISTS sibling_held (device_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "data BLOB NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (device_id, seq)) WITHOUT ROWID"
)


def is_stored(c: SQLiteCursor, table: str, stream: str, version: int) -> bool:
    assert table in logs.SIGNED_LOGS, table
    c.execute(
        f"SELECT 1 FROM {table} WHERE originator_id=? AND originator_version=?",
        (stream, version),
    )
    return c.fetchone() is not None


def fold_in(w: ViewWrite, device_id: str, new: list[Envelope], clock: Hlc, now_ms: int) -> None:
    """Fold ``new`` (already stored) into the views of ``w``, and advance ``@clock`` from
    ``clock`` (the device's current clock) past every event of it."""
    if not new:
        return
    c = w.c
    new = sorted(new, key=lambda e: e.order_key)
    frontier = max_key(_saved_frontier(w), _own_last(c, device_id))
    if frontier is None or new[0].order_key > frontier:
        for env in new:
            apply_event(w.views, as_proposed(env), w.load)
    else:  # one comes before what was applied: fold the three logs again, from nothing
        c.execute("SELECT key FROM views WHERE key NOT LIKE '@%'")
        stale = [str(r[0]) for r in c.fetchall()]
        for i in range(0, len(stale), LOAD_CHUNK):
            w.load(stale[i : i + LOAD_CHUNK])
        w.views.update(dict.fromkeys(stale))
        w.views.update(fold(sorted(all_received(c, device_id), key=lambda e: e.order_key)))
    last = new[-1].order_key
    w.views[FOLD_KEY] = {"key": list(last if frontier is None else max(frontier, last))}
    for env in new:
        if env.hlc.wall <= now_ms + SKEW_LIMIT_MS:
            clock = hlc.receive(clock, env.hlc, now_ms)
    w.views[CLOCK_KEY] = {"hlc": clock.to_wire()}


def all_received(c: SQLiteCursor, device_id: str) -> Iterator[Envelope]:
    """Every event of the three logs: the device's own, the central's, its siblings'."""
    rows = [
        bytes(state)
        for table in logs.SIGNED_LOGS
        for stream, _, state in list(logs.all_rows(c, table))
        if table != logs.DEVICE_LOG or stream == device_id
    ]
    return (Envelope.decode(data) for data in rows)


def _saved_frontier(w: ViewWrite) -> OrderKey | None:
    w.load([FOLD_KEY])
    saved = w.views[FOLD_KEY]
    if saved is None:
        return None
    wall, counter, device, seq = saved["key"]
    return (int(wall), int(counter), str(device), int(seq))


def _own_last(c: SQLiteCursor, device_id: str) -> OrderKey | None:
    c.execute(
        "SELECT state FROM device_events WHERE originator_id=? "
        "ORDER BY originator_version DESC LIMIT 1",
        (device_id,),
    )
    row = c.fetchone()
    return None if row is None else Envelope.decode(bytes(row[0])).order_key


def max_key(a: OrderKey | None, b: OrderKey | None) -> OrderKey | None:
    return b if a is None else a if b is None else max(a, b)


# --- siblings ------------------------------------------------------------------------------
def sibling_head(c: SQLiteCursor, device_id: str) -> tuple[int, bytes]:
    """(seq, hash) of the newest event of sibling ``device_id`` held here; (0, b"") if none."""
    c.execute(
        "SELECT originator_version, state FROM sibling_events WHERE originator_id=? "
        "ORDER BY originator_version DESC LIMIT 1",
        (device_id,),
    )
    row = c.fetchone()
    if row is None:
        return 0, GENESIS_HASH
    return int(row[0]), digest(bytes(row[1]))


def sibling_hash_at(c: SQLiteCursor, device_id: str, seq: int) -> bytes | None:
    c.execute(
        "SELECT state FROM sibling_events WHERE originator_id=? AND originator_version=?",
        (device_id, seq),
    )
    row = c.fetchone()
    return None if row is None else digest(bytes(row[0]))


def hold(c: SQLiteCursor, env: Envelope, reason: str) -> None:
    c.execute(
        "INSERT OR IGNORE INTO sibling_held (device_id, seq, data, reason) VALUES (?, ?, ?, ?)",
        (env.device_id, env.seq, env.encode(), reason),
    )


def take_held(c: SQLiteCursor) -> list[bytes]:
    """Every held message, removed: they are judged again (and held again if they must)."""
    c.execute("SELECT data FROM sibling_held ORDER BY device_id, seq")
    rows = [bytes(r[0]) for r in c.fetchall()]
    c.execute("DELETE FROM sibling_held")
    return rows
