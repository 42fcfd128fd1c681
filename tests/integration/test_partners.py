"""Partner topics over a real nats-server: devices sync, the central publishes, the fan-out feeds
each partner's stream, and nothing personal is on any partner stream in clear."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
from click.testing import CliRunner
from support.nats import NatsServer
from support.pii import leaked, pii_of
from support.replication import (
    COOP_A,
    COOP_B,
    eventually,
    make_device,
    register,
    replicator,
    running_central,
    stream_messages,
)

from central_projector.ingest.streams import EVENTS
from central_projector.partners.config import PartnersConfig, parse
from central_projector.partners.fanout import FanoutService, FanoutSettings
from central_projector.record.store import CentralStore
from edge_agent.app import teller
from edge_agent.app.agent import EdgeAgent
from kopsync.cli.main import cli
from schemas import REGISTRY
from schemas.personal import pseudonym
from sync_core import codec, subjects
from sync_core.envelope import Envelope
from sync_core.transport import ConnectOptions

BANK_KEY = "a1" * 32
BULOG_KEY = "b2" * 32
# Paser (64/6401) for the bank: membership, savings, aid. Samarinda (6472) for Bulog: shop, aid.
PARTNERS = f"""
[[partner]]
id = "bank"
hmac_key_hex = "{BANK_KEY}"
regions = ["6401"]
areas = ["membership", "savings", "aid"]

[[partner]]
id = "bulog"
hmac_key_hex = "{BULOG_KEY}"
regions = ["6472"]
areas = ["shop", "aid"]
"""
# A short ack_wait: an ack or nak lost with a SIGKILLed server is only redelivered after it.
FAST = FanoutSettings(fetch_timeout_s=0.5, stall_fetches=2, publish_timeout_s=2.0, ack_wait_s=5.0)

NIK = "6401054506900003"
KK = "6401050101090012"
NEW_NIK = "6401054506900011"
NEW_KK = "6401050101090099"
HEAD_KK = "6401050202100077"


def _record_known_people(agent: EdgeAgent) -> None:
    """A member with every kind of personal data, then a change of each personal field."""
    teller.register_member(
        agent,
        nik=NIK,
        kk_no=KK,
        name="Siti Rahmawati",
        birth_date="1990-06-05",
        desa_code="6401050012",
        phone="081234567890",
        member_id="M-siti",
    )
    for field, value in [
        ("name", "Siti Rahmawati Putri"),
        ("phone", "081298765432"),
        ("address", "Jl. Gotong Royong No. 7, Paser Belengkong"),
        ("nik", NEW_NIK),
        ("kk_no", NEW_KK),
        ("desa_code", "6401050013"),
    ]:
        teller.change_member_field(agent, "M-siti", field, value)


@contextlib.asynccontextmanager
async def running_fanout(config: PartnersConfig, url: str) -> AsyncIterator[FanoutService]:
    service = FanoutService(config, ConnectOptions.for_url(url), settings=FAST)
    task = asyncio.create_task(service.run())
    try:
        await eventually(service.ready.is_set, 30, "the fan-out is subscribed", task)
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, 30)


async def _stream_count(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def _until_outbox_empty(store: CentralStore) -> None:
    await eventually(lambda: not store.outbox(1), 30, "the outbox is published")


async def _synced_world(tmp_path: Path, url: str, store: CentralStore) -> list[EdgeAgent]:
    """Two cooperatives' devices with simulated work and known people, synced to the central."""
    paser = make_device(tmp_path, COOP_A, "kasir-1", 250, seed=21)
    _record_known_people(paser)
    lempake = make_device(tmp_path, COOP_B, "kasir-b", 250, seed=22)
    register(store, paser, lempake)
    for agent in (paser, lempake):
        assert (await replicator(agent, url).sync_once(60)).complete
    store.issue(
        "BeneficiaryEnrolled",
        COOP_A,
        {"kk_no": HEAD_KK, "home_coop": COOP_A, "head_name": "Ahmad Fauzi"},
        "BEN-fauzi",
    )
    store.issue(
        "BeneficiaryEnrolled",
        COOP_B,
        {"kk_no": KK, "home_coop": COOP_B, "head_name": "Rahmat Hidayat"},
        "BEN-rahmat",
    )
    await _until_outbox_empty(store)
    return [paser, lempake]


async def test_partner_streams_carry_no_personal_data_in_clear(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A scan of every message on every partner stream finds no NIK, KK number, name, phone or
    address recorded anywhere; each partner gets exactly its scope, once, with its pseudonyms."""
    url = nats_server.url
    config = parse(PARTNERS)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    agents: list[EdgeAgent] = []
    try:
        async with running_central(store, url):
            agents = await _synced_world(tmp_path, url, store)
            canonical = [
                Envelope.decode(m.data)
                for m in await stream_messages(url, EVENTS, subjects.canonical_wildcard())
            ]
            expected = {
                p.id: {
                    f"{e.device_id}:{e.seq}"
                    for e in canonical
                    if p.allows(e.coop_id, REGISTRY.get(e.type).area, e.type)
                }
                for p in config.partners
            }
            async with running_fanout(config, url) as fanout:
                for p in config.partners:
                    want = len(expected[p.id])
                    await eventually(
                        lambda p=p, want=want: fanout.stats[p.id].forwarded >= want,
                        30,
                        f"{want} events forwarded to {p.id}",
                    )
                assert all(s.withheld == 0 and s.publish_failed == 0 for s in fanout.stats.values())

        secrets = {v for e in canonical for v in pii_of(e)}
        assert {NIK, KK, NEW_NIK, NEW_KK, HEAD_KK, "Siti Rahmawati", "Ahmad Fauzi"} <= secrets
        assert {"081234567890", "Rahmat Hidayat"} <= secrets
        assert len(secrets) > 40  # the simulated members too

        for p in config.partners:
            messages = await stream_messages(url, p.stream, "kop.partner.>")
            ids = [m.headers["Nats-Msg-Id"] for m in messages]
            assert len(ids) == len(set(ids)) and set(ids) == expected[p.id], p.id
            found = leaked(secrets, messages)
            assert found == [], f"personal data in clear on {p.stream}: {found}"
            for m in messages:
                event = codec.decode(m.data)
                area = REGISTRY.get(event["type"]).area
                assert m.subject == (
                    f"kop.partner.{p.id}.{event['coop_id'][:2]}.{event['coop_id'][:4]}."
                    f"{event['coop_id']}.{area}.{event['type']}"
                )
                assert area in p.areas and "sig" not in event and "prev_hash" not in event

        bank = [codec.decode(m.data) for m in await stream_messages(url, "KOP_PARTNER_BANK", ">")]
        key = bytes.fromhex(BANK_KEY)
        siti = next(e for e in bank if e["aggregate_id"] == "M-siti")
        assert siti["type"] == "MemberRegistered"
        assert siti["payload"]["nik"] == pseudonym(key, "nik", NIK)
        changes = {
            e["payload"]["field"]: e["payload"].get("value")
            for e in bank
            if e["aggregate_id"] == "M-siti" and e["type"] == "MemberProfileFieldChanged"
        }
        assert changes == {
            "name": None,
            "phone": None,
            "address": None,
            "nik": pseudonym(key, "nik", NEW_NIK),
            "kk_no": pseudonym(key, "kk", NEW_KK),
            "desa_code": "6401050013",
        }
        [fauzi] = [e for e in bank if e["type"] == "BeneficiaryEnrolled"]
        assert fauzi["payload"] == {"home_coop": COOP_A, "kk_no": pseudonym(key, "kk", HEAD_KK)}
        bulog = [codec.decode(m.data) for m in await stream_messages(url, "KOP_PARTNER_BULOG", ">")]
        [rahmat] = [e for e in bulog if e["type"] == "BeneficiaryEnrolled"]
        # The same KK number is a different pseudonym for each partner.
        assert rahmat["payload"]["kk_no"] == pseudonym(bytes.fromhex(BULOG_KEY), "kk", KK)
        assert rahmat["payload"]["kk_no"] != pseudonym(key, "kk", KK)

        # The reference subscriber prints every event of the bank's stream as JSON lines.
        args = ["partner", "tail", "--nats", url, "--filter", "kop.partner.bank.>", "--json"]
        result = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--idle-exit", "1"])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.output.splitlines()]
        assert {f"{r['device_id']}:{r['seq']}" for r in rows} == expected["bank"]
        assert len(rows) == len(expected["bank"])
        assert any(r["payload"].get("nik") == pseudonym(key, "nik", NIK) for r in rows)

        wildcard = ["partner", "tail", "--nats", url, "--filter", "kop.partner.*.*.6472.>"]
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, [*wildcard, "--since", "1h", "--limit", "5"]
        )
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert len(lines) == 5 and all(" 6472021005 " in line for line in lines)
    finally:
        store.close()
        for a in agents:
            a.close()


async def test_fanout_recreates_a_lost_partner_stream_and_survives_a_server_restart(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A deleted partner stream is made again and a SIGKILLed, restarted server is ridden out:
    events issued afterwards still reach the partner."""
    url = nats_server.url
    config = parse(PARTNERS)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    agent = make_device(tmp_path, COOP_A, "kasir-1", 20, seed=3)
    register(store, agent)
    key = bytes.fromhex(BANK_KEY)
    try:
        async with running_central(store, url), running_fanout(config, url) as fanout:
            assert (await replicator(agent, url).sync_once(60)).complete
            bank = fanout.stats["bank"]
            await eventually(lambda: bank.forwarded + bank.skipped >= 20, 30, "first events")

            before = bank.forwarded
            nc = await nats.connect(url)
            await nc.jetstream().delete_stream("KOP_PARTNER_BANK")
            await nc.close()
            store.issue("BeneficiaryEnrolled", COOP_A, {"kk_no": KK, "home_coop": COOP_A}, "BEN-1")
            await eventually(
                lambda: bank.forwarded > before and bank.resubscribed >= 1, 30, "stream made again"
            )
            assert await _stream_count(url, "KOP_PARTNER_BANK") == 1

            nats_server.kill()
            nats_server.start()
            store.issue(
                "BeneficiaryEnrolled", COOP_A, {"kk_no": HEAD_KK, "home_coop": COOP_A}, "BEN-2"
            )

            async def arrived() -> bool:
                with contextlib.suppress(Exception):
                    messages = await stream_messages(url, "KOP_PARTNER_BANK", ">")
                    kks = {codec.decode(m.data)["payload"].get("kk_no") for m in messages}
                    return {pseudonym(key, "kk", KK), pseudonym(key, "kk", HEAD_KK)} <= kks
                return False

            for _ in range(120):
                if await arrived():
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError("events issued after the restart never reached the partner")
    finally:
        store.close()
        agent.close()


async def test_fanout_command_runs_until_interrupted(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """`kopsync partner fanout` feeds the partner stream, `partner tail` prints it, and both stop
    cleanly on SIGINT."""
    url = nats_server.url
    config_path = tmp_path / "partners.toml"
    (tmp_path / "bank.key").write_text(BANK_KEY + "\n")
    config_path.write_text(
        '[[partner]]\nid = "bank"\nhmac_key_file = "bank.key"\nregions = ["64"]\nareas = ["*"]\n'
    )
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    agent = make_device(tmp_path, COOP_A, "kasir-1", 30, seed=4)
    register(store, agent)
    cmd = [sys.executable, "-m", "kopsync", "partner", "fanout", "--nats", url]
    proc = subprocess.Popen(
        [*cmd, "--config", str(config_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        async with running_central(store, url):
            assert (await replicator(agent, url).sync_once(60)).complete
            for _ in range(200):
                with contextlib.suppress(Exception):
                    # the device's 30 events (and the central's DeviceRegistered of it)
                    if await _stream_count(url, "KOP_PARTNER_BANK") >= 30:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the fan-out command did not feed the partner stream")
        await _tail_until_interrupted(url, lines=30)
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.to_thread(proc.communicate, timeout=20)
        assert proc.returncode == 0, err.decode()
        assert b"fanout_stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        store.close()
        agent.close()


async def _tail_until_interrupted(url: str, lines: int) -> None:
    """`kopsync partner tail` (no limit) prints the events, then exits 0 on Ctrl-C (SIGINT)."""
    cmd = [sys.executable, "-m", "kopsync", "partner", "tail", "--nats", url]
    tail = subprocess.Popen(
        [*cmd, "--filter", "kop.partner.bank.>"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert tail.stdout is not None
        for _ in range(lines):
            line = await asyncio.wait_for(asyncio.to_thread(tail.stdout.readline), 20)
            assert line.startswith(b"20") and b" 6401050012 " in line, line
        tail.send_signal(signal.SIGINT)
        _, err = await asyncio.to_thread(tail.communicate, timeout=10)
        assert tail.returncode == 0 and err == b"", err.decode()
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()


def test_partner_cli_errors_are_one_line(tmp_path: Path) -> None:
    """A bad config, filter or unreachable server is one line on stderr, never a traceback."""
    runner = CliRunner()
    bad = tmp_path / "p.toml"
    bad.write_text('[[partner]]\nid = "bank"\nregions = ["62"]\nareas = ["aid"]\n')
    cases = [  # bad input exits 2; an unreachable server is transient and exits 4
        (["partner", "check", "--config", str(bad)], 2),
        (["partner", "fanout", "--nats", "nats://127.0.0.1:1", "--config", str(bad)], 2),
        (["partner", "tail", "--nats", "nats://127.0.0.1:1", "--filter", "kop.ev.>"], 2),
        (["partner", "tail", "--nats", "nats://127.0.0.1:1", "--filter", "kop.partner.bank.>"], 4),
    ]
    for args, code in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == code, (args, result.output)
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    key = tmp_path / "k.key"
    assert runner.invoke(cli, ["partner", "keygen", str(key)]).exit_code == 0
    assert len(bytes.fromhex(key.read_text().strip())) == 32 and key.stat().st_mode & 0o077 == 0
    again = runner.invoke(cli, ["partner", "keygen", str(key)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
