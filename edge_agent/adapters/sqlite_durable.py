"""eventsourcing's SQLite datastore, made durable: WAL *and* ``synchronous=FULL``.

eventsourcing sets WAL but leaves ``synchronous`` at its default (NORMAL in WAL
mode), under which a commit that returned can be lost on power failure. Every
connection here sets FULL and checks both pragmas; a store that cannot have
them refuses to run.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    """A connection pool whose every connection runs WAL with synchronous=FULL.

    eventsourcing opens connections with ``cached_statements=True``, which
    sqlite3 reads as a statement cache of *one*: every statement would be
    prepared again on every execution. Connections here keep 256.
    """

    def _create_connection(self) -> SQLiteConnection:
        try:
            raw = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                cached_statements=256,
                timeout=self.lock_timeout or LOCK_TIMEOUT_S,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.db_name}: {exc}") from exc
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            raw.execute("PRAGMA journal_mode=WAL")
        self.is_journal_mode_wal = True
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
        check_durable(raw)
        raw.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=raw, max_age=self.max_age)


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


PAGE_SIZE = 1024
# Checkpoint after 4,000 one-KiB frames (a 4 MiB WAL): a checkpoint copies and fsyncs
# the database file, so doing it less often takes it off most appends' path.
WAL_AUTOCHECKPOINT = 4000


def prepare_file(db_path: Path) -> None:
    """Create a new store file with small pages, before WAL fixes the page size.

    Each commit appends every page it touched to the WAL and fsyncs it; an event
    row and a few small views touch a handful of pages, so 1 KiB pages write a
    quarter of the bytes that the default 4 KiB pages would.
    """
    raw = sqlite3.connect(db_path)
    try:
        raw.execute(f"PRAGMA page_size={PAGE_SIZE}")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
        raw.commit()
    finally:
        raw.close()


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


class Writer:
    """The store's one write connection, kept open: no pool round trip per append.

    :meth:`group` opens one transaction for several writes of one thread (a group commit:
    one fsync for all of them); inside it, each :meth:`transaction` of that thread is a
    savepoint, so that one write that fails is undone alone and the others still commit.
    """

    def __init__(self, ds: SQLiteDatastore) -> None:
        pool = ds.pool
        assert isinstance(pool, DurableSQLitePool)
        self._conn = pool._create_connection()
        self._lock = threading.Lock()
        self._group_thread: int | None = None
        self._group_lost = False
        self._savepoints = 0

    @contextmanager
    def transaction(self) -> Iterator[SQLiteCursor]:
        """BEGIN IMMEDIATE … COMMIT on the dedicated connection (a savepoint in a group)."""
        if self._group_thread == threading.get_ident():
            with self._savepoint() as cursor:
                yield cursor
            return
        with self._lock:
            cursor = self._conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                self._conn.commit()
            except sqlite3.Error as exc:
                _rollback(self._conn)
                raise translate(exc) from exc
            except BaseException:
                _rollback(self._conn)
                raise

    @contextmanager
    def group(self) -> Iterator[None]:
        """One transaction for this thread's writes until the block ends: all that did not
        fail are durable together when it returns; none is if the commit fails."""
        with self.transaction():
            self._group_thread = threading.get_ident()
            self._group_lost = False
            try:
                yield
            finally:
                self._group_thread = None
            if self._group_lost:  # raised before the commit: nothing of the group is kept
                raise StoreError("the store lost a grouped transaction; nothing of it was kept")

    @contextmanager
    def _savepoint(self) -> Iterator[SQLiteCursor]:
        if self._group_lost:
            raise StoreError("the store lost a grouped transaction; nothing of it was kept")
        self._savepoints += 1
        name = f"w{self._savepoints}"
        cursor = self._conn.cursor()
        try:
            cursor.execute(f"SAVEPOINT {name}")
            yield cursor
            cursor.execute(f"RELEASE {name}")
        except BaseException as exc:
            try:
                cursor.execute(f"ROLLBACK TO {name}")
                cursor.execute(f"RELEASE {name}")
            except sqlite3.Error:
                # SQLite rolled the whole transaction back (a full disk, an I/O error):
                # every write of the group fails, none is committed later by mistake.
                self._group_lost = True
            if isinstance(exc, sqlite3.Error):
                raise translate(exc) from exc
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()


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
    with contextlib.suppress(sqlite3.Error):
        conn.rollback()


def translate(exc: BaseException) -> BaseException:
    """Turn an sqlite3/eventsourcing error into a kopsync error a person can act on."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return StoreFull("the disk is full: nothing was recorded. Free some space and try again.")
    if "locked" in text or "busy" in text:
        return StoreError(
            "the store is busy (another kopsync process holds its write lock); try again"
        )
    if isinstance(exc, sqlite3.DatabaseError | PersistenceError):
        if "malformed" in text or "not a database" in text:
            return StoreError(f"the store file is damaged ({exc}); restore it from backup")
        return StoreError(f"store error: {exc}")
    return exc
