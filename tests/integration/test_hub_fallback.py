"""A device whose hub died goes on through the province, and goes back to the hub when it
returns: real nats-servers, the hub run by ``kopsync edge hub`` and killed with its server."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

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
from sync_core.transport import ConnectOptions

pytestmark = [pytest.mark.timeout(300), pytest.mark.filterwarnings("ignore::ResourceWarning")]

OPENED = {"member_id": "M-1", "product": "SUKARELA", "opened_on": "2026-03-01"}


def running(province: str, hub: str, *agents: EdgeAgent) -> AbstractAsyncContextManager[None]:
    """Each device's long-running replicator, hub first, trying a lost hub every 0.5 s."""
    hub_options = ConnectOptions.for_url(hub)
    return replicating(
        *(
            replicator(agent, province, hub=hub_options, backoff_cap_s=0.5, hub_retry_s=0.5)
            for agent in agents
        )
    )


def _paths(store: CentralStore) -> dict[str, str | None]:
    return {r["device_id"]: r["via"] for r in store.device_status()}


async def test_devices_go_back_to_a_hub_that_returns(tmp_path: Path) -> None:
    """Hub killed: the devices sync through the province; hub restarted: they return to it
    without losing their link first, and share over the LAN again while the satellite is cut;
    the central holds every event once."""
    province, leaf_port = province_server(tmp_path / "province")
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    a, b = (make_device(tmp_path, COOP_A, d) for d in ("desk", "shop"))
    register(store, a, b)
    on_hub = dict.fromkeys(("desk", "shop"), f"hub-{COOP_A}")
    try:
        async with (
            running_central(store, province.url),
            LinkEmulator(HOST, leaf_port) as satellite,
        ):
            hub = Hub(tmp_path / "hub", COOP_A, f"nats-leaf://{HOST}:{satellite.port}").start()
            try:
                async with running(province.url, hub.url, a, b):
                    member(a, "M-1", 1)
                    a.record("SavingsAccountOpened", OPENED, "S-1")
                    await eventually(lambda: balance(b, "S-1") == 0, 60, "B has A's account")
                    await eventually(lambda: _paths(store) == on_hub, 60, "both on the hub")

                    hub.kill()
                    a.record("SavingsDeposited", {"amount": 5_000, "receipt_no": "KW-1"}, "S-1")
                    await eventually(
                        lambda: _paths(store) == dict.fromkeys(("desk", "shop")),
                        60,
                        "both on the province",
                    )
                    await eventually(lambda: balance(b, "S-1") == 5_000, 60, "B has it directly")

                    hub.start()  # same port and store
                    await eventually(lambda: _paths(store) == on_hub, 60, "both back on the hub")

                    satellite.cut()  # only the LAN can carry this one now
                    a.record("SavingsDeposited", {"amount": 2_000, "receipt_no": "KW-2"}, "S-1")
                    await eventually(lambda: balance(b, "S-1") == 7_000, 60, "B has it by LAN")
                    satellite.restore()
                    await eventually(fully_committed(store, a, b), 90, "all committed")
                    assert_exactly_once(store, a, b)
            finally:
                hub.kill()
    finally:
        store.close()
        province.stop()
