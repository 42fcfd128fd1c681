"""A central event deleted from a device's store is noticed, and comes back after repair.

Over a real nats-server and a real central: the device pins the central's key at its
first hello and receives a card block; the block's row is then deleted from ``edge.db``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from support.nats import NatsServer
from support.replication import COOP_A, make_device, register, replicator, running_central

from central_projector.record.store import CentralStore
from edge_agent.app.agent import DB_NAME, EdgeAgent
from edge_agent.app.integrity import examine
from edge_agent.app.repair import repair
from sync_core.errors import StoreTampered


async def _published(store: CentralStore) -> None:
    for _ in range(600):
        if not store.outbox(1):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox was not published")


async def test_a_deleted_card_block_is_read_again_after_repair(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Deleting the stored CardBlocked stops recording; repair, then the next sync, blocks
    the card again, and the store verifies in full."""
    agent = make_device(tmp_path, COOP_A, "kasir-1")
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    try:
        async with running_central(store, nats_server.url):
            await _published(store)  # its DeviceRegistered, applied by the first sync
            assert (await replicator(agent, nats_server.url).sync_once(60)).complete
            store.issue("CardIssued", COOP_A, {"beneficiary_id": "BEN-7"}, "KHBS-7")
            store.issue("CardBlocked", COOP_A, {"reason": "kartu hilang"}, "KHBS-7")
            await _published(store)
            assert (await replicator(agent, nats_server.url).sync_once(60)).downloaded == 2
            assert agent.view("card:KHBS-7")["blocked"] is True  # type: ignore[index]
            assert examine(agent).ok

            data = agent.data_dir
            agent.close()
            with sqlite3.connect(data / DB_NAME) as conn:
                conn.execute("DELETE FROM downlink_events WHERE topic LIKE 'CardBlocked:%'")
            agent = EdgeAgent(data)
            assert agent.trust_problems()
            with pytest.raises(StoreTampered):
                agent.record("PriceSet", {"sku": "GULA", "unit_price": 18_000}, "GULA")
            assert not examine(agent).ok

            assert repair(agent).reread == ("downlink_events",)
            assert agent.view("card:KHBS-7")["blocked"] is False  # type: ignore[index]
            assert (await replicator(agent, nats_server.url).sync_once(60)).downloaded == 1
            assert agent.view("card:KHBS-7")["blocked"] is True  # type: ignore[index]
            assert examine(agent).ok and not agent.trust_problems()
            agent.record("PriceSet", {"sku": "GULA", "unit_price": 18_000}, "GULA")
    finally:
        store.close()
        agent.close()
