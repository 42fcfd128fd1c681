"""The projector: committed events of the central store → read models, exactly once.

Each step is one transaction: read the next committed events after the position (by
``events.id``), decode and upcast them, fold them (:mod:`central_projector.models`) into
a per-batch cache of read-model rows, write the changed rows with ``executemany``, and
move the position, all committed together. A crash anywhere leaves either the whole
step or none of it; a re-run starts from the committed position, so nothing is folded
twice, and the store's ``UNIQUE (device_id, seq)`` means no fact is there twice.

Two details keep the cursor honest:
- an event held behind a seq gap when the cursor passes it is remembered in
  ``rm_projector_held`` and folded once the store releases it (status ``committed``);
- on PostgreSQL, concurrent ingest transactions may commit ids out of order, so a step
  reads only up to a *barrier*: the highest id at a moment when no writer was inside
  ``events`` (a brief ``LOCK … IN SHARE MODE``). SQLite writers are serial already.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.dbengine import make_engine
from central_projector.models import Event, apply
from central_projector.models.keys import touches
from central_projector.readmodels import schema
from central_projector.readmodels.sqlstate import SqlState
from central_projector.readmodels.tables import projector_held, projector_position
from central_projector.tables import events
from schemas import REGISTRY
from sync_core.errors import StoreError, UnknownEventType

DEFAULT_BATCH = 2000
NAME = "main"

_COLUMNS = (
    events.c.id,
    events.c.device_id,
    events.c.seq,
    events.c.event_id,
    events.c.coop_id,
    events.c.type,
    events.c.version,
    events.c.aggregate_id,
    events.c.hlc_wall,
    events.c.hlc_counter,
    events.c.envelope,
    events.c.received_at,
    events.c.status,
    events.c.flags,
)


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


def to_event(row: Any) -> Event | None:
    """A store row as the folds see it (payload upcast), or None for an unknown type."""
    payload = msgpack.unpackb(row.envelope, raw=False)["payload"]
    try:
        if row.version != REGISTRY.latest_version(row.type):
            _, payload = REGISTRY.upcast(row.type, row.version, payload)
    except UnknownEventType:
        return None
    return Event(
        (row.hlc_wall, row.hlc_counter, row.device_id, row.seq),
        row.event_id,
        row.coop_id,
        row.type,
        row.aggregate_id,
        payload,
        row.received_at,
        row.flags or "",
    )


class Projector:
    """Projects one central store's committed events into its read models."""

    def __init__(
        self, url: str, *, batch_size: int = DEFAULT_BATCH, engine: sa.Engine | None = None
    ) -> None:
        self.url = url
        self.engine = engine if engine is not None else make_engine(url)
        self.batch_size = batch_size
        self._barrier_lock = self.engine.dialect.name == "postgresql"
        try:
            events.create(self.engine, checkfirst=True)
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
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(projector_position.c.position).where(projector_position.c.name == NAME)
            ).first()
        return int(row[0]) if row else 0

    # --- one step ----------------------------------------------------------------------------
    def step(self, upto: int | None = None, limit: int | None = None) -> StepResult:
        """Fold the next batch of committed events and move the position, in one transaction."""
        limit = limit or self.batch_size
        res = StepResult()
        with self.engine.begin() as conn:
            pos_row = conn.execute(
                sa.select(projector_position.c.position, projector_position.c.events).where(
                    projector_position.c.name == NAME
                )
            ).first()
            pos, total = (int(pos_row[0]), int(pos_row[1])) if pos_row else (0, 0)
            q = sa.select(*_COLUMNS).where(events.c.id > pos).order_by(events.c.id).limit(limit)
            if upto is not None:
                q = q.where(events.c.id <= upto)
            rows = conn.execute(q).all()
            released = conn.execute(
                sa.select(*_COLUMNS)
                .join(projector_held, projector_held.c.event_pk == events.c.id)
                .where(events.c.status == "committed")
            ).all()
            batch: list[Event] = []
            held: list[int] = []
            for r in rows:
                if r.status != "committed":
                    held.append(r.id)
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
            state = SqlState(conn)
            state.prefetch(touches(batch))
            apply(state, batch)
            res.rows = state.flush()
            res.loads = state.loads
            if held:
                conn.execute(sa.insert(projector_held), [{"event_pk": i} for i in held])
            if released:
                gone = [{"pk": r.id} for r in released]
                conn.execute(
                    sa.delete(projector_held).where(
                        projector_held.c.event_pk == sa.bindparam("pk")
                    ),
                    gone,
                )
            new_pos = rows[-1].id if rows else pos
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
        return res

    def run_once(self) -> RunResult:
        """Project everything committed now and not yet projected."""
        started = time.perf_counter()
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
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(projector_held).where(
                    ~sa.exists().where(events.c.id == projector_held.c.event_pk)
                )
            )

    def pending_held(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(projector_held)).scalar_one()
            )


def _now() -> int:
    return time.time_ns() // 1_000_000
