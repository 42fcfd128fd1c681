"""What an authorised device may do on the secured server, and each thing it must not: publish
as another cooperative, read another's downlink or replies, widen its consumer, or aim the
server's answers at a stream through a reply subject (:mod:`support.permissions`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from support.nats import NatsServer
from support.permissions import (
    DAPI,
    LEMPAKE,
    PASER,
    WAIT_S,
    Secured,
    answer_hellos,
    messages_on,
)

from central_projector.ingest.streams import DOWN, EVENTS, INGEST, StreamSettings, ensure_streams
from sync_core import subjects
from sync_core.protocol import (
    device_inbox_prefix,
    downlink_consumer_name,
)

pytestmark = pytest.mark.timeout(60)


# --- an authorised device works ---------------------------------------------------------------


async def test_device_uploads_says_hello_and_reads_its_own_downlink(
    secured: Secured, watch: Any
) -> None:
    """A device uploads, gets its hello answered and pulls its cooperative's downlink."""
    central = await watch("central")
    await answer_hellos(central.nc)
    dev = await watch("lempake-1")
    js = dev.nc.jetstream(prefix=DAPI)

    ack = await js.publish(subjects.upload(LEMPAKE, "lempake-1"), b"batch", timeout=WAIT_S)
    assert ack.stream == INGEST
    reply = await dev.nc.request(subjects.hello(LEMPAKE, "lempake-1"), b"{}", timeout=WAIT_S)
    assert reply.data == f"hello {subjects.hello(LEMPAKE, 'lempake-1')}".encode()

    info = await js.stream_info(DOWN)
    assert info.state.last_seq >= 2
    name = downlink_consumer_name("lempake-1")
    config = ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=1,
        ack_policy=AckPolicy.NONE,
        filter_subject=subjects.downlink(LEMPAKE),
        inactive_threshold=60.0,
        mem_storage=True,
    )
    await js.add_consumer(DOWN, config, timeout=WAIT_S)
    sub = await js.pull_subscribe_bind(consumer=name, stream=DOWN)
    msgs = await sub.fetch(10, timeout=WAIT_S)
    assert {m.subject for m in msgs} == {subjects.downlink(LEMPAKE)}
    assert b"down 6472021005" in [m.data for m in msgs]
    await sub.unsubscribe()
    assert await js.delete_consumer(DOWN, name)
    assert dev.errors == []


# --- what a device must not do ----------------------------------------------------------------


async def test_device_cannot_publish_as_another_cooperative(secured: Secured, watch: Any) -> None:
    """Uploads and hellos under another cooperative or device are refused and never stored."""
    dev = await watch("lempake-1")
    forged = [
        subjects.upload(PASER, "paser-1"),  # another cooperative's device
        subjects.upload(PASER, "lempake-1"),  # itself, claiming the other cooperative
        subjects.upload(LEMPAKE, "lempake-2"),  # a colleague in its own cooperative
    ]
    for subject in forged:
        with pytest.raises(nats.errors.TimeoutError):  # no PubAck: the server dropped it
            await dev.nc.jetstream(prefix=DAPI).publish(subject, b"forged batch", timeout=0.5)
        await dev.denied("publish", subject)
    hello = subjects.hello(PASER, "paser-1")
    await dev.nc.publish(hello, b"{}")
    await dev.denied("publish", hello)
    for subject in forged:
        assert await messages_on(secured, INGEST, subject) == 0


async def test_device_cannot_read_another_cooperatives_downlink(
    secured: Secured, watch: Any
) -> None:
    """No consumer on the other cooperative's downlink, no subscription, no direct read."""
    dev = await watch("lempake-1")
    other = subjects.downlink(PASER)
    # Its own consumer name with the other cooperative's filter, and the other device's name.
    for name in (downlink_consumer_name("lempake-1"), downlink_consumer_name("paser-1")):
        config = ConsumerConfig(name=name, filter_subject=other, ack_policy=AckPolicy.NONE)
        with pytest.raises(nats.errors.TimeoutError):
            await dev.nc.jetstream(prefix=DAPI).add_consumer(DOWN, config, timeout=0.5)
        await dev.denied("publish", f"{DAPI}.CONSUMER.CREATE.{DOWN}.{name}.{other}")
    # A consumer on its own name with no filter (the whole stream) is refused too.
    unfiltered = f"{DAPI}.CONSUMER.CREATE.{DOWN}.{downlink_consumer_name('lempake-1')}"
    await dev.nc.publish(unfiltered, b"{}", reply=f"{device_inbox_prefix('lempake-1')}.x")
    await dev.denied("publish", unfiltered)
    # Reading the message store directly, by subject.
    for api in (DAPI, "$JS.API"):  # the imported API, and its own account's (none)
        for get in (f"{api}.DIRECT.GET.{DOWN}", f"{api}.STREAM.MSG.GET.{DOWN}"):
            await dev.nc.publish(get, json.dumps({"last_by_subj": other}).encode())
            await dev.denied("publish", get)
    # Pulling from a consumer the other cooperative's device made.
    central = await watch("central")
    theirs = ConsumerConfig(
        name=downlink_consumer_name("paser-1"), filter_subject=other, ack_policy=AckPolicy.NONE
    )
    await central.nc.jetstream().add_consumer(DOWN, theirs)
    pull = f"{DAPI}.CONSUMER.MSG.NEXT.{DOWN}.{downlink_consumer_name('paser-1')}"
    await dev.nc.publish(pull, b'{"batch": 1}', reply=f"{device_inbox_prefix('lempake-1')}.p")
    await dev.denied("publish", pull)
    # Plain subscriptions to the downlink subjects.
    got: list[Msg] = []

    async def keep(msg: Msg) -> None:
        got.append(msg)

    for subject in (other, "kop.down.>", ">"):
        await dev.nc.subscribe(subject, cb=keep)
        await dev.denied("subscription", subject)
    await central.nc.publish(other, b"for paser only")
    await central.nc.flush()
    await asyncio.sleep(0.2)
    assert got == []
    assert await central.nc.jetstream().delete_consumer(DOWN, downlink_consumer_name("paser-1"))


async def test_device_cannot_widen_its_consumer_through_the_request_body(
    secured: Secured, watch: Any
) -> None:
    """On its permitted create subject, a body naming another filter or consumer is refused."""
    dev = await watch("lempake-1")
    name = downlink_consumer_name("lempake-1")
    subject = f"{DAPI}.CONSUMER.CREATE.{DOWN}.{name}.{subjects.downlink(LEMPAKE)}"
    other = subjects.downlink(PASER)
    bodies = [
        {"name": name, "filter_subject": other},
        {"name": name, "filter_subjects": [other]},
        {"name": name, "filter_subjects": [subjects.downlink(LEMPAKE), other]},
        {"name": name},  # no filter: the whole stream
        {"name": downlink_consumer_name("paser-1"), "filter_subject": other},
    ]
    for config in bodies:
        request = {"stream_name": DOWN, "config": {"ack_policy": "none", **config}}
        reply = await dev.nc.request(subject, json.dumps(request).encode(), timeout=WAIT_S)
        answer = json.loads(reply.data)
        assert answer.get("error", {}).get("code") == 400, (config, answer)
    assert dev.errors == []
    consumers = await (await watch("central")).nc.jetstream().consumers_info(DOWN)
    assert [c.name for c in consumers if c.name.startswith("down-")] == []


async def test_device_cannot_read_another_connections_replies(secured: Secured, watch: Any) -> None:
    """Other inboxes, the default one and wildcards are refused; a reply reaches only the asker."""
    central = await watch("central")
    await answer_hellos(central.nc)
    spy = await watch("lempake-2")
    got: list[Msg] = []

    async def keep(msg: Msg) -> None:
        got.append(msg)

    for subject in (f"{device_inbox_prefix('lempake-1')}.>", "_INBOX.>", "*.>", ">"):
        await spy.nc.subscribe(subject, cb=keep)
        await spy.denied("subscription", subject)
    asker = await watch("lempake-1")
    reply = await asker.nc.request(subjects.hello(LEMPAKE, "lempake-1"), b"{}", timeout=WAIT_S)
    assert reply.subject.startswith(device_inbox_prefix("lempake-1") + ".")
    await spy.nc.flush()
    assert got == []
    # With the default prefix a device could not even receive its own replies.
    careless = await watch("lempake-1", inbox="_INBOX")
    with pytest.raises(nats.errors.TimeoutError):
        await careless.nc.request(subjects.hello(LEMPAKE, "lempake-1"), b"{}", timeout=0.5)
    await careless.denied("subscription", "_INBOX.", prefix=True)


async def test_device_push_consumer_cannot_smuggle_its_downlink_into_uploads(
    secured: Secured, watch: Any
) -> None:
    """A push consumer delivering to another device's upload subject stores nothing."""
    dev = await watch("lempake-1")
    target = subjects.upload(PASER, "paser-1")
    name = downlink_consumer_name("lempake-1")
    config = ConsumerConfig(
        name=name,
        filter_subject=subjects.downlink(LEMPAKE),
        deliver_subject=target,
        ack_policy=AckPolicy.NONE,
    )
    # The server allows the create (the body is not a subject it can check) ...
    await dev.nc.jetstream(prefix=DAPI).add_consumer(DOWN, config, timeout=WAIT_S)
    await asyncio.sleep(0.5)
    # ... but delivers only to a literal subscription, which nobody may hold on kop.up.
    assert await messages_on(secured, INGEST, target) == 0
    assert await dev.nc.jetstream(prefix=DAPI).delete_consumer(DOWN, name)


# --- reply subjects ---------------------------------------------------------------------------

# Where a device would like the server to write: another device's uploads, another
# cooperative's downlink, the verified events, the quarantine.
REDIRECT_TARGETS = [
    (INGEST, subjects.upload(PASER, "paser-1")),
    (DOWN, subjects.downlink(PASER)),
    (EVENTS, subjects.canonical(PASER, "aid", "AidRedeemed")),
    ("KOP_QUARANTINE", subjects.quarantine("undecodable")),
]


async def _aim_answers_at(dev: Client, api: str, targets: list[str]) -> None:
    """Ask every service a device can ask, naming each target as the reply subject, then
    ask each once more normally (its answer comes after the earlier ones)."""
    name = downlink_consumer_name("lempake-1")
    requests = [
        (f"{api}.STREAM.INFO.{DOWN}", b""),
        (f"{api}.CONSUMER.INFO.{DOWN}.{name}", b""),
        (f"{api}.CONSUMER.MSG.NEXT.{DOWN}.{name}", b'{"batch": 5, "no_wait": true}'),
        (subjects.hello(LEMPAKE, "lempake-1"), b"{}"),
    ]
    for subject, body in requests:
        for target in targets:
            await dev.publish(subject, body, reply=target)
    for subject, body in requests[:2] + requests[3:]:
        await dev.request(subject, body, timeout=WAIT_S)


async def _downlink_consumer(js: Any) -> None:
    config = ConsumerConfig(
        name=downlink_consumer_name("lempake-1"),
        filter_subject=subjects.downlink(LEMPAKE),
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        inactive_threshold=60.0,
    )
    await js.add_consumer(DOWN, config, timeout=WAIT_S)


async def test_device_cannot_aim_answers_at_streams_through_reply_subjects(
    secured: Secured, watch: Any
) -> None:
    """Whatever reply subject a device names, the JetStream API's answers, the messages a pull
    delivers and the central's hello reply land in no stream: not another device's upload
    subject, not another cooperative's downlink (they cross accounts as _R_ subjects)."""
    central = await watch("central")
    await answer_hellos(central.nc)
    dev = await watch("lempake-1")
    js = dev.nc.jetstream(prefix=DAPI)
    await _downlink_consumer(js)
    before = [await messages_on(secured, stream, t) for stream, t in REDIRECT_TARGETS]
    await _aim_answers_at(dev.nc, DAPI, [t for _, t in REDIRECT_TARGETS])
    after = [await messages_on(secured, stream, t) for stream, t in REDIRECT_TARGETS]
    assert after == before
    assert await js.delete_consumer(DOWN, downlink_consumer_name("lempake-1"))


async def test_in_one_shared_account_the_same_requests_write_into_streams(
    nats_server: NatsServer,
) -> None:
    """Control: on a server with one account (the layout before), the same requests make the
    server write into another device's uploads and another cooperative's downlink."""
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamSettings(budget_bytes=512 * 1024**2))
        await js.publish(subjects.downlink(LEMPAKE), b"down")
        await answer_hellos(nc)
        await _downlink_consumer(js)
        await _aim_answers_at(nc, "$JS.API", [t for _, t in REDIRECT_TARGETS[:2]])
        for stream, target in REDIRECT_TARGETS[:2]:
            info = await js.stream_info(stream, subjects_filter=target)
            assert sum((info.state.subjects or {}).values()) >= 3, target
    finally:
        await nc.close()
