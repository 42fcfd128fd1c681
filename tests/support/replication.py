"""Helpers for the replication tests: devices with workloads, an in-process central, checks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from central_projector.ingest.service import CentralService
from central_projector.ingest.streams import GIB, StreamSettings
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.domain.savings import account_key
from sync_core.transport import ConnectOptions, TlsFiles

COOP_A = "6401050012"  # Paser Belengkong (made-up village code within Paser)
COOP_B = "6472021005"  # Lempake, Samarinda Utara (made-up village code within Samarinda)

# Small enough for any test machine: the server reserves max_bytes from its file store.
TEST_SETTINGS = StreamSettings(budget_bytes=GIB // 2, ack_wait_s=3.0)


def make_device(
    root: Path, coop_id: str, device_id: str, events: int = 0, seed: int = 1
) -> EdgeAgent:
    """A fresh device with ``events`` valid, realistic events recorded offline."""
    agent = EdgeAgent.init(root / device_id, coop_id, device_id)
    if events:
        record(agent, events, seed)
    return agent


def record(agent: EdgeAgent, events: int, seed: int = 1) -> None:
    from edge_agent.devtools.sim import simulate

    simulate(agent, events, seed=seed)


def register(store: CentralStore, *agents: EdgeAgent) -> None:
    for agent in agents:
        store.register_device(agent.coop_id, agent.device_id, agent.public_key)


@contextlib.asynccontextmanager
async def running_central(
    store: CentralStore,
    url: str | ConnectOptions,
    *,
    tls: TlsFiles | None = None,
    **kwargs: Any,
) -> AsyncIterator[CentralService]:
    """An in-process ingest service, ready (streams and consumer made) when the block starts."""
    kwargs.setdefault("settings", TEST_SETTINGS)
    kwargs.setdefault("fetch_timeout_s", 1.0)
    connection = ConnectOptions.for_url(url, tls=tls) if isinstance(url, str) else url
    service = CentralService(store, connection, **kwargs)
    task = asyncio.create_task(service.run())
    try:
        await eventually(service.ready.is_set, 30, "the central service is ready", task)
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, 30)


async def eventually(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    watch: asyncio.Task[Any] | None = None,
) -> None:
    """Wait until ``condition()`` holds; generous timeouts, never a timing assertion."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if watch is not None and watch.done():
            watch.result()
            raise AssertionError(f"the watched task ended before: {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting until {what}")
        await asyncio.sleep(0.05)


def assert_exactly_once(store: CentralStore, *agents: EdgeAgent) -> None:
    """Central record == edge log, byte for byte, per (device, seq); nothing held or missing."""
    status = {row["device_id"]: row for row in store.device_status()}
    for agent in agents:
        local = [(seq, bytes(data)) for seq, data in agent.store.raw_events()]
        central = store.committed(agent.device_id)
        assert len(central) == len(local), f"{agent.device_id}: {len(central)} != {len(local)}"
        assert central == local, f"{agent.device_id}: central record differs from the edge log"
        row = status[agent.device_id]
        assert row["committed_seq"] == agent.head().seq
        assert row["held"] == 0


def fully_committed(store: CentralStore, *agents: EdgeAgent) -> Callable[[], bool]:
    def check() -> bool:
        rows = {r["device_id"]: r["committed_seq"] for r in store.device_status()}
        return all(rows.get(a.device_id) == a.head().seq for a in agents)

    return check


def replicator(
    agent: EdgeAgent, url: str, tls: TlsFiles | None = None, **settings: Any
) -> Replicator:
    """A replicator of ``agent`` to the open server at ``url`` (``tls``: its CA for a
    ``tls://`` URL), with some settings changed."""
    connection = ConnectOptions.for_url(url, tls=tls)
    return Replicator(agent, ReplicatorSettings(connection, **settings))


async def stream_messages(
    url: str, stream: str, subject: str, tls: TlsFiles | None = None
) -> list[Any]:
    """Every message on ``subject`` (a filter) currently in ``stream``, in stream order."""
    nc = await nats.connect(**ConnectOptions.for_url(url, tls=tls).client_kwargs())
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        if info.state.messages == 0:
            return []
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=30
        )
        sub = await js.pull_subscribe(subject, stream=stream, config=config)
        # How many match, counted by the server when the consumer was made: a fetch that
        # times out (a loaded machine, a cluster electing a leader) must not end the read
        # early and pass for a stream that holds less.
        expected = (await sub.consumer_info()).num_pending
        out: list[Any] = []
        deadline = time.monotonic() + 60
        while len(out) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(out)} of {expected} messages of {stream}")
            with contextlib.suppress(nats.errors.TimeoutError):
                out.extend(await sub.fetch(256, timeout=1))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def replicating(*replicators: Replicator) -> AsyncIterator[None]:
    """Each replicator's long-running loop (``run``) while the block runs; stopped after it."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in replicators]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)


def balance(agent: EdgeAgent, account: str) -> Any:
    """A savings account's balance in ``agent``'s rule views (``None``: not known there)."""
    view = agent.view(account_key(account))
    return None if view is None else view["balance"]
