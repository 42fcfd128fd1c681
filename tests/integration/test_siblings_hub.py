"""Siblings on the LAN over real nats-servers: a province, a cooperative's hub as its leaf
node (``kopsync edge hub``), the link emulator between them, and devices of the cooperative.

Devices share through the hub while the province is cut off, the province holds every event
once when the link returns, a forged message on the hub is refused, and a killed hub costs
nothing: the devices go on through the province."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import nats
import pytest
from support.hub import Hub, province_server
from support.nats import HOST
from support.replication import (
    COOP_A,
    assert_exactly_once,
    balance,
    eventually,
    fully_committed,
    make_device,
    register,
    replicating,
    replicator,
    running_central,
)
from support.siblings import member

from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.linkemu import LinkEmulator
from sync_core import subjects
from sync_core.envelope import seal
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey
from sync_core.transport import ConnectOptions

OPENED = {"member_id": "M-1", "product": "SUKARELA", "opened_on": "2026-03-01"}


def running(*agents_and_urls: tuple[EdgeAgent, str, str]) -> AbstractAsyncContextManager[None]:
    """Each device's long-running replicator: the hub first, the province when it is gone."""
    return replicating(
        *(
            replicator(agent, province, hub=ConnectOptions.for_url(hub), backoff_cap_s=0.5)
            for agent, province, hub in agents_and_urls
        )
    )


async def test_devices_share_through_the_hub_while_the_province_is_cut(tmp_path: Path) -> None:
    """Online, an account opened on A takes a deposit on B; cut off from the province they go
    on sharing through the hub; linked again, the central holds every event once; a forged
    message on the hub is refused; with the hub killed they sync through the province."""
    province, leaf_port = province_server(tmp_path / "province")
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    a, b, c = (make_device(tmp_path, COOP_A, d) for d in ("desk", "shop", "depot"))
    register(store, a, b, c)
    try:
        async with (
            running_central(store, province.url),
            LinkEmulator(HOST, leaf_port) as satellite,
        ):
            hub = Hub(tmp_path / "hub", COOP_A, f"nats-leaf://{HOST}:{satellite.port}").start()
            try:
                async with running(*((d, province.url, hub.url) for d in (a, b, c))):
                    # 1. everyone online
                    member(a, "M-1", 1)
                    a.record("SavingsAccountOpened", OPENED, "S-1")
                    await eventually(lambda: balance(b, "S-1") == 0, 60, "B has A's account")
                    b.record("SavingsDeposited", {"amount": 25_000, "receipt_no": "KW-1"}, "S-1")
                    await eventually(lambda: balance(a, "S-1") == 25_000, 60, "A has B's deposit")
                    await eventually(fully_committed(store, a, b, c), 60, "all committed")
                    paths = {r["device_id"]: r["via"] for r in store.device_status()}
                    assert paths == dict.fromkeys(("desk", "shop", "depot"), f"hub-{COOP_A}")

                    # 2. the satellite is down: the LAN carries on
                    satellite.cut()
                    a.record("SavingsAccountOpened", OPENED, "S-2")
                    await eventually(lambda: balance(b, "S-2") == 0, 60, "B has S-2 offline")
                    b.record("SavingsDeposited", {"amount": 7_000, "receipt_no": "KW-2"}, "S-2")
                    await eventually(lambda: balance(c, "S-2") == 7_000, 60, "C has it too")
                    assert not fully_committed(store, a, b)()

                    # 3. a forged message on the hub is refused by every device
                    await _publish_forged(hub.url, a)
                    await eventually(
                        lambda: bool(c.store.meta("sibling_refused")), 60, "C refused the forgery"
                    )

                    # 4. the link returns: the province gets everything, once
                    satellite.restore()
                    await eventually(fully_committed(store, a, b, c), 90, "all committed")
                    assert_exactly_once(store, a, b, c)

                    # 5. the hub dies: the devices sync through the province directly
                    hub.kill()
                    c.record("SavingsWithdrawn", {"amount": 2_000, "receipt_no": "KW-3"}, "S-2")
                    await eventually(fully_committed(store, a, b, c), 90, "committed direct")
                    for agent in (a, b):
                        await eventually(
                            lambda agent=agent: balance(agent, "S-2") == 5_000, 90, "C's, direct"
                        )
                    assert_exactly_once(store, a, b, c)
                    paths = {r["device_id"]: r["via"] for r in store.device_status()}
                    assert paths == dict.fromkeys(("desk", "shop", "depot"))
            finally:
                hub.kill()
        for agent in (a, b, c):
            refused = agent.store.meta("sibling_refused") or []
            assert {r["reason"] for r in refused} <= {"bad_signature"}
        assert {r["reason"] for r in c.store.meta("sibling_refused")} == {"bad_signature"}
        views = [dict(d.store.views("savings:")) for d in (a, b, c)]
        assert views[0] == views[1] == views[2]
    finally:
        store.close()
        province.stop()


async def _publish_forged(hub_url: str, victim: EdgeAgent) -> None:
    """A message claiming to be the victim's next event, signed by another key."""
    forged = seal(
        DeviceKey.generate(),
        event_id=new_event_id(),
        coop_id=victim.coop_id,
        device_id=victim.device_id,
        seq=victim.head().seq + 1,
        hlc=Hlc(1, 0),
        type="SavingsDeposited",
        version=1,
        aggregate_id="S-2",
        payload={"amount": 9_999_999, "receipt_no": "PALSU"},
        prev_hash=GENESIS_HASH,
    )
    nc = await nats.connect(hub_url)
    try:
        await nc.jetstream().publish(subjects.lan(victim.coop_id, "intruder"), forged.encode())
    finally:
        await nc.close()


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
