"""Partners on the secured server read their own stream only and publish nothing; a revoked
device is cut off; every seed file is private (:mod:`support.permissions`)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import nats.errors
import pytest
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from support.permissions import (
    LEMPAKE,
    WAIT_S,
    Secured,
    admin,
    connect_as,
    messages_on,
    reload,
)

from central_projector.ingest.streams import EVENTS, INGEST
from central_projector.record.store import CentralStore
from central_projector.record.tables import devices, events
from central_projector.security.policy import partner_stream, partner_subjects
from sync_core import protocol, subjects

pytestmark = pytest.mark.timeout(60)


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


async def test_revoked_device_is_cut_off_and_cannotconnect_as(secured: Secured) -> None:
    """After revoke and reload the device's open connection closes and a new one is refused."""
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    before = await connect_as(secured, "lempake-3", closed_cb=on_closed)
    await before.jetstream().publish(subjects.upload(LEMPAKE, "lempake-3"), b"last", timeout=WAIT_S)

    done = admin("device", "revoke", "--device", "lempake-3", "--db", secured.db_url,
                 "--auth", str(secured.auth))  # fmt: skip
    assert done["retired"] is True
    assert "lempake-3" not in secured.auth.read_text()
    reload(secured.server)

    await asyncio.wait_for(closed.wait(), WAIT_S)
    with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation"):
        await connect_as(secured, "lempake-3")
    # The others keep working after the reload.
    other = await connect_as(secured, "lempake-1")
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
