"""Which local events mention an entity: the index behind passbooks and member statements.

``refs (ref, seq)`` holds, for every event of the device's own log, one row per entity it
is about: its aggregate (``SavingsAccount:S-1a2b3c4d``, from the catalog's aggregate name)
and every id its payload names in :data:`REF_FIELDS`, with that aggregate
(``Loan/member_id=M-1a2b3c4d``: the loans of a member, not also her purchases). Ids never
contain ``:``, ``/`` or ``=``, so the forms cannot collide. Rows are written in the append's
own transaction, so the index is never behind the log, and a reader asks for an account's
history by one range scan instead of replaying the log.

A store made before the index existed is indexed once, when it is first opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from eventsourcing.sqlite import SQLiteCursor

from schemas import REGISTRY
from sync_core.envelope import Envelope

REF_FIELDS = ("member_id", "card_uid")
"""Payload fields whose value is an entity a reader looks events up by."""

CREATE = (
    "CREATE TABLE IF NOT EXISTS refs (ref TEXT NOT NULL, seq INTEGER NOT NULL, "
    "PRIMARY KEY (ref, seq)) WITHOUT ROWID"
)


def aggregate_ref(aggregate: str, aggregate_id: str) -> str:
    """The ref of an aggregate, e.g. ``aggregate_ref("Loan", "L-1")`` → ``Loan:L-1``."""
    return f"{aggregate}:{aggregate_id}"


def field_ref(aggregate: str, name: str, value: str) -> str:
    """The ref of an id that events of ``aggregate`` name, e.g. ``Loan/member_id=M-1``."""
    return f"{aggregate}/{name}={value}"


def refs_of(event_type: str, aggregate_id: str, payload: dict[str, Any]) -> list[str]:
    aggregate = REGISTRY.get(event_type).aggregate
    refs = [aggregate_ref(aggregate, aggregate_id)]
    for name in REF_FIELDS:
        value = payload.get(name)
        if isinstance(value, str):
            refs.append(field_ref(aggregate, name, value))
    return refs


def index(c: SQLiteCursor, envs: Iterable[Envelope]) -> None:
    """Add the refs of ``envs`` (inside the transaction that stores them)."""
    rows = [(ref, e.seq) for e in envs for ref in refs_of(e.type, e.aggregate_id, e.payload)]
    if rows:
        c.executemany("INSERT OR IGNORE INTO refs (ref, seq) VALUES (?, ?)", rows)


def create(c: SQLiteCursor, read: Callable[[int, int], list[Envelope]]) -> None:
    """Create the index; if it is new, index the events already in the log.

    ``read(first, last)`` returns the stored events with seqs in that range, in order.
    """
    c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='refs'")
    if c.fetchone() is not None:
        return
    c.execute(CREATE)
    first = 1
    while page := read(first, first + BACKFILL_PAGE - 1):
        index(c, page)
        first += BACKFILL_PAGE


BACKFILL_PAGE = 1000


def select(
    c: SQLiteCursor, device_id: str, ref: str, *, before: int | None, limit: int
) -> list[tuple[int, bytes]]:
    """(seq, stored bytes) of the newest ``limit`` events about ``ref`` below seq ``before``."""
    c.execute(
        "SELECT e.originator_version, e.state FROM refs r JOIN device_events e "
        "ON e.originator_id = ? AND e.originator_version = r.seq "
        "WHERE r.ref = ? AND r.seq < ? ORDER BY r.seq DESC LIMIT ?",
        (device_id, ref, before if before is not None else 2**62, limit),
    )
    return [(int(seq), bytes(state)) for seq, state in c.fetchall()]
