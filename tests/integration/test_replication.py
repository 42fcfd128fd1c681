"""Replication end to end over a real nats-server: exactly-once upload, downlink, key pinning."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import nats
import pytest
from click.testing import CliRunner
from support.nats import NatsServer
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
    running_central,
    stream_messages,
)

from central_projector.ingest.streams import DOWN, EVENTS, ensure_streams
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import CentralKeyChanged
from kopsync.cli.main import cli
from sync_core import subjects
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The central store on a real SQLite file, and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_offline_devices_replicate_every_event_exactly_once(
    nats_server: NatsServer, tmp_path: Path, store_url: str
) -> None:
    """1,000 events recorded offline on each of 3 devices are committed once, byte-equal."""
    devices = [
        make_device(tmp_path, COOP_A, "kasir-1", 1000, seed=7),
        make_device(tmp_path, COOP_A, "kasir-2", 1000, seed=7),
        make_device(tmp_path, COOP_B, "gudang-1", 1000, seed=8),
    ]
    store = CentralStore(store_url)
    register(store, *devices)
    try:
        async with running_central(store, nats_server.url) as service:
            reports = await asyncio.gather(
                *(replicator(d, nats_server.url).sync_once(120) for d in devices)
            )
            assert all(r.complete and r.uploaded == 1000 for r in reports), reports
            assert_exactly_once(store, *devices)

            again = await replicator(devices[0], nats_server.url).sync_once(60)
            assert again.uploaded == 0 and again.complete
            assert service.stats.committed == 3000
            for d in devices:
                st = d.status()
                assert (st["last_seq"], st["confirmed_seq"], st["pending"]) == (1000, 1000, 0)
                assert st["last_contact"] is not None

            # Committed events reach KOP_EVENTS once each, after the commit, via the outbox.
            await _until_outbox_empty(store)
            published = await stream_messages(
                nats_server.url, EVENTS, subjects.canonical_wildcard()
            )
            ids = [m.headers["Nats-Msg-Id"] for m in published]
            # The devices' 3,000 and the central's three DeviceRegistered facts.
            assert len(ids) == len(set(ids)) == 3003
    finally:
        store.close()
        for d in devices:
            d.close()


async def _until_outbox_empty(store: CentralStore) -> None:
    for _ in range(600):
        if not store.outbox(1):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox was not published")


def _central_seqs(agent: EdgeAgent, issuer: str = "central") -> list[int]:
    """The issuer seqs of the central events applied, the device registrations aside."""
    return [
        e.seq
        for e in agent.store.central_events()
        if e.device_id == issuer and e.type != "DeviceRegistered"
    ]


ISSUES = [
    ("EntitlementGranted", "ENT-2026-03-0001",
     {"beneficiary_id": "BEN-0001", "card_uid": "KHBS-0001", "program": "BERAS",
      "cycle": "2026-03", "value": 150_000}),
    ("RedemptionAllowanceAllocated", "ALW-BERAS-2026-03",
     {"scope": "COOP", "program": "BERAS", "cycle": "2026-03", "max_count": 40,
      "max_value": 6_000_000}),
    ("CardBlocked", "KHBS-0002", {"reason": "kartu hilang"}),
    ("PriceSet", "BERAS-5KG", {"sku": "BERAS-5KG", "unit_price": 72_000}),
]  # fmt: skip


async def test_central_events_reach_every_device_of_the_coop_exactly_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """`central issue` events reach each device of the coop once (not other coops), also late."""
    db = f"sqlite:///{tmp_path / 'central.db'}"
    a1, a2 = (make_device(tmp_path, COOP_A, d, 20) for d in ("kasir-1", "kasir-2"))
    b1 = make_device(tmp_path, COOP_B, "kasir-b", 20)
    store = CentralStore(db)
    register(store, a1, a2, b1)
    runner = CliRunner()
    try:
        async with running_central(store, nats_server.url):
            await _until_outbox_empty(store)  # the registrations, issued centrally 1..3
            for d in (a1, a2, b1):  # first contact pins the central key
                assert (await replicator(d, nats_server.url).sync_once(60)).complete

            for event_type, aggregate, payload in ISSUES:
                args = ["central", "issue", event_type, "--coop", COOP_A, "--aggregate", aggregate]
                args += ["--json", json.dumps(payload), "--db", db]
                result = await asyncio.to_thread(runner.invoke, cli, args)
                assert result.exit_code == 0, result.output
            await _until_outbox_empty(store)

            for d in (a1, a2):
                report = await replicator(d, nats_server.url).sync_once(60)
                assert (report.downloaded, report.refused) == (4, 0)
            assert _central_seqs(a1) == _central_seqs(a2) == [4, 5, 6, 7]
            assert (await replicator(b1, nats_server.url).sync_once(60)).downloaded == 0
            assert _central_seqs(b1) == []

            # kasir-2 is offline while three more are issued; kasir-1 keeps syncing.
            for n in range(3):
                store.issue("CardBlocked", COOP_A, {"reason": f"rusak {n}"}, f"KHBS-01{n}")
            store.issue("CardBlocked", COOP_B, {"reason": "hilang"}, "KHBS-B-01")
            await _until_outbox_empty(store)
            assert (await replicator(a1, nats_server.url).sync_once(60)).downloaded == 3
            late = await replicator(a2, nats_server.url).sync_once(60)
            assert late.downloaded == 3
            assert _central_seqs(a1) == _central_seqs(a2) == [4, 5, 6, 7, 8, 9, 10]
            assert _central_seqs(b1) == []
            assert (await replicator(b1, nats_server.url).sync_once(60)).downloaded == 1

            # Syncing again applies nothing twice, even from position 0.
            a2.store.set_meta("sync", a2.store.meta("sync") | {"downlink_position": 0})
            assert (await replicator(a2, nats_server.url).sync_once(60)).downloaded == 0
            assert _central_seqs(a2) == [4, 5, 6, 7, 8, 9, 10]
            assert a2.status()["downlink_position"] >= 10
    finally:
        store.close()
        for d in (a1, a2, b1):
            d.close()


async def test_forged_downlink_message_is_refused_and_later_ones_applied(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """An envelope on the coop's downlink not signed by the pinned central key is never applied."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 5)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    try:
        async with running_central(store, nats_server.url) as service:
            await _until_outbox_empty(store)  # its registration, applied by the first sync
            assert (await replicator(agent, nats_server.url).sync_once(60)).complete
            forged = seal(
                DeviceKey.generate(),
                event_id=new_event_id(),
                coop_id=COOP_A,
                device_id=store.issuer_id,
                seq=1,
                hlc=Hlc(1, 0),
                type="CardBlocked",
                version=1,
                aggregate_id="KHBS-0009",
                payload={"reason": "palsu"},
                prev_hash=GENESIS_HASH,
            )
            await service.js.publish(subjects.downlink(COOP_A), forged.encode())
            store.issue("CardBlocked", COOP_A, {"reason": "asli"}, "KHBS-0010")
            await _until_outbox_empty(store)

            report = await replicator(agent, nats_server.url).sync_once(60)
            assert (report.downloaded, report.refused) == (1, 1)
            [genuine] = [
                e
                for e in agent.store.central_events()
                if e.device_id == "central" and e.type == "CardBlocked"
            ]
            assert genuine.payload == {"reason": "asli"}
            [refusal] = agent.store.meta("downlink_refused")
            assert refusal["reason"] == "bad_signature"
    finally:
        store.close()
        agent.close()


async def test_a_different_central_key_is_refused_after_first_contact(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """The device pins the central key on first contact and refuses to sync with another one."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 3)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    try:
        async with running_central(store, nats_server.url):
            assert (await replicator(agent, nats_server.url).sync_once(60)).complete
            assert agent.store.meta("sync")["central_key"] == store.central_public_key()
            agent.store.set_meta("sync", agent.store.meta("sync") | {"central_key": b"\x01" * 32})
            record(agent, 2)
            with pytest.raises(CentralKeyChanged, match="pinned"):
                await replicator(agent, nats_server.url).sync_once(60)
            assert store.device_status()[0]["committed_seq"] == 3  # nothing was uploaded
    finally:
        store.close()
        agent.close()


def test_cli_sync_status_and_unreachable_server(nats_server: NatsServer, tmp_path: Path) -> None:
    """`kopsync edge sync`/`status` and `central device add`/`status` work; no server → 1 line."""
    db = f"sqlite:///{tmp_path / 'central.db'}"
    data = tmp_path / "kasir-1"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("edge", "init", "--coop", COOP_A, "--device", "kasir-1", "--data", str(data))
    with EdgeAgent(data) as agent:
        record(agent, 30)
    run("central", "migrate", "--db", db)
    run("central", "device", "add", str(data / "device.json"), "--db", db)
    store = CentralStore(db)

    async def sync_with_central() -> str:
        async with running_central(store, nats_server.url):
            args = ["edge", "sync", "--nats", nats_server.url, "--data", str(data), "--json"]
            return await asyncio.to_thread(run, *args)

    try:
        report = json.loads(asyncio.run(sync_with_central()))
        assert (report["uploaded"], report["confirmed_seq"], report["complete"]) == (30, 30, True)
    finally:
        store.close()
    status = json.loads(run("edge", "status", "--data", str(data), "--json"))
    assert (status["last_seq"], status["confirmed_seq"], status["pending"]) == (30, 30, 0)
    assert isinstance(status["last_contact"], int)
    rows = json.loads(run("central", "status", "--db", db, "--json"))
    assert [(r["device_id"], r["committed_seq"]) for r in rows] == [("kasir-1", 30)]

    nats_server.kill()
    result = runner.invoke(
        cli, ["edge", "sync", "--nats", nats_server.url, "--data", str(data), "--timeout", "1"]
    )
    assert result.exit_code == 4  # transient: retry later
    assert result.output.count("\n") == 1 and "cannot reach the NATS server" in result.output


async def test_edge_run_replicates_continuously_and_stops_cleanly_on_ctrl_c(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """`kopsync edge run` uploads what the counter records while it runs; SIGINT ends it, exit 0."""
    agent = make_device(tmp_path, COOP_A, "kasir-1", 40)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    kopsync = Path(sys.executable).with_name("kopsync")
    try:
        async with running_central(store, nats_server.url):
            proc = await asyncio.create_subprocess_exec(
                str(kopsync), "edge", "run", "--nats", nats_server.url,
                "--data", str(agent.data_dir), "--log-format", "json",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                await eventually(fully_committed(store, agent), 60, "the first 40 committed")
                record(agent, 25)  # recorded while `edge run` is running
                await eventually(fully_committed(store, agent), 60, "the new ones committed")
            finally:
                proc.send_signal(signal.SIGINT)
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            assert err.decode().strip().endswith("stopped")
        assert_exactly_once(store, agent)
    finally:
        store.close()
        agent.close()


async def test_central_issue_with_nats_publishes_at_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """`kopsync central issue --nats` publishes the queued downlink itself, signed centrally."""
    db = f"sqlite:///{tmp_path / 'central.db'}"
    nc = await nats.connect(nats_server.url)
    try:
        await ensure_streams(nc.jetstream(), TEST_SETTINGS)
    finally:
        await nc.close()
    assert CliRunner().invoke(cli, ["central", "migrate", "--db", db]).exit_code == 0
    args = ["central", "issue", "CardBlocked", "--coop", COOP_B, "--aggregate", "KHBS-0042",
            "--json", '{"reason": "dicuri"}', "--db", db, "--nats", nats_server.url]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 0, result.output
    assert "published 2 queued message(s)" in result.output  # kop.down.{coop} and kop.ev...
    [msg] = await stream_messages(nats_server.url, DOWN, subjects.downlink(COOP_B))
    [event] = await stream_messages(nats_server.url, EVENTS, subjects.canonical_wildcard())
    assert event.data == msg.data
    env = Envelope.decode(msg.data)
    with CentralStore(db) as store:
        env.verify_signature(store.central_public_key())
        assert not store.outbox()
    assert (env.type, env.aggregate_id, msg.headers["Nats-Msg-Id"]) == (
        "CardBlocked",
        "KHBS-0042",
        "central:1",
    )
