"""Idempotency keys: a request recorded once, whatever number of times it is sent.

``idempotency (key, fingerprint, first_seq, last_seq, created_ms)`` maps a client's key to
the events its first request recorded. The row is written in the transaction that records
those events, so there is no moment at which the events are durable and the key is not:
a process killed after the commit, before it could answer, finds the key on restart and
answers the retry from the same events instead of recording them again.

A refused request records nothing and claims no key: retried, it is decided afresh. Keys
are kept :data:`KEEP_MS` (30 days; far longer than any retry), then dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.sqlite import SQLiteCursor

from sync_core.errors import IdempotencyKeyReused

KEEP_MS = 30 * 24 * 3600 * 1000
PRUNE_EVERY = 256  # claims: the expired keys are dropped by one claim in this many

CREATE = (
    "CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint BLOB NOT NULL, "
    "first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, created_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_ms)",
)


@dataclass(frozen=True, slots=True)
class Once:
    """A request to be recorded at most once: the client's key and a digest of the request."""

    key: str
    fingerprint: bytes


def find(c: SQLiteCursor, once: Once) -> tuple[int, int] | None:
    """The (first, last) seq that ``once.key`` recorded, or None if it recorded nothing yet.

    Raises :class:`IdempotencyKeyReused` if the key came with a different request before.
    """
    c.execute("SELECT fingerprint, first_seq, last_seq FROM idempotency WHERE key=?", (once.key,))
    row = c.fetchone()
    if row is None:
        return None
    if bytes(row[0]) != once.fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {once.key!r} was already used for a different request; "
            "use a new key for a new request"
        )
    return int(row[1]), int(row[2])


def claim(c: SQLiteCursor, once: Once, first_seq: int, last_seq: int, now_ms: int) -> None:
    """Record that ``once.key`` recorded seqs ``first_seq``..``last_seq``; now and then drop
    the keys older than :data:`KEEP_MS` (in the same transaction, by the index on time)."""
    c.execute(
        "INSERT INTO idempotency (key, fingerprint, first_seq, last_seq, created_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        (once.key, once.fingerprint, first_seq, last_seq, now_ms),
    )
    if first_seq % PRUNE_EVERY == 0:
        c.execute("DELETE FROM idempotency WHERE created_ms < ?", (now_ms - KEEP_MS,))
