"""eventsourcing's SQLite datastore, made durable: WAL *and* ``synchronous=FULL``.

eventsourcing sets WAL but leaves ``synchronous`` at its default (NORMAL in WAL
mode), under which a commit that returned can be lost on power failure. Every
connection here sets FULL and checks both pragmas; a store that cannot have
them refuses to run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
)

from sync_core.errors import StoreError, StoreFull, StoreUnsafe

SYNCHRONOUS_FULL = 2
LOCK_TIMEOUT_S = 30


class DurableSQLitePool(SQLiteConnectionPool):
    """A connection pool whose every connection runs WAL with synchronous=FULL."""

    def _create_connection(self) -> SQLiteConnection:
        conn = super()._create_connection()
        raw: sqlite3.Connection = conn._sqlite_conn
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("PRAGMA foreign_keys=ON")
        check_durable(raw)
        return conn


def check_durable(raw: sqlite3.Connection) -> None:
    """Raise :class:`StoreUnsafe` unless WAL and synchronous=FULL are in force."""
    mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
    sync = raw.execute("PRAGMA synchronous").fetchone()[0]
    if str(mode).lower() != "wal" or sync != SYNCHRONOUS_FULL:
        raise StoreUnsafe(
            f"SQLite store runs journal_mode={mode}, synchronous={sync}; kopsync needs "
            "journal_mode=wal and synchronous=FULL (2) so that an acknowledged event "
            "survives power loss. Move the data directory to a local file system."
        )


def open_datastore(db_path: str) -> SQLiteDatastore:
    """An eventsourcing SQLite datastore with the durable pool, text originator ids."""
    ds = SQLiteDatastore(db_path, lock_timeout=LOCK_TIMEOUT_S, originator_id_type="text")
    ds.pool.close()
    ds.pool = DurableSQLitePool(db_name=db_path, lock_timeout=LOCK_TIMEOUT_S, pool_size=2)
    return ds


@contextmanager
def write_transaction(ds: SQLiteDatastore) -> Iterator[SQLiteCursor]:
    """BEGIN IMMEDIATE … COMMIT: one writer at a time, durable when it returns."""
    with ds.get_connection(commit=True) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            conn.commit()
        except sqlite3.Error as exc:
            _rollback(conn)
            raise translate(exc) from exc
        except BaseException:
            _rollback(conn)
            raise


@contextmanager
def read_transaction(ds: SQLiteDatastore) -> Iterator[SQLiteCursor]:
    """A consistent snapshot for reading."""
    with ds.get_connection(commit=False) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute("BEGIN")
            yield cursor
        finally:
            _rollback(conn)


def _rollback(conn: SQLiteConnection) -> None:
    try:
        conn.rollback()
    except sqlite3.Error:
        pass


def translate(exc: BaseException) -> BaseException:
    """Turn an sqlite3/eventsourcing error into a kopsync error a person can act on."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return StoreFull(
            "the disk is full: nothing was recorded. Free some space and try again."
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            "the store is busy (another kopsync process holds its write lock); try again"
        )
    if isinstance(exc, sqlite3.DatabaseError | PersistenceError):
        if "malformed" in text or "not a database" in text:
            return StoreError(f"the store file is damaged ({exc}); restore it from backup")
        return StoreError(f"store error: {exc}")
    return exc
