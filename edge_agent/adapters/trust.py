"""Checking the store against its seal (:mod:`edge_agent.adapters.seal`), and re-sealing.

:func:`check` is what the device runs before it records: it hashes every view row and
every row of the logs it trusts for its rules (:data:`logs.SCANNED_AT_START`), and checks
its own log by its row count and its head: reads and keyed hashes only, no signature and
no fold. ``full=True`` hashes the device's own log too (``kopsync edge verify``).
:func:`rebuild` is the write side of ``kopsync edge repair``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.sqlite import SQLiteCursor

from edge_agent.adapters import logs, viewtable
from edge_agent.adapters.reads import MARK_KEY
from edge_agent.adapters.seal import SEAL_KEY, Digest, Seal, digest_rows, digest_views
from sync_core.signing import digest

WHAT = {
    logs.DEVICE_LOG: "the device's own events",
    logs.DOWNLINK_LOG: "the events received from the central",
    logs.SIBLING_LOG: "the events received from the cooperative's other devices",
}


SEAL = "seal"
VIEWS = "views"


def check(c: SQLiteCursor, key: bytes, *, full: bool = False) -> list[tuple[str, str]]:
    """What in the store differs from its seal, as (part, problem): the part is
    :data:`SEAL`, :data:`VIEWS` or a signed-log table. Empty when nothing differs."""
    seal = stored_seal(c, key)
    if seal is None:
        return [(SEAL, "the store's seal is missing or does not verify with this device's key")]
    problems = []
    found = digest_views(key, _views(c))
    if found != seal.views:
        problems.append(
            (VIEWS, f"the rule views differ from what the device wrote ({_how(seal.views, found)})")
        )
    for table in logs.SIGNED_LOGS:
        if full or table in logs.SCANNED_AT_START:
            rows = digest_rows(key, table, logs.all_rows(c, table))
            if rows != seal.log(table):
                problems.append((table, _differ(table, seal.log(table), rows)))
    if not full:
        problems += [(logs.DEVICE_LOG, p) for p in _own_head(c, seal.log(logs.DEVICE_LOG))]
    return problems


def _differ(table: str, sealed: Digest, found: Digest) -> str:
    return f"{WHAT.get(table, table)} differ from what the device stored ({_how(sealed, found)})"


def _how(sealed: Digest, found: Digest) -> str:
    if sealed.n == found.n:
        return f"{found.n} rows as sealed, but changed"
    return f"{sealed.n} rows sealed, {found.n} found"


def _own_head(c: SQLiteCursor, sealed: Digest) -> list[str]:
    c.execute(f"SELECT COUNT(*), MAX(originator_version) FROM {logs.DEVICE_LOG}")
    count, last = c.fetchone()
    problems = []
    if count != sealed.n or (last or 0) != count:
        problems.append(_differ(logs.DEVICE_LOG, sealed, Digest(int(count))))
    c.execute("SELECT value FROM views WHERE key=?", (MARK_KEY,))
    row = c.fetchone()
    mark = viewtable.unpack(row[0]) if row else {"seq": 0, "hash": b""}
    c.execute(
        f"SELECT originator_version, state FROM {logs.DEVICE_LOG} "
        "ORDER BY originator_version DESC LIMIT 1"
    )
    head = c.fetchone()
    if head is not None and (head[0] != mark["seq"] or digest(bytes(head[1])) != mark["hash"]):
        problems.append(f"the device's newest event is not seq {mark['seq']} it recorded last")
    return problems


def rebuild(
    c: SQLiteCursor, key: bytes, views: dict[str, dict[str, Any]], pins: dict[str, bytes]
) -> None:
    """Replace every rule view (``@`` rows kept, ``@mark`` set from the log) with ``views``,
    and seal the store afresh over what it now holds, trusting the issuers ``pins``."""
    c.execute("DELETE FROM views WHERE key NOT LIKE '@%'")
    rows: dict[str, bytes | None] = {k: viewtable.pack(v) for k, v in views.items()}
    c.execute(
        f"SELECT originator_version, state FROM {logs.DEVICE_LOG} "
        "ORDER BY originator_version DESC LIMIT 1"
    )
    head = c.fetchone()
    if head is not None:
        mark = {"seq": int(head[0]), "hash": digest(bytes(head[1]))}
        rows[MARK_KEY] = viewtable.pack(mark)
    viewtable.write(c, rows)
    seal = Seal(digest_views(key, list(_views(c))), pins=dict(pins))
    for table in logs.SIGNED_LOGS:
        seal.logs[table] = digest_rows(key, table, list(logs.all_rows(c, table)))
    viewtable.write(c, {SEAL_KEY: viewtable.pack(seal.to_view(key))})


def stored_seal(c: SQLiteCursor, key: bytes) -> Seal | None:
    """The store's seal, or None when it is missing or fails its MAC."""
    c.execute("SELECT value FROM views WHERE key=?", (SEAL_KEY,))
    row = c.fetchone()
    return Seal.from_view(key, None if row is None else viewtable.unpack(row[0]))


def _views(c: SQLiteCursor) -> Iterator[tuple[str, bytes]]:
    return logs.plain_rows(c, "SELECT key, value FROM views")
