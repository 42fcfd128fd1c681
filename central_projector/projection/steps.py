"""The parts of a projection step: store rows as events, results, and the pipeline.

A run of :class:`~central_projector.projection.projector.Projector` overlaps its steps: while one
batch (a :class:`Job`) is written and committed by a :class:`Pipeline`'s writer, a writer
process on a SQLite file (:mod:`central_projector.projection.readmodels.sqlitewriter`) or a thread
on PostgreSQL, the projector reads and folds the next. One batch is in flight at a time,
in order; a batch counts in the run's :class:`RunResult` once committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from central_projector.projection.folds import Event
from central_projector.projection.folds.base import Key
from central_projector.projection.readmodels.sqlitewriter import Stale as Stale
from central_projector.projection.readmodels.sqlitewriter import WriterProcess
from central_projector.projection.readmodels.writes import Writes
from schemas import REGISTRY
from sync_core.envelope import stored_payload
from sync_core.errors import UnknownEventType

NAME = "main"  # the single projector's row in the position table

# What the writer process checks first: (sql, parameters, the row it must return or None)
Check = tuple[str, tuple[Any, ...], tuple[int, int] | None]

# The layout of a store row as the projector reads it (see to_event)
COLUMNS = (
    "id", "device_id", "seq", "event_id", "coop_id", "type", "version", "aggregate_id",
    "hlc_wall", "hlc_counter", "envelope", "received_at", "status", "flags",
)  # fmt: skip
ID, DEVICE, SEQ, EVENT_ID, COOP, TYPE, VERSION, AGG, WALL, COUNTER, ENVELOPE, RECEIVED = range(12)
STATUS, FLAGS = 12, 13
_LATEST = {t: REGISTRY.latest_version(t) for t in REGISTRY.types}


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
    read: int = 0  # rows of the store read, held and skipped ones too
    progress: Callable[[RunResult], object] | None = field(default=None, repr=False)

    def add(self, res: StepResult) -> None:
        """Count one committed step."""
        self.steps += 1
        self.events += res.events
        self.rows += res.rows
        self.read += res.read
        self.position = res.position
        if self.progress is not None:
            self.progress(self)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def to_event(row: tuple[Any, ...]) -> Event | None:
    """A store row as the folds see it (payload upcast), or None for an unknown type."""
    payload = stored_payload(row[ENVELOPE])
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


@dataclass
class Job:
    """A folded batch, ready to be written after ``pos`` (at ``generation``)."""

    pos: int
    generation: int
    exists: bool  # the position row
    writes: Writes
    held: list[int]
    released: list[int]
    new_pos: int
    events: int


@dataclass
class Read:
    """One batch as read from the store."""

    rows: list[Any]
    released: list[Any] = field(default_factory=list)
    batch: list[Event] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    skipped: int = 0

    def last(self, pos: int) -> int:
        """The position after this batch, read after ``pos``."""
        return self.rows[-1][ID] if self.rows else pos

    def job(self, pos: int, generation: int, exists: bool, writes: Writes) -> Job:
        released = [r[ID] for r in self.released]
        return Job(pos, generation, exists, writes, self.held, released, self.last(pos),
                   len(self.batch))  # fmt: skip

    def result(self, pos: int, writes: Writes, loads: int) -> StepResult:
        return StepResult(
            events=len(self.batch),
            read=len(self.rows),
            rows=writes.rows,
            position=self.last(pos),
            held=len(self.held),
            released=len(self.released),
            skipped=self.skipped,
            loads=loads,
        )


class Pipeline:
    """The writer of a pipelined run: one batch in flight at a time, in order; each
    batch counts in ``out`` once committed. On a SQLite file the writer is a process
    (:mod:`central_projector.projection.readmodels.sqlitewriter`: a thread would only take turns
    with this one for the GIL); on PostgreSQL a thread (the driver waits for the server
    without the GIL)."""

    def __init__(
        self,
        out: RunResult,
        process: WriterProcess | None,
        commit: Callable[[Job], None],
        statements: Callable[[Job], tuple[Check, list[tuple[str, list[Any]]]]],
        cache: Callable[[], dict[str, dict[Key, Any]]],
        drop: Callable[[], None],
    ) -> None:
        """``process``: the SQLite writer process, else a thread runs ``commit``;
        ``statements``: a job as the process takes it; ``cache``: the projector's cached
        rows (written rows are forgotten there once committed); ``drop``: forget them all
        (after a failure)."""
        self.out = out
        self.process = process
        self.commit, self.statements, self.cache, self.drop = commit, statements, cache, drop
        self.pool = (
            None
            if process is not None
            else ThreadPoolExecutor(1, thread_name_prefix="kopsync-projector-write")
        )
        self.future: Future[None] | None = None
        self.writes: Writes | None = None
        self.res = StepResult()
        self._moves: dict[Key, list[tuple[bytes, int]]] | None = None  # of writes, by item

    def settle(self, keep: Mapping[str, Collection[Key]] | None = None) -> None:
        """Wait until the batch in flight has committed (raising what it raised); then
        its rows kept only as existing can be forgotten (except those ``keep`` writes)."""
        writes = self.writes
        if writes is None:
            return
        self.writes = None
        self._wait()
        writes.evict(self.cache(), keep)
        self.out.add(self.res)

    def moves(self, stock: Key) -> tuple[str, int, list[tuple[bytes, int]]] | None:
        """The batch in flight's movements of ``stock`` (see SqlState.moves_before)."""
        writes = self.writes
        if writes is None:
            return None
        if self._moves is None:
            self._moves = {}
            for coop, location, sku, at, delta in writes.moves:
                self._moves.setdefault((coop, location, sku), []).append((at, delta))
        return NAME, self.res.position, self._moves.get(stock, [])

    def _wait(self) -> None:
        if self.process is not None:
            self.process.wait()
        elif self.future is not None:
            future, self.future = self.future, None
            future.result()

    def submit(self, job: Job, res: StepResult) -> None:
        self.settle(keep=job.writes.written)
        if self.process is not None:
            self.process.send(*self.statements(job))
        else:
            assert self.pool is not None
            self.future = self.pool.submit(self.commit, job)
        self.writes, self.res, self._moves = job.writes, res, None

    def close(self) -> None:
        try:
            self.settle()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)

    def abandon(self) -> None:
        """After a failure: let the batch in flight finish (or fail), keep no cache."""
        if self.writes is not None:
            self.writes = None
            with contextlib.suppress(BaseException):
                self._wait()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.drop()
