"""A long-running replicator survives a full device disk and carries on when space returns."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs
from support.nats import NatsServer
from support.replication import (
    COOP_A,
    assert_exactly_once,
    eventually,
    fully_committed,
    make_device,
    record,
    register,
    running_central,
)

from central_projector.record.store import CentralStore
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from sync_core.errors import StoreFull
from sync_core.transport import ConnectOptions


class FullDisk(Replicator):
    """Its writes of sync state fail as SQLite fails on a full disk, until ``space()``.

    The fault suite's disk_full scenario hit this on a real tmpfs (``kopsync edge run``
    exited); which write meets the full disk first is a matter of luck there, so here it is
    pinned to the sync-state write every cycle makes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.full = True
        self.refused = 0
        update = self.handshake.update_sync

        def update_sync(changes: dict[str, Any]) -> None:
            if self.full:
                self.refused += 1
                raise StoreFull(
                    "the disk is full: nothing was recorded. Free some space and try again."
                )
            update(changes)

        self.handshake.update_sync = update_sync  # type: ignore[method-assign]


async def test_run_keeps_going_through_a_full_disk(nats_server: NatsServer, tmp_path: Path) -> None:
    """While every sync-state write fails with StoreFull, ``run`` logs it and keeps trying
    instead of ending; once space returns, every event is committed exactly once."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 200)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    stop = asyncio.Event()
    rep = FullDisk(agent, ReplicatorSettings(ConnectOptions.for_url(nats_server.url), poll_s=0.05))
    try:
        async with running_central(store, nats_server.url):
            with capture_logs() as logs:
                task = asyncio.create_task(rep.run(stop))
                await eventually(lambda: rep.refused >= 3, 60, "three refused writes", task)
            assert not task.done()
            assert any(entry["event"] == "store_full" for entry in logs)
            rep.full = False
            record(agent, 20)
            await eventually(fully_committed(store, agent), 60, "all events committed", task)
            stop.set()
            await asyncio.wait_for(task, 30)
        assert_exactly_once(store, agent)
    finally:
        stop.set()
        store.close()
        agent.close()
