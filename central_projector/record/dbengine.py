"""SQLAlchemy engines for the central store: SQLite (durable pragmas) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from sync_core.errors import StoreError, StoreNotFound, StoreUnavailable, StoreUnsafe

SYNCHRONOUS_FULL = 2
BUSY_TIMEOUT_S = 30  # how long a SQLite connection waits for the write lock
# Every central SQLite connection's settings (the durability setting comes after them)
CONNECTION_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON")
# The projector's SQLite memory, the defaults of Projector(sqlite_cache_kib=,
# sqlite_mmap_bytes=) and of `kopsync central project --sqlite-cache-mib/--sqlite-mmap-mib`.
SQLITE_CACHE_KIB = 1024 * 1024  # 1 GiB of page cache for the read-model B-trees
SQLITE_MMAP_BYTES = 4 << 30
SQLITE_CHECKPOINT_PAGES = 16_000


def make_engine(url: str, *, must_exist: bool = False, read_only: bool = False) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, synchronous=FULL and BEGIN IMMEDIATE.

    With ``must_exist`` a SQLite file that is not there is :class:`StoreNotFound` rather
    than a new empty file (the first connection would create it). A ``read_only`` engine
    (which must exist) changes nothing on SQLite, not even the journal mode, and never
    takes the write lock.
    """
    must_exist = must_exist or read_only
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"'{url}' is not a database URL (e.g. sqlite:///kopsync-central.db or "
            "postgresql+psycopg://user@host/db)"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _check_sqlite_path(url, parsed.database, must_exist)
    try:
        if backend != "sqlite":
            return sa.create_engine(url, pool_pre_ping=True)
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(_unusable(url, parsed, exc)) from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below start transactions, not the driver.
        dbapi_conn.isolation_level = None
        if read_only:
            return
        cur = dbapi_conn.cursor()
        for pragma in CONNECTION_PRAGMAS:
            cur.execute(pragma)
        cur.execute("PRAGMA synchronous=FULL")
        mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
        sync = cur.execute("PRAGMA synchronous").fetchone()[0]
        cur.close()
        if parsed.database not in (None, "", ":memory:") and (
            str(mode).lower() != "wal" or sync != SYNCHRONOUS_FULL
        ):
            raise StoreUnsafe(f"central SQLite store runs journal_mode={mode}, synchronous={sync}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Transactions take the write lock at BEGIN: one writer at a time, no lock upgrade
        # failing half-way. Read-only work (engine.execution_options(kopsync_read=True))
        # begins deferred and reads a WAL snapshot without blocking the writer.
        if read_only or conn.get_execution_options().get("kopsync_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _check_sqlite_path(url: str, database: str | None, must_exist: bool) -> None:
    if not database or database == ":memory:":
        return
    path = Path(database)
    if must_exist and not path.exists():
        raise StoreNotFound(
            f"no central store at {database}; create one with `kopsync central migrate "
            f"--db {url}`, or give --db the store in use ($KOPSYNC_DB_URL)"
        )
    if not path.parent.is_dir():
        raise StoreError(f"the directory {path.parent} of {url} does not exist; create it first")


def _unusable(url: str, parsed: sa.URL, exc: Exception) -> str:
    """Why ``url`` names no database kopsync can open, and what to write instead."""
    backend, _, driver = parsed.drivername.partition("+")  # naming, not loading, the dialect
    if backend == "sqlite":
        return (
            f"'{url}' is not a SQLite URL kopsync can open: a file path needs three slashes "
            "(sqlite:///central.db) or four when absolute (sqlite:////srv/kopsync/central.db)"
        )
    if backend == "postgresql" and driver == "psycopg":
        return (
            "the PostgreSQL driver psycopg is not installed: install kopsync with its "
            "PostgreSQL extra, pip install 'kopsync[postgres]'"
        )
    if backend == "postgresql":
        fixed = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=True)
        return f"kopsync talks to PostgreSQL through psycopg 3: write the URL as {fixed}"
    if backend == "postgres":
        fixed = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=True)
        return f"'{parsed.drivername}://' is not a database URL scheme: write {fixed}"
    return (
        f"kopsync keeps its central store in SQLite or PostgreSQL, not {backend}: give "
        "sqlite:///FILE or postgresql+psycopg://user@host/db"
    )


def connect_error(url: str, exc: sa.exc.OperationalError) -> StoreError:
    """A driver's refusal to connect as one line: transient unless the URL itself is wrong."""
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    words = " ".join(str(exc.orig).split())
    text = f"cannot open the central store {shown}: {words}"
    if "does not exist" in words or "authentication failed" in words:
        return StoreError(text)
    return StoreUnavailable(f"{text}; retry when it is reachable")


def pragma_statements(
    cache_kib: int = SQLITE_CACHE_KIB, mmap_bytes: int = SQLITE_MMAP_BYTES
) -> list[str]:
    """The projector's SQLite settings (see :func:`projection_pragmas`)."""
    return [
        "PRAGMA synchronous=NORMAL",
        # Upserts seek all over the read-model B-trees: keep them in memory, not re-read.
        f"PRAGMA cache_size=-{int(cache_kib)}",
        f"PRAGMA mmap_size={int(mmap_bytes)}",
        # Each step rewrites the same hot pages: checkpoint them into the file every few
        # steps rather than after each one.
        f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}",
    ]


def projection_pragmas(
    dbapi_conn: Any,
    _record: Any,
    *,
    cache_kib: int = SQLITE_CACHE_KIB,
    mmap_bytes: int = SQLITE_MMAP_BYTES,
) -> None:
    """WAL with synchronous=NORMAL for the projector's own connections.

    A commit still writes the read-model rows and the position atomically; what NORMAL
    gives up is only the last few commits on power loss, after which the projector finds
    its older position and projects those events again: harmless by construction. The
    event record itself is written by the ingest's connections, which keep FULL.
    """
    cur = dbapi_conn.cursor()
    for sql in pragma_statements(cache_kib, mmap_bytes):
        cur.execute(sql)
    cur.close()
