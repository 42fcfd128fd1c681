"""Siblings through the province over a real nats-server: committed events reach the other
devices of the cooperative, and only them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from support.nats import NatsServer
from support.replication import (
    COOP_A,
    COOP_B,
    make_device,
    register,
    replicator,
    running_central,
)
from support.siblings import member

from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.domain.savings import account_key

OPENED = {"member_id": "M-1", "product": "SUKARELA", "opened_on": "2026-03-01"}


async def _sync_until(
    agent: EdgeAgent, url: str, condition: object, what: str, within_s: float = 60
) -> None:
    """Sync ``agent`` until ``condition()`` holds (the outbox publishes after the commit),
    for up to ``within_s`` seconds: bounded by time, not by a count of syncs, which a quick
    sync would use up before a busy machine's outbox has published."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        await replicator(agent, url).sync_once(30)
        if condition():  # type: ignore[operator]
            return
        if loop.time() > deadline:
            raise AssertionError(f"never within {within_s:g} s: {what}")
        await asyncio.sleep(0.2)


async def test_an_account_opened_on_a_accepts_a_deposit_on_b(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A opens an account and syncs; B receives it through the province and takes a deposit;
    A sees the deposit; the device of another cooperative sees nothing of either."""
    a, b = make_device(tmp_path, COOP_A, "desk"), make_device(tmp_path, COOP_A, "shop")
    other = make_device(tmp_path, COOP_B, "elsewhere")
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, a, b, other)
    try:
        async with running_central(store, nats_server.url):
            member(a, "M-1", 1)
            a.record("SavingsAccountOpened", OPENED, "S-1")
            await replicator(a, nats_server.url).sync_once(30)
            await _sync_until(
                b, nats_server.url, lambda: b.view(account_key("S-1")), "B has A's account"
            )
            b.record("SavingsDeposited", {"amount": 25_000, "receipt_no": "KW-7"}, "S-1")
            await replicator(b, nats_server.url).sync_once(30)
            await _sync_until(
                a,
                nats_server.url,
                lambda: a.view(account_key("S-1"))["balance"] == 25_000,
                "A has B's deposit",
            )
            await replicator(other, nats_server.url).sync_once(30)
        assert a.status()["siblings"] == [{"device_id": "shop", "applied_seq": 1}]
        assert b.status()["siblings"] == [{"device_id": "desk", "applied_seq": 2}]
        assert other.status()["siblings"] == [] and other.view(account_key("S-1")) is None
        assert [a.store.meta("sibling_refused"), b.store.meta("sibling_refused")] == [None, None]
    finally:
        store.close()
