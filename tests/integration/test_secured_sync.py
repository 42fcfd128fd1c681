"""kopsync's own clients against the real nats-server with the generated auth configuration,
over TLS as deployed (``deploy/nats/tls.conf`` on a test CA; every client pins it).

The central service connects with the central's nkey, each device's replicator with its own
nkey and inbox prefix (``kopsync admin`` made every user); the denials themselves are proved
with plain clients in ``tests/integration/security/``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from click.testing import CliRunner
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from support.nats import NatsServer
from support.replication import (
    COOP_A,
    COOP_B,
    assert_exactly_once,
    eventually,
    record,
    running_central,
)
from support.secured import AuthConfig, add_device, auth_config, central_user
from support.tls import make_pki

from central_projector.ingest.streams import DOWN
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from kopsync.cli.main import cli
from kopsync.connection import INBOX_ENV, NKEY_ENV
from sync_core import subjects
from sync_core.protocol import (
    DEVICE_JS_API,
    device_inbox_prefix,
    downlink_consumer_name,
)
from sync_core.transport import ConnectOptions, TlsFiles, tls_kwargs
from sync_core.transport.options import connect_options

pytestmark = pytest.mark.timeout(60)

DEVICES = {"kasir-a": COOP_A, "kasir-b": COOP_B}


@dataclass(frozen=True, slots=True)
class World:
    server: NatsServer
    auth: AuthConfig
    db_url: str
    central_seed: Path
    data: dict[str, Path]  # device id -> its data directory
    seeds: dict[str, Path]  # device id -> its seed file
    tls: TlsFiles  # what every client pins: the server speaks TLS only, as deployed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A secured server on TLS, the central user and one device of each of two cooperatives."""
    root = tmp_path_factory.mktemp("secured-sync")
    pki = make_pki(root / "pki")
    auth = auth_config(root, pki)
    db_url = f"sqlite:///{root / 'central.db'}"
    central_seed = central_user(auth, root / "central.nk")
    data, seeds = {}, {}
    for device_id, coop_id in DEVICES.items():
        data[device_id] = root / device_id
        seeds[device_id] = add_device(auth, coop_id, device_id, data[device_id], db_url)
    server = NatsServer(
        root / "server", config=auth.server_conf, tls=pki, ports=auth.server_ports
    ).start()
    try:
        yield World(server, auth, db_url, central_seed, data, seeds, pki.client_tls())
    finally:
        server.kill()


@pytest.fixture(autouse=True)
def no_nkey_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NKEY_ENV, raising=False)
    monkeypatch.delenv(INBOX_ENV, raising=False)


async def _sync(world: World, agent: EdgeAgent) -> int:
    """One sync of ``agent`` with its own nkey; the number of central events it applied."""
    seed = str(world.seeds[agent.device_id])
    connection = ConnectOptions.for_url(world.server.url, nkey_seed=seed, tls=world.tls)
    report = await Replicator(agent, ReplicatorSettings(connection)).sync_once(30)
    assert report.complete, report
    return report.downloaded


def _issued(agent: EdgeAgent, issuer: str) -> list[str]:
    """The types of the central events ``agent`` applied (each its own cooperative's)."""
    return [e.type for e in agent.store.central_events() if e.device_id == issuer]


async def _leave_stale_consumer(world: World, device_id: str) -> None:
    """As the device: its downlink consumer, left behind at another start position."""
    seed = str(world.seeds[device_id])
    nc = await nats.connect(
        world.server.url,
        **connect_options(seed, device_inbox_prefix(device_id)),
        **tls_kwargs([world.server.url], world.tls),
    )
    try:
        config = ConsumerConfig(
            name=downlink_consumer_name(device_id),
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=1000,  # the sync wants 1
            ack_policy=AckPolicy.NONE,
            filter_subject=subjects.downlink(DEVICES[device_id]),
            inactive_threshold=60.0,
            mem_storage=True,
        )
        await nc.jetstream(prefix=DEVICE_JS_API).add_consumer(DOWN, config)
    finally:
        await nc.close()


async def test_central_and_devices_sync_with_their_own_nkeys(world: World) -> None:
    """Two cooperatives' devices commit once; a central event reaches only its coop's device."""
    store = CentralStore(world.db_url)
    a, b = (EdgeAgent(world.data[d]) for d in DEVICES)
    try:
        record(a, 40, seed=3)
        record(b, 30, seed=4)
        async with running_central(
            store,
            ConnectOptions.for_url(
                world.server.url, nkey_seed=str(world.central_seed), tls=world.tls
            ),
        ):
            # The registrations (DeviceRegistered) are on the downlink before the first sync.
            await eventually(lambda: not store.outbox(10), 20, "the outbox is published")
            for agent in (a, b):  # the first hello pins the central key
                await _sync(world, agent)
            assert_exactly_once(store, a, b)

            store.issue("CardBlocked", COOP_A, {"reason": "hilang"}, "KHBS-0001")
            await eventually(lambda: not store.outbox(10), 20, "the outbox is published")
            # A consumer left by a cut link at another position is replaced, not an error.
            await _leave_stale_consumer(world, "kasir-a")
            assert await _sync(world, a) == 1
            assert await _sync(world, b) == 0
            assert _issued(a, store.issuer_id) == ["DeviceRegistered", "CardBlocked"]
            assert _issued(b, store.issuer_id) == ["DeviceRegistered"]

            record(a, 10, seed=3)  # and once more: nothing is committed twice
            assert await _sync(world, a) == 0
            assert_exactly_once(store, a, b)
    finally:
        store.close()
        a.close()
        b.close()


async def test_edge_sync_cli_with_nkey(world: World) -> None:
    """`kopsync edge sync --nkey FILE` uploads and gets everything confirmed (exit 0)."""
    store = CentralStore(world.db_url)
    device = world.data["kasir-b"]
    with EdgeAgent(device) as agent:
        record(agent, 15, seed=4)
    args = ["edge", "sync", "--nats", world.server.url, "--data", str(device)]
    args += ["--nkey", str(world.seeds["kasir-b"]), "--tls-ca", str(world.tls.ca_file)]
    try:
        async with running_central(
            store,
            ConnectOptions.for_url(
                world.server.url, nkey_seed=str(world.central_seed), tls=world.tls
            ),
        ):
            result = await asyncio.to_thread(CliRunner().invoke, cli, args)
            assert result.exit_code == 0, result.output
            with EdgeAgent(device) as agent:
                assert_exactly_once(store, agent)
    finally:
        store.close()


def test_device_without_nkey_is_refused_with_one_line_error(world: World) -> None:
    """A device that gives no nkey is refused at once with one `error:` line naming --nkey."""
    args = ["edge", "sync", "--nats", world.server.url, "--data", str(world.data["kasir-a"])]
    args += ["--tls-ca", str(world.tls.ca_file)]
    started = time.monotonic()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: the NATS server at ")
    assert "--nkey" in line
    assert time.monotonic() - started < 5  # refused, not waited out
