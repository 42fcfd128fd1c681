"""The SQL projector equals the pure fold, for any delivery, batch size and crash (SQLite, PG)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import histories as H
from support.projection import conflicts_of, project, snapshot
from support.projector_db import deliver, sql_snapshot, store_row, wipe

from central_projector.projection.folds import Event
from central_projector.projection.projector import Projector
from central_projector.projection.readmodels import queries
from central_projector.projection.readmodels.sqlitewriter import WriterProcess
from central_projector.projection.stepsql import StepSql
from central_projector.record.tables import events

FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _projector(url: str) -> Projector:
    from central_projector.record.store import CentralStore

    CentralStore(url).close()  # the store's own tables, as the ingest service creates them
    return Projector(url)


def _run(url: str, events_: list[Event], data: st.DataObject, projector: Projector) -> None:
    """Deliver in batches, projecting now and then; sometimes a fresh projector takes over
    (a restart: its cache is cold and it must look rows up)."""
    seen: set[tuple[str, int]] = set()
    size = data.draw(st.integers(1, 7), label="batch size")
    projector.batch_size = size
    current = projector
    for batch in H.deliveries(data.draw, events_):
        deliver(projector.engine, batch, seen)
        if data.draw(st.booleans(), label="project now"):
            current.run_once()
        if data.draw(st.booleans(), label="restart"):
            current = Projector(url, batch_size=size, engine=projector.engine)
    current.run_once()


@given(events_=H.histories(max_per_device=6), data=st.data())
@FEW
def test_sql_read_models_equal_the_pure_fold_for_any_delivery(
    db_url: str, events_: list[Event], data: st.DataObject
) -> None:
    """Any permutation, duplicates, batch size and projection cadence give the pure rows."""
    projector = _projector(db_url)
    try:
        wipe(projector.engine)
        _run(db_url, events_, data, projector)
        assert sql_snapshot(projector.engine) == snapshot(project(events_))
        with projector.engine.connect() as conn:
            assert queries.conflicts(conn) == conflicts_of(project(events_))
    finally:
        projector.close()


def test_a_crash_before_commit_leaves_nothing_and_a_rerun_projects_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails after writing its rows and its position rolls back with both;
    re-running is exact."""
    events_ = _fixed_history()
    projector = _projector(db_url)
    try:
        wipe(projector.engine)
        deliver(projector.engine, events_, set())
        real = StepSql.bookkeeping

        def then_fail(self: StepSql, job: Any) -> list[tuple[str, list[Any]]]:
            # the last statement of the transaction, after rows and position: it fails
            failing = ('INSERT INTO "kopsync_no_such_table" ("x") VALUES (1)', [()])
            return [*real(self, job), failing]

        monkeypatch.setattr(StepSql, "bookkeeping", then_fail)
        with pytest.raises(projector.engine.dialect.loaded_dbapi.Error):
            projector.run_once()
        assert projector.position() == 0
        assert sql_snapshot(projector.engine) == {}
        monkeypatch.setattr(StepSql, "bookkeeping", real)
        projector.run_once()
        projector.run_once()  # nothing new: the position says so
        assert sql_snapshot(projector.engine) == snapshot(project(events_))
    finally:
        projector.close()


def test_a_killed_writer_process_loses_nothing_and_a_rerun_projects_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL of the SQLite writer process while it holds a step: the run fails with a
    clear error, whatever had committed stays, and the next run (a new writer) is exact."""
    events_ = _fixed_history()
    projector = _projector(sqlite_url)
    projector.batch_size = 3
    deliver(projector.engine, events_, set())
    real_send = WriterProcess.send
    sent = 0

    def send_then_kill(self: WriterProcess, *args: Any) -> None:
        nonlocal sent
        real_send(self, *args)
        sent += 1
        if sent == 2:
            self.proc.kill()

    monkeypatch.setattr(WriterProcess, "send", send_then_kill)
    with pytest.raises(sqlite3.OperationalError, match="writer process ended"):
        projector.run_once()
    monkeypatch.setattr(WriterProcess, "send", real_send)
    assert projector.position() in (3, 6)  # the first step, and the second if it committed
    projector.run_once()
    assert sql_snapshot(projector.engine) == snapshot(project(events_))
    projector.close()


def test_events_held_behind_a_gap_are_projected_when_released(sqlite_url: str) -> None:
    """An event passed while held is folded once the store commits it (and only once)."""
    events_ = _fixed_history()
    projector = _projector(sqlite_url)
    first, held, rest = events_[:3], events_[3], events_[4:]
    deliver(projector.engine, first, set())
    with projector.engine.begin() as conn:
        conn.execute(sa.insert(events), [store_row(held, "held")])
        conn.execute(sa.insert(events), [store_row(e) for e in rest])
    projector.run_once()
    assert projector.pending_held() == 1
    assert sql_snapshot(projector.engine) == snapshot(project([*first, *rest]))
    with projector.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.seq == held.seq,
                                             events.c.device_id == held.device_id)
                     .values(status="committed", flags="GAP"))  # fmt: skip
    projector.run_once()
    projector.run_once()
    assert projector.pending_held() == 0
    released = Event(held.key, held.event_id, held.coop_id, held.type, held.aggregate_id,
                     held.payload, held.received_at, "GAP")  # fmt: skip
    assert sql_snapshot(projector.engine) == snapshot(project([*first, released, *rest]))


def _fixed_history() -> list[Event]:
    """A small history touching most areas, from the shared strategies' central facts."""
    walls = iter(range(H.T0, H.T0 + 10_000, 100))
    out: list[Event] = []
    for seq, (t, agg, payload) in enumerate(H.central_facts(), start=1):
        out.append(Event((next(walls), 0, H.CENTRAL, seq), f"c-{seq}", H.COOP, t, agg, payload))
    device_actions = [
        H._register("M1", H.NIKS[0], H.NAMES[0], H.BIRTHS[0]),
        ("AidRedeemed", "E1", {"card_uid": "CARD1", "allowance_id": "A1", "value": 100_000,
                               "verification": "CHIP"}),
        ("StockReceived", "BERAS-5KG", {"sku": "BERAS-5KG", "qty": 2, "location": "main",
                                        "supplier": "x", "doc_no": "1"}),
        ("SaleRecorded", "SL1", {"lines": [{"sku": "BERAS-5KG", "qty": 3, "unit_price": 1000}],
                                 "payments": [{"method": "cash", "amount": 3000}]}),
    ]  # fmt: skip
    for device, coop in H.DEVICES[:2]:
        for seq, (t, agg, payload) in enumerate(device_actions, start=1):
            key = (next(walls), 0, device, seq)
            out.append(Event(key, f"{device}-{seq}", coop, t, agg, payload, key[0] + 10))
    return out


def test_a_run_overtaken_by_another_projector_folds_nothing_twice(db_url: str) -> None:
    """A run writes each batch while it folds the next; when another projector moves the
    position under it, the batch folded after the old position is not written, and the
    run carries on from the new one: the read models are exact."""
    events_ = _fixed_history()
    runner = _projector(db_url)
    other = Projector(db_url, batch_size=3, engine=runner.engine)
    try:
        wipe(runner.engine)
        deliver(runner.engine, events_, set())
        runner.batch_size = 2
        folds = 0
        fold = runner.fold

        def fold_and_overtake(state: Any, batch: list[Event]) -> object:
            nonlocal folds
            folds += 1
            if folds == 3:
                other.step()  # waits for the runner's batch in flight, then moves on
            return fold(state, batch)

        runner.fold = fold_and_overtake
        res = runner.run_once()
        assert res.position == runner.barrier()
        assert res.events == len(events_) - 3  # the other projector's three, not counted
        assert sql_snapshot(runner.engine) == snapshot(project(events_))
        with runner.engine.connect() as conn:
            assert queries.conflicts(conn) == conflicts_of(project(events_))
    finally:
        runner.close()
