"""Bad uploads are quarantined with their reason, visible centrally and on KOP_QUARANTINE, and the
service keeps going: a valid upload afterwards is committed."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats
from support.nats import NatsServer, free_ports
from support.replication import (
    COOP_A,
    COOP_B,
    eventually,
    make_device,
    record,
    register,
    replicator,
    running_central,
    stream_messages,
)
from support.secured import deployed_server_conf

from central_projector.ingest.streams import QUARANTINE
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from sync_core import subjects
from sync_core.batch import MAX_BATCH_BYTES, encode_batch
from sync_core.envelope import Envelope, seal
from sync_core.signing import DeviceKey


def next_event(agent: EdgeAgent, key: DeviceKey | None = None, **changes: Any) -> bytes:
    """The bytes of an envelope that would follow the device's head, with ``changes`` applied."""
    head = agent.head()
    [(_, data)] = list(agent.store.raw_events(head.seq - 1))
    last = Envelope.decode(bytes(data))
    fields: dict[str, Any] = {
        "event_id": f"forged-{head.seq + 1}-{len(changes)}",
        "coop_id": last.coop_id,
        "device_id": last.device_id,
        "seq": head.seq + 1,
        "hlc": replace(last.hlc, counter=last.hlc.counter + 1),
        "type": last.type,
        "version": last.version,
        "aggregate_id": last.aggregate_id,
        "payload": last.payload,
        "prev_hash": head.hash,
    }
    return seal(key or agent.key, **(fields | changes)).encode()


async def test_bad_uploads_are_quarantined_with_reasons_and_ingest_keeps_running(
    nats_server_factory: Any, tmp_path: Path
) -> None:
    """Forged signature, broken chain, other coop, garbage, unknown type, oversize: quarantined."""
    # The deployed configuration (max_payload 8 MB lets an oversize upload reach ingest), with
    # its store_dir left to the fixture's -sd.
    leaf_port, port, monitor_port = free_ports(3)
    config = deployed_server_conf(tmp_path / "nats", leaf_port)
    server: NatsServer = nats_server_factory(config=config, ports=(port, monitor_port))
    agent = make_device(tmp_path, COOP_A, "kasir-1", 20)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    subject = subjects.upload(COOP_A, agent.device_id)
    bad: dict[str, bytes] = {
        "bad_signature": encode_batch(COOP_A, "kasir-1", [next_event(agent, DeviceKey.generate())]),
        "broken_chain": encode_batch(COOP_A, "kasir-1", [next_event(agent, prev_hash=b"\0" * 32)]),
        "coop_mismatch": encode_batch(COOP_A, "kasir-1", [next_event(agent, coop_id=COOP_B)]),
        "undecodable": b"\x00 bukan msgpack, bukan zstd",
        "unknown_type": encode_batch(COOP_A, "kasir-1", [next_event(agent, type="Teleported")]),
        "oversize": encode_batch(COOP_A, "kasir-1", [os.urandom(MAX_BATCH_BYTES + 4096)]),
    }
    try:
        async with running_central(store, server.url) as service:
            assert (await replicator(agent, server.url).sync_once(60)).complete
            nc = await nats.connect(server.url)
            try:
                js = nc.jetstream()
                for data in bad.values():
                    await js.publish(subject, data)
            finally:
                await nc.close()
            await eventually(lambda: service.stats.quarantined == len(bad), 60, "all quarantined")

            reasons = sorted(q["reason"] for q in store.quarantined())
            assert reasons == sorted(bad)
            assert len(store.quarantined("kasir-1")) == len(bad)
            [row] = store.device_status()
            # ingest.py counts refusals per device, except those of a whole batch (undecodable,
            # oversize), which only the quarantine table and stream show.
            assert row["quarantined"] >= len(bad) - 2 and row["committed_seq"] == 20

            # The service is still up: the device's next real events are committed.
            record(agent, 5)
            report = await replicator(agent, server.url).sync_once(60)
            assert report.complete and report.confirmed_seq == 25
            [(_, newest)] = list(agent.store.raw_events(24))
            assert store.committed("kasir-1")[-1][1] == bytes(newest)

            await eventually(lambda: not store.outbox(1), 60, "outbox published")
            msgs = await stream_messages(server.url, QUARANTINE, subjects.quarantine_wildcard())
            by_reason = {m.headers["Kop-Reason"]: m for m in msgs}
            assert sorted(by_reason) == sorted(bad)
            for reason, data in bad.items():
                m = by_reason[reason]
                assert m.subject == subjects.quarantine(reason)
                assert m.headers["Kop-Subject"] == subject and m.headers["Kop-Detail"]
                if reason in ("undecodable", "oversize"):
                    assert m.data == data  # the whole message is kept as it came
    finally:
        store.close()
        agent.close()


async def test_uploads_of_an_unregistered_device_wait_and_commit_on_registration(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """An unregistered device's uploads wait in quarantine and are committed once it is added."""
    agent = make_device(tmp_path, COOP_A, "kasir-baru", 50)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        async with running_central(store, nats_server.url) as service:
            report = await replicator(agent, nats_server.url).sync_once(30)
            assert (report.uploaded, report.registered, report.complete) == (50, False, False)
            await eventually(lambda: service.stats.quarantined == 1, 60, "held in quarantine")
            assert store.quarantined()[0]["reason"] == "unregistered_device"

            register(store, agent)
            assert store.committed("kasir-baru") == [
                (seq, bytes(data)) for seq, data in agent.store.raw_events()
            ]
            report = await replicator(agent, nats_server.url).sync_once(30)
            assert report.complete and report.uploaded == 0
    finally:
        store.close()
        agent.close()


async def test_malformed_hello_gets_an_error_reply_and_the_service_keeps_answering(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Garbage on the hello subject is answered with an error map, never a crash."""
    from sync_core import codec

    agent = make_device(tmp_path, COOP_A, "kasir-1", 3)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    try:
        async with running_central(store, nats_server.url):
            nc = await nats.connect(nats_server.url)
            try:
                hello = subjects.hello(COOP_A, "kasir-1")
                for body in (b"\xc1", codec.encode({"v": 1, "coop_id": COOP_B}), codec.encode([1])):
                    reply = codec.decode((await nc.request(hello, body, timeout=10)).data)
                    assert reply["v"] == 1 and reply["error"]
            finally:
                await nc.close()
            assert (await replicator(agent, nats_server.url).sync_once(30)).complete
    finally:
        store.close()
        agent.close()
