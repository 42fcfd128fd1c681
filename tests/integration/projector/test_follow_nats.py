"""``kopsync central project --nats``: a canonical event wakes the projector at once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import nats
from support import histories as H
from support.nats import NatsServer
from support.projector_db import deliver

from central_projector.projection.folds import Event
from central_projector.projection.projector import Projector
from central_projector.record.store import CentralStore
from kopsync.cli.central.project import _follow_nats
from sync_core import subjects
from sync_core.transport import ConnectOptions


def test_a_canonical_event_wakes_the_projector_before_the_poll(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """With a 60 s poll, a message on the canonical stream gets new events projected in seconds."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    CentralStore(url).close()
    projector = Projector(url)
    stop = threading.Event()
    connection = ConnectOptions.for_url(nats_server.url)
    thread = threading.Thread(
        target=lambda: asyncio.run(
            _follow_nats(projector, connection, 60.0, stop, lambda _res: None)
        )
    )
    thread.start()
    try:
        time.sleep(1.0)  # the first pass finds nothing, then waits for a wake-up
        facts = H.central_facts()
        events = [
            Event((H.T0 + i, 0, H.CENTRAL, i + 1), f"c-{i}", H.COOP, t, a, p)
            for i, (t, a, p) in enumerate(facts)
        ]
        deliver(projector.engine, events, set())

        async def publish() -> None:
            nc = await nats.connect(nats_server.url)
            await nc.publish(subjects.canonical(H.COOP, "aid", "EntitlementGranted"), b"x")
            await nc.flush()
            await nc.close()

        asyncio.run(publish())
        deadline = time.monotonic() + 10
        while projector.position() < len(events) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert projector.position() == len(events)
    finally:
        stop.set()
        # the follower waits at most one poll; wake it so the test ends promptly
        asyncio.run(_nudge(nats_server.url))
        thread.join(timeout=70)
        projector.close()


async def _nudge(url: str) -> None:
    nc = await nats.connect(url)
    await nc.publish(subjects.canonical(H.COOP, "aid", "EntitlementGranted"), b"x")
    await nc.flush()
    await nc.close()
