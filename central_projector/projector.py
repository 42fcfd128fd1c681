"""The projector: committed events of the central store → read models, exactly once.

Each step is one transaction: read the next committed events after the position (by
``events.id``), decode and upcast them, fold them (:mod:`central_projector.models`) into
a per-batch cache of read-model rows, write the changed rows with ``executemany``, and
move the position, all committed together. A crash anywhere leaves either the whole
step or none of it; a re-run starts from the committed position, so nothing is folded
twice, and the store's ``UNIQUE (device_id, seq)`` means no fact is there twice.

Rows committed by a step stay cached in the projector for the next one, as long as the
position it finds is the one it left (any other writer of the read models would have
moved it) and so is the generation (a replay's swap moves it,
:mod:`central_projector.replay`); a failed step drops the cache. A projector that
starts from position 0 knows the read models are empty, so while its cache is whole a
row it has not seen does not exist: a full replay looks nothing up.

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
from dataclasses import dataclass, field
from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.dbengine import make_engine
from central_projector.models import Event, State, apply
from central_projector.models.keys import touches
from central_projector.readmodels import schema
from central_projector.readmodels.sqlstate import SqlState
from central_projector.readmodels.tables import PREFIX, SPEC, table_set
from central_projector.tables import events
from central_projector.tables import metadata as store_metadata
from schemas import REGISTRY
from sync_core.errors import StoreError, UnknownEventType

DEFAULT_BATCH = 5000
NAME = "main"

_COLUMNS = (
    "id", "device_id", "seq", "event_id", "coop_id", "type", "version", "aggregate_id",
    "hlc_wall", "hlc_counter", "envelope", "received_at", "status", "flags",
)  # fmt: skip
ID, DEVICE, SEQ, EVENT_ID, COOP, TYPE, VERSION, AGG, WALL, COUNTER, ENVELOPE, RECEIVED = range(12)
STATUS, FLAGS = 12, 13
# Memory bounds, the defaults of Projector(cache_rows=, sqlite_cache_kib=, sqlite_mmap_bytes=)
# and of `kopsync central project --cache-rows/--sqlite-cache-mib/--sqlite-mmap-mib`.
SQLITE_CACHE_KIB = 1024 * 1024  # 1 GiB of page cache for the read-model B-trees
SQLITE_MMAP_BYTES = 4 << 30
SQLITE_CHECKPOINT_PAGES = 16_000
CACHE_ROWS = 1_000_000  # rows kept between steps (see Projector.step), about 1 GB
# Rows a later step almost never reads again (one per sale, per redemption claim): only
# the fact that they exist is kept between steps.
TRANSIENT = ("sale", "claim")
COMPLETE = frozenset(SPEC)
_LATEST = {t: REGISTRY.latest_version(t) for t in REGISTRY.types}


def _sql(mark: str, held: str = "rm_projector_held") -> tuple[str, str]:
    cols = ", ".join(f"e.{c}" for c in _COLUMNS)
    after = (
        f"SELECT {cols} FROM events e WHERE e.id > {mark} AND e.id <= {mark} "
        f"ORDER BY e.id LIMIT {mark}"
    )
    released = (
        f"SELECT {cols} FROM events e JOIN {held} h ON h.event_pk = e.id "
        "WHERE e.status = 'committed'"
    )
    return after, released


@dataclass
class StepResult:
    """What one transaction did."""

    events: int = 0
    read: int = 0
    rows: int = 0
    position: int = 0
    held: int = 0
    released: int = 0
    skipped: int = 0
    loads: int = 0


@dataclass
class RunResult:
    steps: int = 0
    events: int = 0
    rows: int = 0
    seconds: float = 0.0
    position: int = 0
    per_step: list[StepResult] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def to_event(row: tuple[Any, ...]) -> Event | None:
    """A store row as the folds see it (payload upcast), or None for an unknown type."""
    payload = msgpack.unpackb(row[ENVELOPE], raw=False)["payload"]
    type_, version = row[TYPE], row[VERSION]
    latest = _LATEST.get(type_)
    if latest is None:
        return None
    if version != latest:
        try:
            _, payload = REGISTRY.upcast(type_, version, payload)
        except UnknownEventType:
            return None
    return Event(
        (row[WALL], row[COUNTER], row[DEVICE], row[SEQ]),
        row[EVENT_ID],
        row[COOP],
        type_,
        row[AGG],
        payload,
        row[RECEIVED],
        row[FLAGS] or "",
    )


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
    ) -> None:
        """``prefix`` names the tables projected into (``rm_``; a replay's shadow has its
        own, with its own position); ``fold`` folds a batch (a replay of some areas or
        cooperatives passes a narrower one).

        Memory is bounded by ``cache_rows`` (read-model rows kept between steps, about
        1 KiB each; 0 keeps none) and, on SQLite, by ``sqlite_cache_kib`` (the page cache
        of each connection) and ``sqlite_mmap_bytes`` (how much of the file is mapped;
        0 maps none)."""
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
        self.cache_rows = cache_rows
        self.engine = engine if engine is not None else make_engine(url)
        if self.engine.dialect.name == "sqlite":
            pragmas = functools.partial(
                _projection_pragmas, cache_kib=sqlite_cache_kib, mmap_bytes=sqlite_mmap_bytes
            )
            sa.event.listen(self.engine, "connect", pragmas)
        self.batch_size = batch_size
        self._barrier_lock = self.engine.dialect.name == "postgresql"
        # Rows as committed by this projector's last step: valid as long as nobody else
        # moved the position (every read-model write moves it), so steps skip reloading.
        self._cache: dict[str, dict[Any, Any]] = {}
        self._cache_pos = -1
        self._cache_gen = -1
        self._complete: frozenset[str] = frozenset()
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = _sql(mark, self.t.held.name)
        try:
            store_metadata.create_all(self.engine)  # as the store itself does, if new
            schema.upgrade(self.engine)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the central store at {url}: {exc.orig}") from exc

    def close(self) -> None:
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
        res = StepResult()
        projector_position, projector_held = self.t.position, self.t.held
        own = conn is None
        with self._begin(conn) as conn:
            read = sa.select(
                projector_position.c.position,
                projector_position.c.events,
                projector_position.c.generation,
            ).where(projector_position.c.name == NAME)
            # A replay's swap holds this row: wait for it rather than write beside it.
            pos_row = conn.execute(read.with_for_update() if self._barrier_lock else read).first()
            pos, total = (int(pos_row[0]), int(pos_row[1])) if pos_row else (0, 0)
            generation = int(pos_row[2]) if pos_row else 0
            if pos == 0:
                # Nothing projected yet, so every read model is empty: the cache alone
                # knows every row, and a key not in it needs no lookup (a full replay).
                self._cache, self._complete = {}, COMPLETE
            elif (
                pos != self._cache_pos
                or generation != self._cache_gen
                or self._cached_rows() > self.cache_rows
            ):
                # another projector moved on, a replay swapped, or the cache grew too big
                self._cache, self._complete = {}, frozenset()
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            if self._barrier_lock:
                # As SQLite's synchronous=NORMAL (see _projection_pragmas): a commit lost
                # to a crash takes its position with it and is projected again. Only this
                # transaction; the ingest's commits stay fully durable.
                cursor.execute("SET LOCAL synchronous_commit = off")
            after, released_sql = self._sql
            cursor.execute(after, (pos, upto if upto is not None else 2**62, limit))
            rows = cursor.fetchall()
            cursor.execute(released_sql)
            released = cursor.fetchall()
            batch: list[Event] = []
            held: list[int] = []
            for r in rows:
                if r[STATUS] != "committed":
                    held.append(r[ID])
                    continue
                ev = to_event(r)
                if ev is None:
                    res.skipped += 1
                else:
                    batch.append(ev)
            for r in released:
                ev = to_event(r)
                if ev is not None:
                    batch.append(ev)
            state = SqlState(conn, self._cache, self._complete, TRANSIENT, self.t.prefix)
            try:
                if self._complete != COMPLETE:  # a replay from 0 has nothing to look up
                    state.prefetch(touches(batch))
                self.fold(state, batch)
                res.rows = state.flush()
            except BaseException:
                # rows may be half-folded; the transaction rolls back
                self._cache, self._complete = {}, frozenset()
                raise
            res.loads = state.loads
            if held:
                conn.execute(sa.insert(projector_held), [{"event_pk": i} for i in held])
            if released:
                gone = [{"pk": r[ID]} for r in released]
                conn.execute(
                    sa.delete(projector_held).where(
                        projector_held.c.event_pk == sa.bindparam("pk")
                    ),
                    gone,
                )
            new_pos = rows[-1][ID] if rows else pos
            res.events, res.position, res.read = len(batch), new_pos, len(rows)
            res.held, res.released = len(held), len(released)
            values = {"position": new_pos, "events": total + len(batch), "updated_at": _now()}
            if pos_row is None:
                conn.execute(sa.insert(projector_position).values(name=NAME, **values))
            elif batch or new_pos != pos:
                conn.execute(
                    sa.update(projector_position)
                    .where(projector_position.c.name == NAME)
                    .values(**values)
                )
            self._cache_pos = -1  # until the commit below has succeeded
        if own:
            self._cache_pos, self._cache_gen = new_pos, generation
        if self._cached_rows() > self.cache_rows:  # never more than that between steps
            self._cache, self._complete = {}, frozenset()
        return res

    @contextlib.contextmanager
    def _begin(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is None:
            with self.engine.begin() as own:
                yield own
        else:
            yield conn

    def _cached_rows(self) -> int:
        return sum(len(rows) for rows in self._cache.values())

    def run_once(self) -> RunResult:
        """Project everything committed now and not yet projected."""
        started = time.perf_counter()
        # The folds make no reference cycles (rows are plain dicts and lists), and the
        # cyclic collector's passes over a cache of many rows cost a quarter of a step.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run_once(started)
        finally:
            if collecting:
                gc.enable()

    def _run_once(self, started: float) -> RunResult:
        upto = self.barrier()
        self._forget_vanished_held()
        out = RunResult()
        while True:
            res = self.step(upto)
            out.steps += 1
            out.events += res.events
            out.rows += res.rows
            out.position = res.position
            if res.read < self.batch_size:
                break
        out.seconds = time.perf_counter() - started
        return out

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


def _projection_pragmas(
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
    cur.execute("PRAGMA synchronous=NORMAL")
    # Upserts seek all over the read-model B-trees: keep them in memory, not re-read.
    cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    cur.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")
    # Each step rewrites the same hot pages: checkpoint them into the file every few
    # steps rather than after each one.
    cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cur.close()


def _now() -> int:
    return time.time_ns() // 1_000_000
