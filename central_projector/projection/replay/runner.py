"""Build a shadow, then swap it in (or compare it with the live read models), in one step.

1. **Plan**: the scope (areas, and for ``--since`` the closed cooperatives and their
   devices) is fixed when the shadow is made and kept in it, so a re-run resumes it.
2. **Build**: a :class:`~central_projector.projection.projector.Projector` over the ``rmx_`` tables
   with its own position and the scope's fold, step after committed step up to the live
   position, while the live projector keeps running; a killed replay resumes from the
   shadow's position.
3. **Finish**, one transaction that holds the live projector out (its position row is
   locked on PostgreSQL, where every step now begins by locking it; SQLite takes one
   writer at a time): both the live read models and the shadow are brought to the same
   position (events committed meanwhile, and events held behind a gap that were released
   since), a ``--since`` scope is checked to be still closed, then either the scope's live
   rows are replaced by the shadow's and the position's generation is bumped (a running
   projector then drops its cached rows). A whole replay builds up to everything
   committed and sets the live position to its own: every live row is replaced anyway.
4. **Verify** compares without holding the live projector out: the shadow is caught up
   to the live position, then a read snapshot (SQLite WAL, PostgreSQL REPEATABLE READ)
   that sees the same position and held list on both sides is compared; if the live
   projector keeps moving, or the shadow is ahead, the comparison is made inside the
   locked transaction of step 3, rolled back afterwards. Nothing changes either way.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from central_projector.projection.projector import DEFAULT_BATCH, NAME, Projector
from central_projector.projection.readmodels.tables import LIVE
from central_projector.projection.replay import shadow
from central_projector.projection.replay.scope import (
    SHARING_TYPES,
    Scope,
    close_coops,
    scoped_fold,
    shared_keys,
)
from central_projector.projection.replay.shadow import Started, TableDiff
from central_projector.projection.steps import RunResult, StepResult
from central_projector.record.tables import events
from sync_core.envelope import stored_payload
from sync_core.errors import KopsyncError, UsageError

Progress = Callable[[int, int], None]  # (events read so far, events to read)


class ReplayStale(KopsyncError):
    """Events committed during the replay tie other cooperatives to the ones rebuilt."""


@dataclass
class Finished:
    """What the finishing transaction did."""

    position: int
    generation: int
    events: int
    seconds: float
    rows: int = 0
    swapped: bool = False
    differences: list[TableDiff] | None = None
    note: str | None = None


class Replay:
    """One database's replay: its live projector and its shadow."""

    def __init__(self, url: str, *, batch_size: int = DEFAULT_BATCH, create: bool = True) -> None:
        self.live = Projector(url, batch_size=batch_size, create=create)
        self.engine = self.live.engine
        self.batch_size = batch_size
        self.started: Started | None = None
        self.shadow: Projector | None = None
        with self.engine.connect() as conn:
            self.started = shadow.find(conn)

    def close(self) -> None:
        if self.shadow is not None:
            self.shadow.close()  # its SQLite writer process; the engine is the live one's
        self.live.close()

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plan -------------------------------------------------------------------------------
    def plan(self, areas: frozenset[str], since_ms: int | None) -> Scope | None:
        """The scope of a new replay; None when ``--since`` finds nothing received since."""
        if since_ms is None:
            return Scope(areas)
        with self.engine.connect() as conn:
            upto = self.live.position()
            recent = conn.execute(
                sa.select(events.c.coop_id)
                .where(events.c.received_at >= since_ms, events.c.id <= upto)
                .distinct()
            ).scalars()
            start = frozenset(recent)
            if not start:
                return None
            coops = close_coops(start, _links(conn, upto))
            devices = _devices(conn, coops, upto)
        return Scope(areas, coops, devices)

    def begin(self, scope: Scope, options: dict[str, Any]) -> None:
        shadow.create(self.engine, scope, options, int(time.time() * 1000))
        with self.engine.connect() as conn:
            self.started = shadow.find(conn)

    def discard(self) -> None:
        shadow.drop(self.engine)
        self.started = None

    # --- build ------------------------------------------------------------------------------
    def _shadow(self) -> Projector:
        assert self.started is not None, "begin() or resume a replay first"
        if self.shadow is None:
            self.shadow = Projector(
                self.live.url,
                engine=self.engine,
                batch_size=self.batch_size,
                prefix=shadow.PREFIX,
                fold=scoped_fold(self.started.scope),
            )
        return self.shadow

    def build(self, progress: Progress | None = None, *, ahead: bool = False) -> int:
        """Fold into the shadow up to the live position (``ahead``: up to everything
        committed, for a whole replay that will replace every row anyway); returns the
        events read."""
        projector = self._shadow()
        mark = self.live.barrier() if ahead else self.live.position()
        upto = max(mark, projector.position())
        start = projector.position()
        with self.engine.connect() as conn:
            total = _count(conn, start, upto)
        if progress:
            progress(0, total)

        def report(run: RunResult) -> None:
            if progress:
                progress(min(run.read, total), total)

        return projector.run_once(upto, report).read

    # --- finish -----------------------------------------------------------------------------
    def finish(self, *, verify: bool) -> Finished:
        """Bring both sides to one position, then swap or compare (see the module doc)."""
        if verify:
            compared = self._compare_in_snapshot()
            if compared is not None:
                self.discard()
                return compared
        return self._finish_locked(verify=verify)

    def _compare_in_snapshot(self) -> Finished | None:
        """Compare in one read snapshot where the live position is the shadow's, so the
        live projector is not held out while rows are compared; None if that cannot be
        had (the shadow is ahead of the live side, or the live side keeps moving)."""
        assert self.started is not None
        projector = self._shadow()
        began = time.perf_counter()
        for attempt in range(VERIFY_TRIES):
            with self.engine.begin() as conn:
                target = _position(conn, LIVE.position)
                folded = _settle(projector, conn, target)
            snap = self.engine.connect().execution_options(**_SNAPSHOT[self.engine.dialect.name])
            try:
                with snap.begin():
                    live, ours = _position(snap, LIVE.position), _position(snap, SHADOW_POS)
                    if ours > live:
                        return None
                    if live != ours:
                        continue  # the live projector stepped meanwhile: catch up again
                    unfolded = _held(snap, LIVE.held) - _held(snap, shadow.SHADOW.held)
                    if unfolded and attempt < VERIFY_TRIES - 1:
                        time.sleep(VERIFY_PAUSE_S)  # released events, folded at its next step
                        continue
                    gen = snap.execute(
                        sa.select(LIVE.position.c.generation).where(LIVE.position.c.name == NAME)
                    ).scalar()
                    out = Finished(live, int(gen or 0), folded, 0.0)
                    out.differences = shadow.compare(snap, self.started.scope)
                    if unfolded:
                        out.note = (
                            f"the live projector has not yet folded {len(unfolded)} event(s) "
                            "released from behind a seq gap: they show as differences"
                        )
                    out.seconds = time.perf_counter() - began
                    return out
            finally:
                snap.close()
        return None

    def _finish_locked(self, *, verify: bool) -> Finished:
        assert self.started is not None
        scope = self.started.scope
        projector = self._shadow()
        began = time.perf_counter()
        conn = self.engine.connect()
        try:
            trans = conn.begin()
            row = _lock_live(conn)
            target = max(int(row.position), _position(conn, shadow.SHADOW.position))
            # A swap of everything replaces every live row: only a partial one, or a
            # comparison, needs the live side folded up to the same position.
            replaced = scope.whole and not verify
            folded = 0 if replaced else _settle(self.live, conn, target)
            folded += _settle(projector, conn, target)
            if scope.coops is not None:
                closed = close_coops(scope.coops, _links(conn, target))
                if closed != scope.coops:
                    trans.rollback()
                    self.discard()
                    extra = ", ".join(sorted(closed - scope.coops)[:10])
                    raise ReplayStale(
                        f"events committed during the replay tie cooperatives {extra} to the "
                        "ones rebuilt; run the replay again (it starts over)"
                    )
            out = Finished(target, int(row.generation), folded, 0.0)
            if verify:
                out.differences = shadow.compare(conn, scope)
                trans.rollback()
            else:
                out.rows = shadow.copy_in(conn, scope)
                out.generation += 1
                values: dict[str, Any] = {"generation": out.generation, "updated_at": _now()}
                if scope.whole:
                    values.update(position=target, events=projector_events(conn))
                conn.execute(
                    sa.update(LIVE.position).where(LIVE.position.c.name == NAME).values(**values)
                )
                trans.commit()
                out.swapped = True
        finally:
            conn.close()
        self.discard()
        out.seconds = time.perf_counter() - began
        return out


VERIFY_TRIES = 20
VERIFY_PAUSE_S = 0.2
SHADOW_POS = shadow.SHADOW.position
# A read transaction that sees one committed state throughout (SQLite: a deferred BEGIN
# in WAL mode keeps its snapshot and does not block the writer).
_SNAPSHOT: dict[str, dict[str, Any]] = {
    "sqlite": {"kopsync_read": True},
    "postgresql": {"isolation_level": "REPEATABLE READ"},
}


def _held(conn: sa.Connection, table: sa.Table) -> set[int]:
    return set(conn.execute(sa.select(table.c.event_pk)).scalars())


def projector_events(conn: sa.Connection) -> int:
    """The events the shadow has folded (its position row's count)."""
    pos = shadow.SHADOW.position
    n = conn.execute(sa.select(pos.c.events).where(pos.c.name == NAME)).scalar()
    return int(n or 0)


def _position(conn: sa.Connection, pos: sa.Table) -> int:
    n = conn.execute(sa.select(pos.c.position).where(pos.c.name == NAME)).scalar()
    return int(n or 0)


def _lock_live(conn: sa.Connection) -> Any:
    """The live position row, locked until the transaction ends (made if missing)."""
    pos = LIVE.position
    query = sa.select(pos.c.position, pos.c.generation).where(pos.c.name == NAME)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        conn.execute(sa.insert(pos).values(name=NAME, position=0, events=0, updated_at=_now()))
        row = conn.execute(query).first()
    return row


def _settle(projector: Projector, conn: sa.Connection, target: int) -> int:
    """Step ``projector`` in ``conn``'s transaction up to ``target``, released events too."""
    folded = 0
    while True:
        res: StepResult = projector.step(target, conn=conn)
        folded += res.events
        if res.read < projector.batch_size:
            return folded


def _count(conn: sa.Connection, after: int, upto: int) -> int:
    q = sa.select(sa.func.count()).where(events.c.id > after, events.c.id <= upto)
    return int(conn.execute(q).scalar_one())


def _links(conn: sa.Connection, upto: int) -> list[tuple[str, str]]:
    """(coop, shared key) of every committed event up to ``upto`` that can share a row."""
    e = events.c
    query = sa.select(e.coop_id, e.type, e.aggregate_id, e.envelope).where(
        e.id <= upto, e.type.in_(SHARING_TYPES)
    )
    out = []
    for coop, type_, agg, envelope in conn.execute(query):
        payload = stored_payload(envelope)
        out += [(coop, key) for key in shared_keys(type_, agg, payload)]
    return out


def _devices(conn: sa.Connection, coops: frozenset[str], upto: int) -> frozenset[str]:
    """Devices that wrote to ``coops``, and devices registered or retired there."""
    e = events.c
    in_scope = sa.and_(e.id <= upto, e.coop_id.in_(sorted(coops)))
    writers = sa.select(e.device_id).where(in_scope).distinct()
    named = (
        sa.select(e.aggregate_id)
        .where(in_scope, e.type.in_(("DeviceRegistered", "DeviceRetired")))
        .distinct()
    )
    return frozenset(conn.execute(writers).scalars()) | frozenset(conn.execute(named).scalars())


def since_ms(text: str, now: dt.datetime | None = None) -> int:
    """``--since``: an ISO date or time (naive means UTC) or a duration back (2h, 3d)."""
    from central_projector.partners.tail import parse_since

    when = parse_since(text, now or dt.datetime.now(dt.UTC))
    return int(when.timestamp() * 1000)


def check_resumable(started: Started, options: dict[str, Any]) -> None:
    """A replay in progress resumes only with the options it was started with."""
    if started.options != options:
        was = " ".join(f"--projection {p}" for p in started.options.get("projections", [])) + (
            f" --since {started.options['since']}" if started.options.get("since") else ""
        )
        raise UsageError(
            "a replay with other options is in progress "
            f"({was.strip() or 'every projection'}); run it again with those options to "
            "finish it, or add --restart to discard it"
        )


def _now() -> int:
    return time.time_ns() // 1_000_000
