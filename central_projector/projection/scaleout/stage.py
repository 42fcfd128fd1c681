"""One projection stage in SQL: its events of the central store → its rows, exactly once.

Like :class:`central_projector.projection.projector.Projector`, each step is one transaction that
reads the next committed events after the stage's position, folds them and moves the
position (``rm_projector_position`` row named after the stage) together; in addition
its first statement is the lease fence (:func:`central_projector.record.leases.fence`),
so only the stage's current owner can commit. The stage folds only the events routed to
it (:mod:`central_projector.projection.scaleout.routing`) through a :class:`ScopedState`: owned rows
into the shared ``rm_`` tables, the cross stage's private sale copies into
``rm_stage_shadow``. Events held behind a gap are remembered per stage.
"""

from __future__ import annotations

from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.projection.folds import apply
from central_projector.projection.folds.base import Key, Okey, Row
from central_projector.projection.folds.keys import touches
from central_projector.projection.projector import TRANSIENT, Projector
from central_projector.projection.readmodels.sqlstate import SqlState
from central_projector.projection.readmodels.tables import projector_position
from central_projector.projection.scaleout.routing import CROSS, SHARED_TABLES, may_fold, stages_of
from central_projector.projection.scaleout.scoped import ScopedState
from central_projector.projection.steps import (
    COLUMNS,
    COOP,
    DEVICE,
    ID,
    STATUS,
    TYPE,
    StepResult,
    to_event,
)
from central_projector.record import leases
from central_projector.record.tables import events

CACHE_ROWS = 500_000

stage_meta = sa.MetaData()
stage_held = sa.Table(
    "rm_stage_held",
    stage_meta,
    sa.Column("stage", sa.String(64), primary_key=True),
    sa.Column("event_pk", sa.BigInteger, primary_key=True, autoincrement=False),
)
stage_shadow = sa.Table(
    "rm_stage_shadow",
    stage_meta,
    sa.Column("stage", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("key", sa.LargeBinary(512), primary_key=True),
    sa.Column("row", sa.LargeBinary, nullable=False),
)


class SqlShadow:
    """A stage's private rows (``rm_stage_shadow``), written in the step's transaction."""

    def __init__(self, stage: str, cache: dict[tuple[str, Key], Row | None]) -> None:
        self.stage = stage
        self.cache = cache
        self.dirty: set[tuple[str, Key]] = set()
        self.conn: sa.Connection | None = None

    def get(self, table: str, key: Key) -> Row | None:
        k = (table, key)
        if k not in self.cache:
            assert self.conn is not None
            c = stage_shadow.c
            data = self.conn.execute(
                sa.select(c.row).where(
                    c.stage == self.stage, c.kind == table, c.key == _pack(list(key))
                )
            ).scalar()
            self.cache[k] = None if data is None else msgpack.unpackb(data, raw=False)
        return self.cache[k]

    def put(self, table: str, key: Key, row: Row) -> None:
        self.cache[(table, key)] = row
        self.dirty.add((table, key))

    def delete(self, table: str, key: Key) -> None:
        self.cache[(table, key)] = None
        self.dirty.add((table, key))

    def add_move(self, stock: Key, okey: Okey, delta: int) -> None:
        raise AssertionError("stock ledgers are never shadowed")

    def moves_before(self, stock: Key, okey: Okey) -> int:
        raise AssertionError("stock ledgers are never shadowed")

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        raise AssertionError("stock ledgers are never shadowed")

    def pseudonym(self, kind: str, value: str) -> str:
        raise AssertionError("pseudonyms are the owned state's")

    def add_day(self, table: str, coop: str, day: str, figure: str, delta: int) -> None:
        raise AssertionError("dated figures are never shadowed")

    def flush(self, conn: sa.Connection) -> int:
        c = stage_shadow.c
        for table, key in self.dirty:
            where = sa.and_(c.stage == self.stage, c.kind == table, c.key == _pack(list(key)))
            conn.execute(sa.delete(stage_shadow).where(where))
            row = self.cache[(table, key)]
            if row is not None:
                conn.execute(
                    sa.insert(stage_shadow).values(
                        stage=self.stage, kind=table, key=_pack(list(key)), row=_pack(row)
                    )
                )
        n = len(self.dirty)
        self.dirty.clear()
        return n


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


class StageProjector:
    """Folds the events of one stage; every step is fenced by the stage's lease."""

    def __init__(
        self, projector: Projector, stage: str, partitions: int, batch_size: int = 5000
    ) -> None:
        self.projector = projector  # for its engine, schema upgrade and barrier
        self.engine = projector.engine
        self.stage = stage
        self.partitions = partitions
        self.batch_size = batch_size
        self._cache: dict[str, dict[Any, Any]] = {}
        self._shadow: dict[tuple[str, Key], Row | None] = {}
        self._cache_pos = -1

    def _owned(self, table: str) -> bool:
        if self.stage == CROSS:
            return table in SHARED_TABLES or table in ("device", "conflict")
        return table not in SHARED_TABLES

    def position(self) -> int:
        with self.engine.connect() as conn:
            return _position(conn, self.stage)[0]

    def step(self, owner: str, token: int, ttl_ms: int, now: int, upto: int) -> StepResult:
        res = StepResult()
        try:
            with self.engine.begin() as conn:
                leases.fence(conn, self.stage, owner, token, ttl_ms, now)
                self._step(conn, res, upto)
                self._cache_pos = -1  # until the commit below has succeeded
        except BaseException:
            self._cache, self._shadow, self._cache_pos = {}, {}, -1
            raise
        self._cache_pos = res.position
        return res

    def _step(self, conn: sa.Connection, res: StepResult, upto: int) -> None:
        pos, total, known = _position(conn, self.stage)
        if pos != self._cache_pos or sum(len(r) for r in self._cache.values()) > CACHE_ROWS:
            self._cache, self._shadow = {}, {}
        cols = [events.c[name] for name in COLUMNS]
        rows = conn.execute(
            sa.select(*cols)
            .where(events.c.id > pos, events.c.id <= upto)
            .order_by(events.c.id)
            .limit(self.batch_size)
        ).all()
        h = stage_held.c
        released = conn.execute(
            sa.select(*cols)
            .join(stage_held, h.event_pk == events.c.id)
            .where(h.stage == self.stage, events.c.status == "committed")
        ).all()
        batch, held = [], []
        stage, n = self.stage, self.partitions
        for r in rows:
            if not may_fold(stage, n, r[TYPE], r[COOP], r[DEVICE]):
                continue
            ev = to_event(tuple(r))
            if ev is None or self.stage not in stages_of(ev, self.partitions):
                continue
            if r[STATUS] != "committed":
                held.append(r[ID])
            else:
                batch.append(ev)
        batch += [ev for r in released if (ev := to_event(tuple(r))) is not None]
        owned = SqlState(
            conn,
            self._cache,
            frozenset(),
            evict=TRANSIENT,
            pseudonym_key=self.projector.pseudonym_key,
        )
        wanted = {t: keys for t, keys in touches(batch).items() if self._owned(t)}
        owned.prefetch(wanted)
        shadow = SqlShadow(self.stage, self._shadow)
        shadow.conn = conn
        apply(ScopedState(self.stage, owned, shadow), batch)
        res.rows = owned.flush() + shadow.flush(conn)
        if held:
            conn.execute(
                sa.insert(stage_held), [{"stage": self.stage, "event_pk": i} for i in held]
            )
        if released:
            conn.execute(
                sa.delete(stage_held).where(
                    h.stage == self.stage, h.event_pk == sa.bindparam("pk")
                ),
                [{"pk": r[ID]} for r in released],
            )
        new_pos = rows[-1][ID] if rows else pos
        res.read, res.events, res.position = len(rows), len(batch), new_pos
        res.held, res.released = len(held), len(released)
        values = {"position": new_pos, "events": total + len(batch), "updated_at": leases.now_ms()}
        p = projector_position.c
        if not known:
            conn.execute(sa.insert(projector_position).values(name=self.stage, **values))
        elif new_pos != pos or batch:
            conn.execute(sa.update(projector_position).where(p.name == self.stage).values(**values))


def _position(conn: sa.Connection, stage: str) -> tuple[int, int, bool]:
    p = projector_position.c
    row = conn.execute(sa.select(p.position, p.events).where(p.name == stage)).first()
    return (int(row[0]), int(row[1]), True) if row else (0, 0, False)
