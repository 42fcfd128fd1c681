"""Hostile input against a real nats-server: one device's garbage cannot stall ingest for the
others, and what ingest cannot process is quarantined and acknowledged, never looped."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import msgpack
import nats
from support.nats import NatsServer
from support.replication import (
    COOP_A,
    COOP_B,
    eventually,
    make_device,
    record,
    register,
    replicator,
    running_central,
)

from central_projector.ingest.service import CentralService
from central_projector.record.store import CentralStore
from sync_core import subjects
from sync_core.batch import encode_batch
from sync_core.protocol import INGEST_CONSUMER, INGEST_STREAM

POISON = msgpack.packb({"seq": 2**63})  # unsigned, and beyond every 64-bit column


async def drained(service: CentralService, timeout_s: float = 60) -> None:
    """Until ingest has taken (or the over-budget purge removed) every upload in KOP_INGEST."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = await service.js.consumer_info(INGEST_STREAM, INGEST_CONSUMER)
        if not info.num_pending and not info.num_ack_pending:
            return
        assert time.monotonic() < deadline, f"KOP_INGEST not drained: {info}"
        await asyncio.sleep(0.1)


def _stored_bytes(db: Path) -> int:
    """The SQLite store's size as its readers see it (the WAL's pages included)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])


async def publish_all(url: str, subject: str, bodies: list[bytes]) -> None:
    """Publish ``bodies`` to JetStream pipelined, as a flooding device would."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        acks = [js.publish(subject, body, timeout=60) for body in bodies]
        for i in range(0, len(acks), 256):
            await asyncio.gather(*acks[i : i + 256])
    finally:
        await nc.close()


class FailsFor:
    """A store that raises ``error`` for the uploads of one device: an input that makes
    ingest fail (a bug it triggers, or a database that refuses its values)."""

    def __init__(self, store: CentralStore, device_id: str, error: Exception) -> None:
        self.store = store
        self.device_id = device_id
        self.error = error
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def process_upload(self, subject: str, data: bytes, now_ms: int, *fence: Any) -> Any:
        if subject.endswith(f".{self.device_id}"):
            self.calls += 1
            raise self.error
        return self.store.process_upload(subject, data, now_ms, *fence)


async def test_poison_uploads_leave_a_good_device_syncing(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """After 1,030 poison uploads of one device, a good device's next upload commits in 10 s."""
    attacker = make_device(tmp_path, COOP_A, "penyerang-1")
    good = make_device(tmp_path, COOP_B, "kasir-1", 5)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, attacker, good)
    try:
        async with running_central(store, nats_server.url) as service:
            poison = encode_batch(COOP_A, attacker.device_id, [POISON])
            await publish_all(
                nats_server.url, subjects.upload(COOP_A, attacker.device_id), [poison] * 1030
            )
            record(good, 5)
            started = time.monotonic()
            report = await replicator(good, nats_server.url).sync_once(10)
            assert report.complete and report.confirmed_seq == 10
            took = time.monotonic() - started
            assert store.device_status()[1]["committed_seq"] == 10
            await drained(service)
            assert service.stats.ingest_errors == 0
            assert store.device_status()[0]["committed_seq"] == 0
            # The attacker's budget: 100 records at once, then about one a second.
            rows = store.quarantined(attacker.device_id)
            assert len(rows) <= 100 + took + 30
            assert {r["reason"] for r in rows} == {"undecodable", "over_budget"}
            skipped = service.stats.over_budget
            print(f"poison: the good device synced in {took:.1f} s behind 1,030 poison uploads; "
                  f"{len(rows)} quarantine rows, {skipped} over budget")  # fmt: skip
    finally:
        store.close()
        attacker.close()
        good.close()


async def test_an_upload_ingest_cannot_process_is_quarantined_and_acked(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """An upload that makes ingest fail is quarantined as unprocessable after one delivery
    (after a bounded number when the database says it is unavailable), never looped."""
    import sqlalchemy as sa

    bad = make_device(tmp_path, COOP_A, "rusak-1", 3)
    good = make_device(tmp_path, COOP_B, "kasir-1", 4)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, bad, good)
    for device, error in (
        (bad, OverflowError("Python int too large to convert to SQLite INTEGER")),
        (bad, sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))),
    ):
        failing = FailsFor(store, device.device_id, error)
        before = len(store.quarantined(device.device_id))
        async with running_central(failing, nats_server.url) as service:  # type: ignore[arg-type]
            with_bad = asyncio.create_task(replicator(device, nats_server.url).sync_once(5))
            await eventually(
                lambda: service.stats.quarantined_by.get("unprocessable", 0) >= 1,
                60,
                "the failing upload is quarantined",
            )
            assert (await replicator(good, nats_server.url).sync_once(30)).complete
            with_bad.cancel()
            await asyncio.gather(with_bad, return_exceptions=True)
        rows = store.quarantined(device.device_id)[before:]
        assert {r["reason"] for r in rows} == {"unprocessable"}
        assert failing.calls == (1 if isinstance(error, OverflowError) else 5) * len(rows)
    assert store.device_status()[0]["committed_seq"] == 0
    assert store.device_status()[1]["committed_seq"] == 4
    store.close()
    bad.close()
    good.close()


async def test_an_oversized_clock_hello_leaves_every_device_syncing(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Hellos with a clock 23.5 h ahead and a counter at 2**63-6 (or beyond 64 bits), from an
    unregistered and from a registered device, move nothing: every device still syncs and
    `kopsync central issue` still works."""
    from click.testing import CliRunner

    from kopsync.cli.main import cli
    from sync_core import codec
    from sync_core.protocol import HelloReply

    db = f"sqlite:///{tmp_path / 'central.db'}"
    devices = [
        make_device(tmp_path, coop, f"kasir-{i}", 4) for i, coop in ((1, COOP_A), (2, COOP_B))
    ]
    store = CentralStore(db)
    register(store, *devices)
    ahead = int(time.time() * 1000) + 23 * 3_600_000 + 1_800_000
    try:
        async with running_central(store, nats_server.url):
            nc = await nats.connect(nats_server.url)
            try:
                for device_id, counter in (
                    ("penyusup-1", 2**63 - 6),
                    ("kasir-1", 2**63 - 6),
                    ("penyusup-1", 2**64 - 3),
                ):
                    body = codec.encode({"v": 1, "coop_id": COOP_A, "device_id": device_id,
                                         "head_seq": 0, "hlc": [ahead, counter]})  # fmt: skip
                    msg = await nc.request(subjects.hello(COOP_A, device_id), body, timeout=10)
                    reply = HelloReply.decode(msg.data)
                    if counter >= 2**63:
                        assert not isinstance(reply, HelloReply)  # refused: beyond 64 bits
                    else:
                        assert isinstance(reply, HelloReply)
                        assert reply.hlc.wall < ahead and reply.hlc.counter < 2**31
            finally:
                await nc.close()
            # the devices' registrations on the downlink before they sync
            await eventually(lambda: not store.outbox(1), 30, "the outbox is published")
            for d in devices:
                record(d, 3)
                report = await replicator(d, nats_server.url).sync_once(30)
                assert report.complete and report.confirmed_seq == d.head().seq
                assert d.head().hlc.wall < ahead
            args = ["central", "issue", "CardBlocked", "--coop", COOP_A, "--aggregate", "KHBS-7",
                    "--json", '{"reason": "hilang"}', "--db", db]  # fmt: skip
            args += ["--nats", nats_server.url]
            result = await asyncio.to_thread(CliRunner().invoke, cli, args)
            assert result.exit_code == 0, result.output
            report = await replicator(devices[0], nats_server.url).sync_once(30)
            assert report.complete and report.downloaded == 1
        assert [r["device_id"] for r in store.device_status()] == ["kasir-1", "kasir-2"]
    finally:
        store.close()
        for d in devices:
            d.close()


async def test_a_flood_of_garbage_costs_bounded_store_and_the_others_sync(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """One device floods 3,000 garbage uploads and one of 500,000 empty events: the store grows
    by well under 1 MB, its quarantine rows stay within its budget, and a good device's
    uploads commit meanwhile."""
    attacker = make_device(tmp_path, COOP_A, "penyerang-1")
    good = make_device(tmp_path, COOP_B, "kasir-1", 5)
    db = tmp_path / "central.db"
    store = CentralStore(f"sqlite:///{db}")
    register(store, attacker, good)
    subject = subjects.upload(COOP_A, attacker.device_id)
    try:
        async with running_central(store, nats_server.url) as service:
            assert (await replicator(good, nats_server.url).sync_once(30)).complete
            await eventually(lambda: not store.outbox(1), 30, "outbox published")
            size = _stored_bytes(db)
            started = time.monotonic()
            bomb = encode_batch(COOP_A, attacker.device_id, [b""] * 500_000)
            junk = [encode_batch(COOP_A, attacker.device_id, [POISON] * 40)] * 3000
            flood = asyncio.create_task(publish_all(nats_server.url, subject, [bomb, *junk]))
            record(good, 5)
            good_started = time.monotonic()
            report = await replicator(good, nats_server.url).sync_once(30)
            assert report.complete and report.confirmed_seq == 10
            good_took = time.monotonic() - good_started
            await flood
            await drained(service)
            took = time.monotonic() - started
            rows = store.quarantined(attacker.device_id)
            assert len(rows) <= 100 + took + 30
            assert rows[0]["reason"] == "oversize" and "500000 events" in rows[0]["detail"]
            assert {r["reason"] for r in rows[1:]} == {"garbage_batch", "over_budget"}
            await eventually(lambda: not store.outbox(1), 30, "outbox published")
            grown = _stored_bytes(db) - size
            assert grown < 1024 * 1024
            assert service.stats.over_budget > 0
            print(f"flood: the good device synced in {good_took:.1f} s during the flood; "
                  f"{service.stats.messages - 1} of 3,001 attacker uploads taken (the rest "
                  f"purged) in {took:.1f} s, "
                  f"{len(rows)} quarantine rows, store grew {grown:,} bytes")  # fmt: skip
    finally:
        store.close()
        attacker.close()
        good.close()
