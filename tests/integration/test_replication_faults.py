"""Replication under faults: link cuts, SIGKILLed server or ingest, short de-dup window, purge.

Every test ends with the same check: the central record equals the edge logs byte for byte,
per (device, seq), with nothing lost and nothing committed twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nats
from support.nats import NatsServer
from support.replication import (
    COOP_A,
    COOP_B,
    TEST_SETTINGS,
    assert_exactly_once,
    eventually,
    fully_committed,
    make_device,
    record,
    register,
    replicator,
    running_central,
    stream_messages,
)

from central_projector.ingest.streams import EVENTS, INGEST, ensure_streams
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.devtools.linkemu import LinkEmulator, LinkProfile
from sync_core import subjects
from sync_core.batch import batch_msg_id, encode_batch
from sync_core.transport import ConnectOptions


def committed_seq(store: CentralStore, agent: EdgeAgent) -> int:
    rows = {r["device_id"]: r["committed_seq"] for r in store.device_status()}
    return int(rows.get(agent.device_id, 0))


async def test_link_cut_mid_batch_twenty_times_loses_and_duplicates_nothing(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """20 cuts of a 2 Mbit/s link while batches are in flight: 0 lost, 0 duplicated, resumes."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 1500)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    rng = random.Random(20)
    stop = asyncio.Event()
    resume_s: list[float] = []
    try:
        async with (
            running_central(store, nats_server.url),
            LinkEmulator("127.0.0.1", nats_server.port, LinkProfile(0.02, 2_000_000)) as link,
        ):
            rep = replicator(agent, link.url, batch_events=100, stall_s=2.0)
            task = asyncio.create_task(rep.run(stop))
            for cut in range(20):
                before = link.bytes_up
                await eventually(lambda b=before: link.bytes_up > b, 60, "bytes are moving", task)
                await asyncio.sleep(rng.uniform(0.02, 0.25))
                link.cut()
                record(agent, 40)  # the counter keeps working while offline
                await asyncio.sleep(rng.uniform(0.1, 0.6))
                restored, seen = time.monotonic(), committed_seq(store, agent)
                link.restore()
                if cut % 5 == 4:  # how long until the central commits again after the link returns
                    await eventually(lambda s=seen: committed_seq(store, agent) > s, 60, "resumed")
                    resume_s.append(time.monotonic() - restored)
            await eventually(fully_committed(store, agent), 120, "all events committed", task)
            stop.set()
            await asyncio.wait_for(task, 30)
        assert_exactly_once(store, agent)
        assert agent.head().seq == 1500 + 20 * 40
        print(f"commits resumed {', '.join(f'{s:.2f}' for s in resume_s)} s after restore")
    finally:
        stop.set()
        store.close()
        agent.close()


class _Watched(Replicator):
    """Notes when each hello and each batch publish starts and ends (wrapping its parts)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[float, str]] = []
        hello, publish = self.handshake.hello, self.uploader.publish

        async def watched_hello(*args: Any, **kwargs: Any) -> Any:
            result = await hello(*args, **kwargs)
            self.events.append((time.monotonic(), "hello_answered"))
            return result

        async def watched_publish(*args: Any, **kwargs: Any) -> Any:
            self.events.append((time.monotonic(), "publish"))
            result = await publish(*args, **kwargs)
            self.events.append((time.monotonic(), "acked"))
            return result

        self.handshake.hello = watched_hello  # type: ignore[method-assign]
        self.uploader.publish = watched_publish  # type: ignore[method-assign]


async def test_run_resumes_with_a_fresh_connection_and_a_head_start(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """After a cut of a 400 ms round-trip link, ``run`` connects afresh and uploads alongside
    its first hello instead of after its answer; nothing is lost or committed twice."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 3000)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    stop = asyncio.Event()
    try:
        async with (
            running_central(store, nats_server.url),
            LinkEmulator("127.0.0.1", nats_server.port, LinkProfile(0.2, 1_000_000)) as link,
        ):
            settings = ReplicatorSettings(ConnectOptions.for_url(link.url), batch_events=200)
            rep = _Watched(agent, settings)
            task = asyncio.create_task(rep.run(stop))
            await eventually(lambda: committed_seq(store, agent) > 0, 60, "first commit", task)
            link.cut()
            await asyncio.sleep(0.5)
            restored = time.monotonic()
            link.restore()
            await eventually(fully_committed(store, agent), 120, "all events committed", task)
            stop.set()
            await asyncio.wait_for(task, 30)
        assert_exactly_once(store, agent)
        after = [(t - restored, what) for t, what in rep.events if t >= restored]
        answered = next(t for t, what in after if what == "hello_answered")
        published = next(t for t, what in after if what == "publish")
        acked = next(t for t, what in after if what == "acked")
        assert published < answered, after[:6]  # the head start did not wait for the answer
        print(f"after the restore: hello answered {answered:.2f} s, first ack {acked:.2f} s")
    finally:
        stop.set()
        store.close()
        agent.close()


async def test_nats_server_sigkilled_and_restarted_mid_sync(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A SIGKILLed nats-server restarted mid-sync: service and device recover, exactly once."""
    devices = [make_device(tmp_path, COOP_A, f"kasir-{i}", 1500, seed=i) for i in (1, 2)]
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, *devices)
    stop = asyncio.Event()
    try:
        async with running_central(store, nats_server.url) as service:
            reps = [replicator(d, nats_server.url, batch_events=250, stall_s=2.0) for d in devices]
            tasks = [asyncio.create_task(r.run(stop)) for r in reps]
            await eventually(
                lambda: 0 < committed_seq(store, devices[0]) < 1500, 60, "the sync is under way"
            )
            nats_server.kill()
            record(devices[0], 100)
            await asyncio.sleep(0.5)
            nats_server.start()
            await eventually(fully_committed(store, *devices), 120, "all events committed")
            stop.set()
            await asyncio.gather(*(asyncio.wait_for(t, 30) for t in tasks))
            assert service.stats.committed == 3100
        assert_exactly_once(store, *devices)
    finally:
        stop.set()
        store.close()
        for d in devices:
            d.close()


class SimulatedCrash(BaseException):
    """The ingest process dies: nothing after this point runs, not even an ack or a nak."""


class CrashAfterCommit:
    """A store whose first upload commits, then 'kills' the ingest loop before it can ack."""

    def __init__(self, store: CentralStore) -> None:
        self.store = store
        self.committed = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def process_upload(self, subject: str, data: bytes, now_ms: int) -> Any:
        if self.committed.is_set():
            # Dead after the first commit: nothing more is processed, nothing acked.
            raise SimulatedCrash("the ingest loop is gone")
        self.store.process_upload(subject, data, now_ms)
        self.committed.set()
        raise SimulatedCrash("committed, never acknowledged")


async def test_ingest_dying_between_commit_and_ack_has_no_double_effect(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """An upload committed but never acked is redelivered to the next service: a duplicate."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 1000)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    crashing = CrashAfterCommit(store)
    try:
        async with running_central(crashing, nats_server.url) as first:  # type: ignore[arg-type]
            sync = asyncio.create_task(replicator(agent, nats_server.url).sync_once(120))
            await eventually(crashing.committed.is_set, 60, "the first upload is committed")
        assert (first.stats.committed, first.stats.acked) == (0, 0)
        assert store.device_status()[0]["committed_seq"] == 500
        async with running_central(store, nats_server.url) as second:
            report = await sync
            assert report.complete
            # The unacked upload comes back after ack_wait and is a duplicate of no effect.
            await eventually(lambda: second.stats.duplicates == 500, 60, "the redelivery")
        assert_exactly_once(store, agent)
        assert store.device_status()[0]["duplicates"] == 500
    finally:
        store.close()
        agent.close()


def _start_ingest(nats_url: str, db_url: str, log: Path) -> subprocess.Popen[bytes]:
    kopsync = Path(sys.executable).with_name("kopsync")
    env = os.environ | {"KOPSYNC_JS_BUDGET_BYTES": str(TEST_SETTINGS.budget_bytes)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(kopsync), "central", "ingest", "--nats", nats_url, "--db", db_url,
             "--ack-wait", "3", "--fetch-batch", "4"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


async def test_ingest_process_sigkilled_mid_ingest_loses_and_duplicates_nothing(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """`kopsync central ingest` SIGKILLed mid-ingest and restarted: 0 lost, 0 duplicated."""
    devices = [make_device(tmp_path, COOP_B, f"kasir-{i}", 1500, seed=i) for i in (1, 2)]
    db = f"sqlite:///{tmp_path / 'central.db'}"
    store = CentralStore(db)
    register(store, *devices)
    stop = asyncio.Event()
    log = tmp_path / "ingest.log"
    proc = _start_ingest(nats_server.url, db, log)
    try:
        reps = [replicator(d, nats_server.url, batch_events=100, stall_s=2.0) for d in devices]
        tasks = [asyncio.create_task(r.run(stop)) for r in reps]
        # Read from a thread: the store's SQLite reads wait for the ingest process's writes.
        total = 0
        for _ in range(1200):
            total = sum(await asyncio.to_thread(lambda: [committed_seq(store, d) for d in devices]))
            if total > 0:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = sum(committed_seq(store, d) for d in devices)
        assert 0 < killed_at < 3000, "the kill did not land mid-ingest"
        proc = _start_ingest(nats_server.url, db, log)
        await eventually(fully_committed(store, *devices), 120, "all events committed")
        stop.set()
        await asyncio.gather(*(asyncio.wait_for(t, 30) for t in tasks))
        assert_exactly_once(store, *devices)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        store.close()
        for d in devices:
            d.close()


async def test_resending_after_the_dedup_window_has_no_double_effect(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Batches re-sent after JetStream's de-dup window expired are stored by JetStream again,
    and the central's (device_id, seq) makes them duplicates without effect."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 300)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    settings = TEST_SETTINGS.__class__(budget_bytes=TEST_SETTINGS.budget_bytes, dedup_window_s=1)
    try:
        async with running_central(store, nats_server.url, settings=settings) as service:
            first = await replicator(agent, nats_server.url, batch_events=100).sync_once(60)
            assert first.complete and first.batches == 3
            await asyncio.sleep(1.5)  # let the de-duplication window pass
            seen = service.stats.acked
            nc = await nats.connect(nats_server.url)
            try:
                js = nc.jetstream()
                raw = [bytes(data) for _, data in agent.store.raw_events()]
                for i in range(0, 300, 100):
                    ack = await js.publish(
                        subjects.upload(COOP_A, agent.device_id),
                        encode_batch(COOP_A, agent.device_id, raw[i : i + 100]),
                        headers={"Nats-Msg-Id": batch_msg_id(agent.device_id, i + 1, i + 100)},
                    )
                    assert not ack.duplicate  # the window is over: JetStream takes it again
            finally:
                await nc.close()
            await eventually(lambda: service.stats.acked >= seen + 3, 60, "re-sends ingested")
            assert (service.stats.duplicates, service.stats.committed) == (300, 300)
            await eventually(lambda: not store.outbox(1), 60, "outbox published")
        assert_exactly_once(store, agent)
        published = await stream_messages(nats_server.url, EVENTS, subjects.canonical_wildcard())
        # the device's 300 events once each, beside the central's DeviceRegistered of it
        mine = [m for m in published if not m.subject.endswith(".DeviceRegistered")]
        assert len(mine) == 300 and len(published) == 301
    finally:
        store.close()
        agent.close()


async def test_purged_ingest_stream_is_restored_from_the_devices(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Uploads purged from KOP_INGEST before ingest saw them are re-sent by the devices."""
    devices = [
        make_device(tmp_path, COOP_A, "kasir-1", 300),
        make_device(tmp_path, COOP_A, "kasir-2", 300),
        make_device(tmp_path, COOP_B, "kasir-3", 300),
    ]
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, *devices)
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, TEST_SETTINGS)
        # The central is down: the devices upload into JetStream, nobody confirms.
        for d in devices:
            report = await replicator(d, nats_server.url).sync_once(30)
            assert (report.uploaded, report.central_answered, report.complete) == (
                300,
                False,
                False,
            )
        assert (await js.stream_info(INGEST)).state.messages == 3
        await js.purge_stream(INGEST)

        async with running_central(store, nats_server.url):
            reports = [await replicator(d, nats_server.url).sync_once(60) for d in devices]
        assert all(r.complete and r.resent == 300 for r in reports), reports
        assert_exactly_once(store, *devices)
    finally:
        await nc.close()
        store.close()
        for d in devices:
            d.close()


async def test_ingest_recreates_a_lost_consumer_and_lost_streams(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """The supervised ingest loop re-creates a deleted consumer, and streams a server lost."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 50)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        async with running_central(store, nats_server.url, stall_fetches=2) as service:
            assert (await replicator(agent, nats_server.url).sync_once(60)).complete

            await js.delete_consumer(INGEST, "ingest")
            record(agent, 50)
            assert (await replicator(agent, nats_server.url).sync_once(90)).complete
            assert service.stats.resubscribed >= 1

            await js.delete_stream(INGEST)  # as if the server's store were wiped
            record(agent, 50)
            assert (await replicator(agent, nats_server.url).sync_once(90)).complete
        assert_exactly_once(store, agent)
    finally:
        await nc.close()
        store.close()
        agent.close()
