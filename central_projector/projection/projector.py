"""The projector: committed events of the central store → read models, exactly once.

Each step is one transaction: read the next committed events after the position (by
``events.id``), decode and upcast them, fold them (:mod:`central_projector.projection.folds`) into
a per-batch cache of read-model rows, write the changed rows with ``executemany``, and
move the position, all committed together. A crash anywhere leaves either the whole
step or none of it; a re-run starts from the committed position, so nothing is folded
twice, and the store's ``UNIQUE (device_id, seq)`` means no fact is there twice.

A run (:meth:`Projector.run_once`) overlaps the steps: a writer (a process on a SQLite
file, a thread on PostgreSQL: :class:`central_projector.projection.steps.Pipeline`) writes and
commits one batch on its own connection while the projector reads and folds the next, so
both cores are busy. The writer checks, in its transaction, that the position is still
the one the batch was folded after.

Rows committed by a step stay cached in the projector for the next one while they are
valid (:mod:`central_projector.projection.rowcache`).

Two details keep the cursor honest:
- an event held behind a seq gap when the cursor passes it is remembered in
  ``rm_projector_held`` and folded once the store releases it (status ``committed``);
- on PostgreSQL, concurrent ingest transactions may commit ids out of order, so a step
  reads only up to a *barrier*: the highest id at a moment when no writer was inside
  ``events`` (a brief ``LOCK … IN SHARE MODE``). SQLite writers are serial already.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from central_projector.migrations.state import require_current
from central_projector.projection.folds import Event, State, apply
from central_projector.projection.folds.keys import touches
from central_projector.projection.readmodels.sqlitewriter import WriterProcess
from central_projector.projection.readmodels.sqlstate import SqlState
from central_projector.projection.readmodels.tables import PREFIX, table_set
from central_projector.projection.readmodels.writes import Writes
from central_projector.projection.rowcache import COMPLETE, RowCache
from central_projector.projection.steps import NAME as NAME
from central_projector.projection.steps import (
    Job,
    Pipeline,
    Read,
    RunResult,
    Stale,
    StepResult,
)
from central_projector.projection.stepsql import NO_SORT, StepSql
from central_projector.record.dbengine import (
    BUSY_TIMEOUT_S,
    CONNECTION_PRAGMAS,
    connect_error,
    make_engine,
    pragma_statements,
    projection_pragmas,
)
from central_projector.record.dbengine import SQLITE_CACHE_KIB as SQLITE_CACHE_KIB
from central_projector.record.dbengine import SQLITE_MMAP_BYTES as SQLITE_MMAP_BYTES
from central_projector.record.meta import ensure_pseudonym_key
from central_projector.record.tables import events

DEFAULT_BATCH = 5000

# The bound of the row cache, the default of Projector(cache_rows=) and of `kopsync central
# project --cache-rows` (SQLite's page cache and mapping: central_projector.record.dbengine).
CACHE_ROWS = 1_000_000  # rows kept between steps (see Projector.step), about 1 GB
# Rows a later step almost never reads again (one per sale, per redemption claim): only
# the fact that they exist is kept between steps.
TRANSIENT = ("sale", "claim")


class Projector:
    """Projects one central store's committed events into its read models."""

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        engine: sa.Engine | None = None,
        prefix: str = PREFIX,
        fold: Callable[[State, list[Event]], object] = apply,
        cache_rows: int = CACHE_ROWS,
        sqlite_cache_kib: int = SQLITE_CACHE_KIB,
        sqlite_mmap_bytes: int = SQLITE_MMAP_BYTES,
        create: bool = True,
    ) -> None:
        """``prefix`` names the tables projected into (``rm_``; a replay's shadow has its
        own, with its own position); ``fold`` folds a batch (a replay of some areas or
        cooperatives passes a narrower one).

        Memory is bounded by ``cache_rows`` (read-model rows kept between steps, about
        1 KiB each; 0 keeps none) and, on SQLite, by ``sqlite_cache_kib`` (the page cache
        of each connection) and ``sqlite_mmap_bytes`` (how much of the file is mapped;
        0 maps none). The database must be migrated to this code's schema; with
        ``create`` (tests, tools) one with no kopsync tables is migrated here."""
        for name, value in (
            ("cache_rows", cache_rows),
            ("sqlite_cache_kib", sqlite_cache_kib),
            ("sqlite_mmap_bytes", sqlite_mmap_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
        self.url = url
        self.t = table_set(prefix)
        self.fold = fold
        self.cache = RowCache(cache_rows)
        self._sqlite_memory = (sqlite_cache_kib, sqlite_mmap_bytes)  # its writer's too
        self.engine = engine if engine is not None else make_engine(url, must_exist=not create)
        if self.engine.dialect.name == "sqlite":
            pragmas = functools.partial(
                projection_pragmas, cache_kib=sqlite_cache_kib, mmap_bytes=sqlite_mmap_bytes
            )
            sa.event.listen(self.engine, "connect", pragmas)
        self.batch_size = batch_size
        self._barrier_lock = self.engine.dialect.name == "postgresql"
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self.sql = StepSql(self.t, mark)
        self._writer: WriterProcess | None = None  # SQLite's (see steps.Pipeline)
        try:
            require_current(self.engine, create=create)
            self.pseudonym_key = ensure_pseudonym_key(self.engine)
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise connect_error(url, exc) from exc

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading the store -----------------------------------------------------------------
    def barrier(self) -> int:
        """The highest event id below which every insert has committed or rolled back."""
        with self.engine.begin() as conn:
            if self._barrier_lock:
                conn.execute(sa.text("LOCK TABLE events IN SHARE MODE"))
            return int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar_one()
            )

    def position(self) -> int:
        position = self.t.position
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(position.c.position).where(position.c.name == NAME)
            ).first()
        return int(row[0]) if row else 0

    # --- one step ----------------------------------------------------------------------------
    def step(
        self, upto: int | None = None, limit: int | None = None, conn: sa.Connection | None = None
    ) -> StepResult:
        """Fold the next batch of committed events and move the position, in one transaction
        (``conn``'s, if given: the caller commits, and this projector's cache is dropped)."""
        limit = limit or self.batch_size
        own = conn is None
        with self._begin(conn) as conn:
            pos, _, generation, exists = self._lock_position(conn)
            self.cache.check(pos, generation)
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            read = self.sql.read(
                cursor, pos, upto, limit, released=True, sorts_off=self._barrier_lock
            )
            state = SqlState(
                conn,
                self.cache.rows,
                self.cache.complete,
                TRANSIENT,
                self.t.prefix,
                pseudonym_key=self.pseudonym_key,
            )
            writes = self._fold(state, read)
            self.cache.pos = -1  # until the commit below has succeeded
            self._write(conn, read.job(pos, generation, exists, writes))
            writes.evict(self.cache.rows)
            res = read.result(pos, writes, state.loads)
        if own:
            self.cache.pos, self.cache.gen = res.position, generation
        self.cache.trim()
        return res

    @contextlib.contextmanager
    def _begin(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is None:
            with self.engine.begin() as own:
                yield own
        else:
            yield conn

    def _lock_position(self, conn: sa.Connection) -> tuple[int, int, int, bool]:
        """(position, events, generation, whether the row exists), in ``conn``'s transaction."""
        c = self.t.position.c
        read = sa.select(c.position, c.events, c.generation).where(c.name == NAME)
        # A replay's swap holds this row: wait for it rather than write beside it.
        row = conn.execute(read.with_for_update() if self._barrier_lock else read).first()
        if row is None:
            return 0, 0, 0, False
        return int(row[0]), int(row[1]), int(row[2]), True

    def _fold(self, state: SqlState, read: Read) -> Writes:
        try:
            if self.cache.complete != COMPLETE:  # a replay from 0 has nothing to look up
                state.prefetch(touches(read.batch))
            self.fold(state, read.batch)
            return state.prepare()
        except BaseException:
            # rows may be half-folded; the transaction rolls back
            self.cache.drop()
            raise

    def _write(self, conn: sa.Connection, job: Job) -> None:
        """The writing part of a step, in ``conn``'s transaction: rows, held events, position."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if self._barrier_lock:
            # As SQLite's synchronous=NORMAL (see projection_pragmas): a commit lost to a
            # crash takes its position with it and is projected again. Only this
            # transaction; the ingest's commits stay fully durable.
            cursor.execute("SET LOCAL synchronous_commit = off")
        job.writes.write(cursor)
        for sql, rows in self.sql.bookkeeping(job):
            cursor.executemany(sql, rows)

    def _writer_process(self) -> WriterProcess | None:
        """The SQLite file's writer process (started once, restarted if it ended)."""
        if self.engine.dialect.name != "sqlite":
            return None
        path = self.engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        if self._writer is None or not self._writer.alive():
            if self._writer is not None:
                self._writer.close()
            pragmas = [*CONNECTION_PRAGMAS, *pragma_statements(*self._sqlite_memory)]
            self._writer = WriterProcess(path, pragmas, BUSY_TIMEOUT_S)
        return self._writer

    def _commit(self, job: Job) -> None:
        """One prepared step in its own transaction (the pipeline's writer thread), if the
        position is still the one the batch was folded after."""
        with self.engine.begin() as conn:
            pos, _, generation, exists = self._lock_position(conn)
            if (pos, generation, exists) != (job.pos, job.generation, job.exists):
                raise Stale(f"position {pos} generation {generation}")
            self._write(conn, job)

    def run_once(
        self, upto: int | None = None, progress: Callable[[RunResult], object] | None = None
    ) -> RunResult:
        """Project everything committed now (or up to event id ``upto``) and not yet
        projected; ``progress`` is called with the totals after each committed step."""
        started = time.perf_counter()
        # The folds make no reference cycles (rows are plain dicts and lists), and the
        # cyclic collector's passes over a cache of many rows cost a quarter of a step.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run_once(started, upto, progress)
        finally:
            if collecting:
                gc.enable()

    def _run_once(
        self, started: float, upto: int | None, progress: Callable[[RunResult], object] | None
    ) -> RunResult:
        upto = self.barrier() if upto is None else upto
        self._forget_vanished_held()
        out = RunResult(progress=progress)
        try:
            self._run_pipelined(upto, out)
        except Stale:
            # Another writer moved the position (or a replay swapped) since this run
            # began: what was folded after it is not written. Carry on from theirs, one
            # transaction at a time.
            self.cache.drop()
            while True:
                res = self.step(upto)
                out.add(res)
                if res.read < self.batch_size:
                    break
        out.seconds = time.perf_counter() - started
        return out

    def _run_pipelined(self, upto: int, out: RunResult) -> None:
        """Steps as :meth:`step`, but each batch's transaction is written and committed by
        the pipeline's writer (:class:`~central_projector.projection.steps.Pipeline`) while this
        thread reads and folds the next.

        Reads here go through a second connection in autocommit, so they never wait for
        the writer. They see nothing it has not committed, which is safe: the rows the
        batch in flight writes are still in the cache (forgotten only once committed), a
        row not in the cache is one no batch of this run wrote, and the stock ledger and
        the held events are read only after the writer has settled. The writer checks the
        position and generation are the ones the batch was folded after (else
        :class:`Stale`, nothing written).
        """
        reader = self.engine.connect()
        if self._barrier_lock:
            reader = reader.execution_options(isolation_level="AUTOCOMMIT")
        pipe = Pipeline(
            out,
            self._writer_process(),
            self._commit,
            self.sql.statements,
            lambda: self.cache.rows,
            self.cache.drop,
        )
        self.cache.pos = -1  # until the run has ended well
        cursor = reader.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if self._barrier_lock:
                cursor.execute(NO_SORT)  # as in StepSql.read, for the session (reset below)
            pos, _, generation, exists = self.sql.peek_position(cursor)
            self.cache.check(pos, generation)
            held = self.sql.count_held(cursor)
            while True:
                if self.cache.size() > self.cache.limit:
                    pipe.settle()
                    self.cache.drop()
                if held:
                    pipe.settle()  # the batch in flight may release some of them
                # the session reads without sorts already (NO_SORT above)
                read = self.sql.read(
                    cursor, pos, upto, self.batch_size, released=bool(held), sorts_off=False
                )
                state = SqlState(
                    reader,
                    self.cache.rows,
                    self.cache.complete,
                    TRANSIENT,
                    self.t.prefix,
                    pipe,
                    self.pseudonym_key,
                )
                writes = self._fold(state, read)
                res = read.result(pos, writes, state.loads)
                pipe.submit(read.job(pos, generation, exists, writes), res)
                pos, exists = res.position, True
                held += res.held - res.released
                if res.read < self.batch_size:
                    break
            pipe.close()
        except BaseException:
            pipe.abandon()
            raise
        finally:
            if self._barrier_lock:
                try:
                    cursor.execute("RESET enable_sort")
                except Exception:
                    reader.invalidate()  # not back into the pool as it is
            reader.close()
        self.cache.committed(pos, generation)

    def _forget_vanished_held(self) -> None:
        """A held event the store later quarantined (broken chain) will never commit."""
        held = self.t.held
        with self.engine.begin() as conn:
            conn.execute(sa.delete(held).where(~sa.exists().where(events.c.id == held.c.event_pk)))

    def pending_held(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(self.t.held)).scalar_one()
            )
