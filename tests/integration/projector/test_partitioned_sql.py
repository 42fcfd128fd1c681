"""Projection workers on disjoint partitions, racing for leases, taking over a dead one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support import histories as H
from support.projection import project, snapshot
from support.projector_db import deliver, pin_pseudonym_key, sql_snapshot, wipe

from central_projector.projection.folds import Event
from central_projector.projection.scaleout.routing import CROSS, stage_names
from central_projector.projection.scaleout.stage import stage_held, stage_shadow
from central_projector.projection.scaleout.worker import ProjectionWorker
from central_projector.record import leases
from central_projector.record.store import CentralStore

FEW = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ONE = settings(FEW, max_examples=2)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The central store on SQLite, and on PostgreSQL when a server is reachable."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'central.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = CentralStore(url)
    pin_pseudonym_key(store.engine)
    store.close()
    yield url


def _wipe(engine: sa.Engine, *workers: ProjectionWorker) -> None:
    wipe(engine)
    with engine.begin() as conn:
        for table in (leases.leases, stage_held, stage_shadow):
            conn.execute(sa.delete(table))
    for w in workers:
        w.held.clear()


@given(H.histories(), st.data())
@FEW
def test_two_workers_on_disjoint_partitions_project_what_one_fold_does(
    db_url: str, events: list[Event], data: st.DataObject
) -> None:
    """Two workers holding disjoint stages, fed any delivery, write the read models of one fold."""
    names = stage_names(2)
    a = ProjectionWorker(db_url, 2, "wa", stages=[CROSS, names[1]])
    b = ProjectionWorker(db_url, 2, "wb", stages=[names[2]])
    try:
        _wipe(a.engine, a, b)
        seen: set[tuple[str, int]] = set()
        for batch in H.deliveries(data.draw, events):
            deliver(a.engine, batch, seen)
            for w in data.draw(st.permutations([a, b])):
                w.claim()
                w.catch_up()
        assert set(a.held) == {CROSS, names[1]} and set(b.held) == {names[2]}
        assert sql_snapshot(a.engine) == snapshot(project(events))
    finally:
        a.close()
        b.close()


@given(H.histories())
@ONE
def test_a_worker_whose_lease_expired_cannot_apply_after_another_took_it(
    db_url: str, events: list[Event]
) -> None:
    """A worker paused past its lease is fenced off: its step rolls back, the new owner's counts."""
    now = [1_000_000]
    a = ProjectionWorker(db_url, 1, "wa", ttl_s=5, clock=lambda: now[0])
    b = ProjectionWorker(db_url, 1, "wb", ttl_s=5, clock=lambda: now[0])
    try:
        _wipe(a.engine, a, b)
        deliver(a.engine, events, set())
        a.claim()
        assert set(a.held) == set(stage_names(1))
        b.claim()
        assert b.held == {}
        now[0] += 6_000  # a stalls past its lease
        b.claim()
        assert set(b.held) == set(stage_names(1))
        assert a.catch_up() == 0 and a.held == {}
        assert sorted(a.stats.lost) == sorted(stage_names(1))
        b.catch_up()
        assert sql_snapshot(b.engine) == snapshot(project(events))
    finally:
        a.close()
        b.close()


@given(H.histories(max_per_device=12))
@ONE
def test_greedy_workers_competing_in_threads_apply_every_event_once(
    db_url: str, events: list[Event]
) -> None:
    """Two workers racing while every lease is expired under them again end at one fold's rows."""
    a = ProjectionWorker(db_url, 3, "wa", ttl_s=5, batch_size=7, max_stages=3)
    b = ProjectionWorker(db_url, 3, "wb", ttl_s=5, batch_size=7, max_stages=3)
    stop = threading.Event()

    def expire_all() -> None:  # forces takeovers in the middle of catching up
        while not stop.wait(0.07):
            with a.engine.begin() as conn:
                conn.execute(sa.update(leases.leases).values(expires_at=0))

    threads = [threading.Thread(target=w.run, args=(stop, 0.03)) for w in (a, b)]
    threads.append(threading.Thread(target=expire_all))
    _wipe(a.engine, a, b)
    try:
        for t in threads:
            t.start()
        seen: set[tuple[str, int]] = set()
        for i in range(0, len(events), 5):
            deliver(a.engine, events[i : i + 5], seen)
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.3)
            with a.engine.connect() as conn:
                from central_projector.projection.readmodels.tables import projector_position as pp

                done = dict(conn.execute(sa.select(pp.c.name, pp.c.position)).all())
                top = conn.execute(sa.text("SELECT max(id) FROM events")).scalar()
            if all(done.get(s) == top for s in stage_names(3)) and len(a.stats.taken) > 3:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        a.close()
        b.close()
    print(
        f"stages taken: a {a.stats.taken} b {b.stats.taken}; "
        f"lost: a {a.stats.lost} b {b.stats.lost}"
    )
    assert sql_snapshot(a.engine) == snapshot(project(events))


@given(H.histories())
@settings(max_examples=1, deadline=None, database=None, phases=[Phase.generate])
def test_a_sigkilled_worker_s_stages_are_taken_over(events: list[Event]) -> None:
    """A SIGKILLed `project-worker`'s stages are taken by the survivor, which catches up."""
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'central.db'}"
    CentralStore(url).close()
    engine = sa.create_engine(url)
    half = len(events) // 2
    deliver(engine, events[:half], seen := set())

    def start(wid: str) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "kopsync", "central", "project-worker", "--db", url,
               "--partitions", "2", "--worker-id", wid,
               "--lease-ttl", "2", "--poll", "0.2"]  # fmt: skip
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    first = start("wa")
    try:
        _wait_for(lambda: set(leases.holders(engine, leases.now_ms()).values()) == {"wa"}, 60)
        second = start("wb")
        try:
            # The newcomer gets its fair share: the first hands stages over.
            _wait_for(
                lambda: set(leases.holders(engine, leases.now_ms()).values()) == {"wa", "wb"}, 60
            )
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed = time.monotonic()
            deliver(engine, events[half:], seen)
            _wait_for(lambda: _stage_owners(engine) == {"wb"}, 60)
            print(f"takeover {time.monotonic() - killed:.2f} s after SIGKILL (lease ttl 2 s)")
            top = max(r[0] for r in engine.connect().execute(sa.text("SELECT id FROM events")))
            stages = dict.fromkeys(stage_names(2), top)
            # the live projector's own row ("main") is there too, untouched by stage workers
            _wait_for(lambda: {s: _positions(engine).get(s) for s in stages} == stages, 60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
    assert sql_snapshot(engine) == snapshot(project(events))
    shutil.rmtree(tmp, ignore_errors=True)


def _stage_owners(engine: sa.Engine) -> set[str]:
    held = leases.holders(engine, leases.now_ms())
    return {o for name, o in held.items() if not name.startswith(leases.MEMBER)}


def _positions(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, position FROM rm_projector_position")).all()
    return {str(n): int(p) for n, p in rows}


def _wait_for(cond: object, timeout: float) -> None:
    assert callable(cond)
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
