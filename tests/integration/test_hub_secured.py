"""A cooperative's hub against the province as deployed: TLS, the central account and the
devices' account (deploy/nats/auth), every credential issued by ``kopsync admin``.

The hub links in with its leaf credential over TLS (the CA pinned), its LAN port speaks TLS
and admits only its cooperative's devices, each with its own nkey. A device on the hub and
its sibling on the province share through the province, and the central commits once; a
client without credentials is refused by the hub; another cooperative's hub credential
neither reads nor publishes this cooperative's subjects.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
from support.hub import Hub
from support.nats import HOST, NatsServer, free_ports
from support.replication import (
    COOP_A,
    COOP_B,
    assert_exactly_once,
    balance,
    eventually,
    fully_committed,
    replicating,
    running_central,
)
from support.secured import add_device, admin, auth_config, central_user
from support.siblings import member
from support.tls import make_pki

from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.hub import HubSettings, render_config
from edge_agent.app.hubauth import LocalUser, read_lan_users
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from kopsync.connection import INBOX_ENV, NKEY_ENV
from kopsync.devnats import nats_server_binary
from sync_core import subjects
from sync_core.protocol import DEVICE_JS_API, EVENTS_STREAM, LAN_STREAM, device_inbox_prefix
from sync_core.transport import ConnectOptions, TlsFiles, tls_kwargs
from sync_core.transport.options import read_seed_file

pytestmark = [pytest.mark.timeout(180), pytest.mark.filterwarnings("ignore::ResourceWarning")]

# what a request the province never sees ends in (no responders, or no answer)
UNANSWERED = (
    nats.errors.NoRespondersError,
    nats.errors.TimeoutError,
    ServiceUnavailableError,
    NoStreamResponseError,
)
OPENED = {"member_id": "M-1", "product": "SUKARELA", "opened_on": "2026-03-01"}


@pytest.fixture(autouse=True)
def no_nkey_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NKEY_ENV, raising=False)
    monkeypatch.delenv(INBOX_ENV, raising=False)


async def _refused(url: str, tls: TlsFiles, **options: Any) -> str:
    """Connecting to ``url`` fails; the server's reason."""
    with pytest.raises(Exception) as refused:  # nats-py's error differs by case
        nc = await nats.connect(
            url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0,
            **tls_kwargs([url], tls), **options,
        )  # fmt: skip
        await nc.close()
    return str(refused.value)


async def test_hub_on_the_secured_province(tmp_path: Path) -> None:
    """Through a hub with its own credential: a device on the hub and its sibling on the
    province each get the other's events, the central holds every event once; the hub
    refuses clients without a device's nkey; B's hub cannot touch A's subjects."""
    pki = make_pki(tmp_path / "pki")
    auth = auth_config(tmp_path, pki)
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    central_seed = central_user(auth, tmp_path / "central.nk")
    seeds = {
        d: add_device(auth, coop, d, tmp_path / d, db_url)
        for d, coop in [("desk", COOP_A), ("shop", COOP_A), ("kasir-b", COOP_B)]
    }
    hub_a = admin("hub", "add", "--coop", COOP_A, "--out", str(tmp_path / "hub-a-cred"),
                  "--auth", str(auth.users))  # fmt: skip
    assert hub_a["devices"] == 2
    hub_b = admin("hub", "add", "--coop", COOP_B, "--out", str(tmp_path / "hub-b-cred"),
                  "--auth", str(auth.users))  # fmt: skip
    listed = admin("hub", "list", "--auth", str(auth.users))
    assert [(h["coop_id"], h["devices"]) for h in listed] == sorted(
        [(COOP_A, ["desk", "shop"]), (COOP_B, ["kasir-b"])]
    )
    tls = pki.client_tls()
    province = NatsServer(tmp_path / "province", config=auth.server_conf, tls=pki,
                          ports=auth.server_ports).start()  # fmt: skip
    store = CentralStore(db_url)
    leaf = f"tls://{HOST}:{auth.leaf_port}"
    hub_port, other_port = free_ports(2)  # both made before either listens
    hub = Hub(tmp_path / "hub-a", COOP_A, leaf, "--nkey", hub_a["seed_file"], "--tls-ca",
              str(pki.ca), "--lan-users", hub_a["lan_users"], "--lan-cert",
              str(pki.server_cert), "--lan-key", str(pki.server_key), tls=True,
              port=hub_port)  # fmt: skip
    # B's hub, its LAN port open so that a plain client can try what its credential allows
    other = Hub(tmp_path / "hub-b", COOP_B, leaf, "--nkey", hub_b["seed_file"], "--tls-ca",
                str(pki.ca), port=other_port)  # fmt: skip
    desk, shop = EdgeAgent(tmp_path / "desk"), EdgeAgent(tmp_path / "shop")
    try:
        central = ConnectOptions.for_url(province.url, nkey_seed=str(central_seed), tls=tls)
        async with running_central(store, central):
            hub.start()
            other.start()

            def device(agent: EdgeAgent, via_hub: bool) -> Replicator:
                seed = str(seeds[agent.device_id])
                direct = ConnectOptions.for_url(province.url, nkey_seed=seed, tls=tls)
                lan = ConnectOptions.for_url(hub.url, nkey_seed=seed, tls=tls) if via_hub else None
                return Replicator(agent, ReplicatorSettings(direct, hub=lan, backoff_cap_s=0.5))

            async with replicating(device(desk, via_hub=True), device(shop, via_hub=False)):
                member(desk, "M-1", 1)
                desk.record("SavingsAccountOpened", OPENED, "S-1")
                await eventually(lambda: balance(shop, "S-1") == 0, 90, "shop has desk's account")
                shop.record("SavingsDeposited", {"amount": 25_000, "receipt_no": "KW-1"}, "S-1")
                await eventually(
                    lambda: balance(desk, "S-1") == 25_000, 90, "desk has it through the hub"
                )
                await eventually(fully_committed(store, desk, shop), 90, "all committed")
                paths = {r["device_id"]: r["via"] for r in store.device_status()}
                assert paths["desk"] == f"hub-{COOP_A}"
                assert paths["shop"] is None
                assert_exactly_once(store, desk, shop)

            # the LAN port: TLS, and a device's own nkey of this cooperative
            assert "uthorization" in await _refused(hub.url, tls)
            assert "uthorization" in await _refused(hub.url, tls, nkeys_seed=str(seeds["kasir-b"]))
            await _other_credential_cannot_touch(other.url, tls)
    finally:
        hub.kill()
        other.kill()
        store.close()
        desk.close()
        shop.close()
        province.kill()


async def _other_credential_cannot_touch(url: str, tls: TlsFiles) -> None:
    """Through B's hub: B's committed events can be read, A's cannot; A's upload subject
    reaches nothing; B's KOP_LAN holds B's committed events and none of A's."""
    # replies come back to the inboxes of B's devices only
    nc = await nats.connect(url, connect_timeout=5, inbox_prefix=device_inbox_prefix("kasir-b"))
    try:
        province = nc.jetstream(prefix=DEVICE_JS_API, timeout=3)

        def peek(coop_id: str, name: str) -> ConsumerConfig:
            return ConsumerConfig(
                name=name,
                filter_subject=subjects.coop_events(coop_id),
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=10.0,
                mem_storage=True,
            )

        # The probe itself works: B's credential reads B's committed events.
        made = await province.add_consumer(EVENTS_STREAM, peek(COOP_B, "peek-b"))
        assert made.config.filter_subject == subjects.coop_events(COOP_B)
        with pytest.raises(UNANSWERED):
            await province.add_consumer(EVENTS_STREAM, peek(COOP_A, "peek-a"))
        with pytest.raises(UNANSWERED):
            await province.publish(subjects.upload(COOP_A, "desk"), b"not an event")
        lan = await nc.jetstream().stream_info(LAN_STREAM, subjects_filter=">")
        held = set(lan.state.subjects or {})
        assert held  # B's own committed events (its device's registration) came
        assert all(s.startswith(subjects.coop_events(COOP_B)[:-1]) for s in held), held
    finally:
        await nc.close()


def test_the_hub_config_passes_nats_server_check(tmp_path: Path) -> None:
    """The config `kopsync edge hub` writes with every security option passes
    `nats-server -t` (a leaf credential, TLS to the province, LAN users, LAN TLS)."""
    pki = make_pki(tmp_path / "pki")
    auth = auth_config(tmp_path, pki)
    central_user(auth, tmp_path / "central.nk")
    issued = admin("hub", "add", "--coop", COOP_A, "--out", str(tmp_path / "cred"),
                   "--auth", str(auth.users))  # fmt: skip
    settings = HubSettings(
        coop_id=COOP_A,
        province_leaf=(f"tls://{HOST}:7422",),
        directory=tmp_path / "hub",
        leaf_nkey=Path(issued["seed_file"]),
        leaf_ca=pki.ca,
        lan_users=Path(issued["lan_users"]),
        lan_cert=pki.server_cert,
        lan_key=pki.server_key,
    )
    users = read_lan_users(Path(issued["lan_users"]), COOP_A)
    text = render_config(settings, read_seed_file(issued["seed_file"]), users, LocalUser.new())
    config = tmp_path / "hub.conf"
    config.write_text(text)
    check = subprocess.run(
        [str(nats_server_binary()), "-t", "-c", str(config)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert "valid" in check.stderr + check.stdout
