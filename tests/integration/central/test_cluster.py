"""A 3-node JetStream cluster (R3 streams) losing a node during sync and during projection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from support.nats_cluster import NatsCluster
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
    stream_messages,
)

from central_projector.ingest.service import CentralService
from central_projector.ingest.streams import EVENTS
from central_projector.projection.scaleout.worker import ProjectionWorker
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from sync_core import subjects
from sync_core.transport import ConnectOptions

SETTINGS = dataclasses.replace(TEST_SETTINGS, replicas=3, ingest_partitions=2)


@contextlib.asynccontextmanager
async def ingest_workers(
    url: str, cluster: NatsCluster, n: int
) -> AsyncIterator[list[CentralService]]:
    """``n`` partitioned ingest workers, each with its own connection to the store."""
    stores = [CentralStore(url) for _ in range(n)]
    services = [
        CentralService(
            s,
            ConnectOptions.for_url(cluster.url, tls=cluster.client_tls()),
            settings=SETTINGS,
            fetch_timeout_s=1.0,
            worker_id=f"w{i}",
            lease_ttl_s=3,
        )
        for i, s in enumerate(stores)
    ]
    tasks = [asyncio.create_task(s.run()) for s in services]
    try:
        await eventually(lambda: all(s.ready.is_set() for s in services), 60, "workers ready")
        yield services
    finally:
        for s in services:
            s.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        for st in stores:
            st.close()


async def _kill_when(cluster: NatsCluster, node: int, cond: object, what: str) -> float:
    assert callable(cond)
    await eventually(cond, 120, what)
    started = time.monotonic()
    await asyncio.to_thread(cluster.kill, node)
    return started


async def _read_events(cluster: NatsCluster) -> list[Any]:
    """KOP_EVENTS as the two surviving nodes serve it (retried while the cluster re-elects)."""
    for attempt in range(10):
        try:
            return await stream_messages(
                cluster.nodes[2].url, EVENTS, subjects.canonical_wildcard(), cluster.client_tls()
            )
        except Exception:
            if attempt == 9:
                raise
            await asyncio.sleep(2)
    return []


def _committed(store: CentralStore) -> int:
    return sum(int(r["committed_seq"]) for r in store.device_status())


def _projected_counts(engine: sa.Engine) -> dict[str, int]:
    """Events projected per device (the central issuer's DeviceRegistered facts aside)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT device_id, events FROM rm_device")).all()
    return {str(d): int(n) for d, n in rows if d != "central"}


async def test_a_node_killed_during_sync_and_during_projection_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """One node killed while devices upload, another while projection runs: 0 lost, 0 duplicated."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    devices: list[EdgeAgent] = [
        make_device(tmp_path, COOP_A, "kasir-1", 400, seed=1),
        make_device(tmp_path, COOP_A, "kasir-2", 400, seed=2),
        make_device(tmp_path, COOP_B, "gudang-1", 400, seed=3),
        make_device(tmp_path, COOP_B, "gudang-2", 400, seed=4),
    ]
    store = CentralStore(url)
    register(store, *devices)
    stop = asyncio.Event()
    with NatsCluster(tmp_path / "nats") as cluster:
        try:
            async with ingest_workers(url, cluster, 2) as workers:
                tls = cluster.client_tls()
                reps = [
                    asyncio.create_task(replicator(d, cluster.url, tls).run(stop)) for d in devices
                ]
                # 1. during sync
                killed = await _kill_when(
                    cluster, 0, lambda: _committed(store) >= 300, "300 events committed"
                )
                await eventually(fully_committed(store, *devices), 240, "all committed")
                print(f"sync: all committed {time.monotonic() - killed:.1f} s after the kill")
                assert_exactly_once(store, *devices)
                # A lease can lapse on a loaded machine (its renewal late by a TTL of 3 s): the
                # worker takes it back at its next round.
                both = {"ingest-p0of2", "ingest-p1of2"}
                await eventually(
                    lambda: {name for w in workers for name in w.partitions_held} == both,
                    30,
                    "both partitions held",
                )

                # 2. during projection: more business, a projector working, another node down
                await asyncio.to_thread(cluster.restart, 0)
                for i, d in enumerate(devices):
                    await asyncio.to_thread(record, d, 200, 1 + i)
                pstop = threading.Event()
                worker = ProjectionWorker(url, 2, "p1", ttl_s=3)
                thread = threading.Thread(target=worker.run, args=(pstop, 0.1))
                thread.start()
                try:
                    await _kill_when(
                        cluster,
                        1,
                        lambda: sum(_projected_counts(store.engine).values()) >= 1700,
                        "projection under way",
                    )
                    await eventually(fully_committed(store, *devices), 240, "all committed")
                    assert_exactly_once(store, *devices)
                    total = sum(d.head().seq for d in devices)
                    await eventually(
                        lambda: sum(_projected_counts(store.engine).values()) == total,
                        120,
                        "everything projected",
                    )
                finally:
                    pstop.set()
                    await asyncio.to_thread(thread.join, 30)
                    worker.close()
                counts = _projected_counts(store.engine)
                assert {d.device_id: counts[d.device_id] for d in devices} == {
                    d.device_id: d.head().seq for d in devices
                }
                # Every committed event reached KOP_EVENTS (R3) once by its id.
                await eventually(lambda: not store.outbox(1), 120, "the outbox published")
                published = await _read_events(cluster)
                ids = [m.headers["Nats-Msg-Id"] for m in published]
                assert len({i for i in ids if not i.startswith("central:")}) == total
                stop.set()
                await asyncio.wait_for(asyncio.gather(*reps), 60)
        finally:
            stop.set()
            store.close()
            for d in devices:
                d.close()
