"""NATS security against the real, pinned nats-server started with the generated configuration.

The server runs ``deploy/nats/auth/server.conf`` (which includes the deployed
``nats-server.conf`` and the ``users.conf`` that ``kopsync admin`` writes); every user is made
by the ``kopsync admin`` commands, and every client is a plain nats-py client connected with
its own nkey seed and inbox prefix (``sync_core.transport.options.connect_options``). Each denial is
observed as the server reports it (``permissions violation`` / ``authorization violation``)
and, where it matters, by looking at what the streams hold afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats.errors
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from support.nats import NatsServer
from support.secured import deployed_server_conf

from central_projector.ingest.streams import DOWN, EVENTS, INGEST, StreamSettings, ensure_streams
from central_projector.record.store import CentralStore
from central_projector.record.tables import devices, events
from central_projector.security.policy import partner_stream, partner_subjects
from kopsync.cli.main import cli
from sync_core import protocol, subjects
from sync_core.protocol import (
    DEVICE_JS_API,
    device_inbox_prefix,
    downlink_consumer_name,
    partner_inbox_prefix,
)
from sync_core.transport.options import connect_options

DEPLOY = Path(__file__).parents[2] / "deploy" / "nats"
DAPI = DEVICE_JS_API  # a device's view of the central account's JetStream API
# Two cooperatives from the brief (Lempake in Samarinda, Paser Belengkong in Paser); the
# village codes are made up within their regencies.
LEMPAKE = "6472021005"
PASER = "6401050012"
DEVICES = {"lempake-1": LEMPAKE, "lempake-2": LEMPAKE, "lempake-3": LEMPAKE, "paser-1": PASER}
PARTNERS = ("bank-kalteng", "bulog")
WAIT_S = 5.0  # upper bound for anything the server answers at once

pytestmark = pytest.mark.timeout(60)


@dataclass
class Secured:
    """A running server with the generated users, its files and every user's seed."""

    server: NatsServer
    auth: Path
    db_url: str
    seeds: dict[str, Path] = field(default_factory=dict)


def admin(*args: str) -> dict[str, Any]:
    """Run ``kopsync admin ARGS --json`` in-process; return its JSON output."""
    result = CliRunner().invoke(cli, ["admin", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def reload(server: NatsServer) -> None:
    """``kopsync admin reload --pid``: the server re-reads its configuration (SIGHUP)."""
    assert server.pid is not None
    result = CliRunner().invoke(cli, ["admin", "reload", "--pid", str(server.pid)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """Users made by kopsync admin, a server on the generated config, the kopsync streams."""
    root = tmp_path_factory.mktemp("security")
    conf_dir = root / "nats"
    (conf_dir / "auth").mkdir(parents=True)
    # The deployed files; store_dir is left to the server fixture's -sd.
    deployed_server_conf(conf_dir)
    shutil.copy(DEPLOY / "auth" / "server.conf", conf_dir / "auth" / "server.conf")
    auth = conf_dir / "auth" / "users.conf"
    db_url = f"sqlite:///{root / 'central.db'}"
    seeds: dict[str, Path] = {}

    seeds["central"] = root / "central.nk"
    assert CliRunner().invoke(cli, ["central", "migrate", "--db", db_url]).exit_code == 0
    admin("central-user", "--auth", str(auth), "--out", str(seeds["central"]))
    for device_id, coop_id in DEVICES.items():
        out = root / device_id
        doc = admin("device", "add", "--coop", coop_id, "--device", device_id,
                    "--out", str(out), "--db", db_url, "--auth", str(auth))  # fmt: skip
        seeds[device_id] = Path(doc["seed_file"])
    for partner_id in PARTNERS:
        seeds[partner_id] = root / f"{partner_id}.nk"
        admin("partner", "add", "--partner", partner_id, "--out", str(seeds[partner_id]),
              "--auth", str(auth))  # fmt: skip

    server = NatsServer(root / "server", config=conf_dir / "auth" / "server.conf")
    found = Secured(server=server.start(), auth=auth, db_url=db_url, seeds=seeds)
    try:
        asyncio.run(_prepare(found))
        yield found
    finally:
        found.server.kill()


async def _prepare(s: Secured) -> None:
    """As the central: the kopsync streams, two partner streams, a message in each."""
    nc = await _connect(s, "central")
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamSettings(budget_bytes=512 * 1024**2))
        for partner_id in PARTNERS:
            config = StreamConfig(
                name=partner_stream(partner_id), subjects=[partner_subjects(partner_id)]
            )
            await js.add_stream(config)
            await js.publish(f"kop.partner.{partner_id}.64.6472.{LEMPAKE}.shop.SaleRecorded", b"p")
        for coop_id in (LEMPAKE, PASER):
            await js.publish(subjects.downlink(coop_id), f"down {coop_id}".encode())
        await js.publish(subjects.canonical(LEMPAKE, "shop", "SaleRecorded"), b"verified")
    finally:
        await nc.close()


async def _connect(s: Secured, user: str, *, inbox: str | None = None, **extra: Any) -> Client:
    """A plain nats-py client of ``user`` (its own seed and, by default, its inbox prefix)."""
    if inbox is None and user in DEVICES:
        inbox = device_inbox_prefix(user)
    elif inbox is None and user in PARTNERS:
        inbox = partner_inbox_prefix(user)
    nc = Client()
    options: dict[str, Any] = {
        "servers": [s.server.url],
        "allow_reconnect": False,
        "connect_timeout": 2,
        **connect_options(str(s.seeds[user]), inbox),
        **extra,
    }
    await asyncio.wait_for(nc.connect(**options), WAIT_S)
    return nc


class Watch:
    """A client plus the asynchronous errors the server sent it."""

    def __init__(self, nc: Client, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    async def denied(self, action: str, subject: str, *, prefix: bool = False) -> None:
        """Assert the server refused ``action`` ("publish"/"subscription") on ``subject``
        (on a subject starting with it, if ``prefix``)."""
        await self.nc.flush(timeout=WAIT_S)
        # The -ERR may come after the PONG of that flush (about one time in ten): wait for it.
        wanted = f'permissions violation for {action} to "{subject.lower()}'
        wanted += "" if prefix else '"'
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while not any(wanted in e for e in self.errors):
            assert asyncio.get_running_loop().time() < deadline, (wanted, self.errors)
            await asyncio.sleep(0.01)


@pytest.fixture
async def watch(secured: Secured) -> AsyncIterator[Any]:
    """``await watch(user)``: a connected client of ``user`` with its errors recorded."""
    opened: list[Client] = []

    async def factory(user: str, inbox: str | None = None) -> Watch:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await _connect(secured, user, inbox=inbox, error_cb=on_error)
        opened.append(nc)
        return Watch(nc, errors)

    yield factory
    for nc in opened:
        if not nc.is_closed:
            await nc.close()


async def messages_on(secured: Secured, stream: str, subject: str) -> int:
    """How many messages ``stream`` holds on ``subject`` (asked as the central)."""
    nc = await _connect(secured, "central")
    try:
        info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


async def answer_hellos(nc: Client) -> None:
    """The central's hello responder, reduced to echoing who asked."""

    async def on_hello(msg: Msg) -> None:
        await msg.respond(b"hello " + msg.subject.encode())

    await nc.subscribe(subjects.hello_wildcard(), queue="central", cb=on_hello)
    await nc.flush()


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


# --- partners -------------------------------------------------------------------------------


async def test_partner_reads_its_own_stream(secured: Secured, watch: Any) -> None:
    """A partner tails its stream with an ordered consumer (as kopsync partner tail does)."""
    assert partner_stream("bank-kalteng") == protocol.partner_stream("bank-kalteng")
    partner = await watch("bank-kalteng")
    got: asyncio.Queue[Msg] = asyncio.Queue()

    async def keep(msg: Msg) -> None:
        await got.put(msg)

    await partner.nc.jetstream().subscribe(
        partner_subjects("bank-kalteng"),
        stream=partner_stream("bank-kalteng"),
        cb=keep,
        ordered_consumer=True,
    )
    msg = await asyncio.wait_for(got.get(), WAIT_S)
    assert msg.subject.startswith("kop.partner.bank-kalteng.")
    assert partner.errors == []


async def test_partner_cannot_read_raw_ingest_events_or_another_partner(
    secured: Secured, watch: Any
) -> None:
    """Consumers, stream info and subscriptions outside its own partner stream are refused."""
    partner = await watch("bank-kalteng")
    js = partner.nc.jetstream()
    for stream, filter_subject in (
        (INGEST, "kop.up.>"),
        (EVENTS, "kop.ev.>"),
        (partner_stream("bulog"), partner_subjects("bulog")),
    ):
        config = ConsumerConfig(name="peek", filter_subject=filter_subject)
        with pytest.raises(nats.errors.TimeoutError):
            await js.add_consumer(stream, config, timeout=0.5)
        await partner.denied("publish", f"$JS.API.CONSUMER.CREATE.{stream}.peek.{filter_subject}")
        info = f"$JS.API.STREAM.INFO.{stream}"
        with pytest.raises(nats.errors.TimeoutError):
            await partner.nc.request(info, b"", timeout=0.5)
        await partner.denied("publish", info)
    for subject in ("kop.up.>", "kop.ev.>", "kop.q.>", partner_subjects("bulog"), "_INBOX.>"):
        await partner.nc.subscribe(subject)
        await partner.denied("subscription", subject)
    await partner.nc.publish("$JS.API.STREAM.LIST", b"{}")
    await partner.denied("publish", "$JS.API.STREAM.LIST")


async def test_partner_cannot_publish_anything(secured: Secured, watch: Any) -> None:
    """Not an upload, an event, a downlink, a hello, its own topics or a stream change."""
    partner = await watch("bank-kalteng")
    own = partner_stream("bank-kalteng")
    targets = [
        subjects.upload(LEMPAKE, "lempake-2"),
        subjects.canonical(LEMPAKE, "shop", "SaleRecorded"),
        subjects.downlink(LEMPAKE),
        subjects.hello(LEMPAKE, "lempake-1"),
        f"kop.partner.bank-kalteng.64.6472.{LEMPAKE}.shop.SaleRecorded",
        f"$JS.API.STREAM.PURGE.{own}",
        f"$JS.API.STREAM.DELETE.{own}",
        f"$JS.API.STREAM.UPDATE.{own}",
        "$JS.API.STREAM.CREATE.KOP_PARTNER_EVIL",
    ]
    for subject in targets:
        await partner.nc.publish(subject, b"from a partner")
        await partner.denied("publish", subject)
    assert await messages_on(secured, INGEST, targets[0]) == 0
    assert await messages_on(secured, own, targets[4]) == 1  # only the central's message


# --- revocation -------------------------------------------------------------------------------


async def test_revoked_device_is_cut_off_and_cannot_connect(secured: Secured) -> None:
    """After revoke and reload the device's open connection closes and a new one is refused."""
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    before = await _connect(secured, "lempake-3", closed_cb=on_closed)
    await before.jetstream().publish(subjects.upload(LEMPAKE, "lempake-3"), b"last", timeout=WAIT_S)

    done = admin("device", "revoke", "--device", "lempake-3", "--db", secured.db_url,
                 "--auth", str(secured.auth))  # fmt: skip
    assert done["retired"] is True
    assert "lempake-3" not in secured.auth.read_text()
    reload(secured.server)

    await asyncio.wait_for(closed.wait(), WAIT_S)
    with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation"):
        await _connect(secured, "lempake-3")
    # The others keep working after the reload.
    other = await _connect(secured, "lempake-1")
    ack = await other.jetstream().publish(
        subjects.upload(LEMPAKE, "lempake-1"), b"still here", timeout=WAIT_S
    )
    assert ack.stream == INGEST
    await other.close()
    with CentralStore(secured.db_url) as store, store.engine.connect() as conn:
        retired = conn.execute(
            sa.select(devices.c.retired).where(devices.c.device_id == "lempake-3")
        ).scalar_one()
        facts = conn.execute(
            sa.select(events.c.type, events.c.aggregate_id).where(events.c.device_id == "central")
        ).all()
    assert retired is True
    assert ("DeviceRetired", "lempake-3") in [tuple(f) for f in facts]


def test_seed_files_are_private(secured: Secured) -> None:
    """Every seed kopsync admin wrote is readable and writable by its owner only."""
    for user, path in secured.seeds.items():
        assert os.stat(path).st_mode & 0o777 == 0o600, user
