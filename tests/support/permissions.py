"""The secured server of the NATS permission tests (``tests/integration/security``).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from central_projector.ingest.streams import StreamSettings, ensure_streams
from central_projector.security.policy import partner_stream, partner_subjects
from kopsync.cli.main import cli
from support.nats import NatsServer
from sync_core import subjects
from sync_core.protocol import (
    DEVICE_JS_API,
    device_inbox_prefix,
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


async def prepare(s: Secured) -> None:
    """As the central: the kopsync streams, two partner streams, a message in each."""
    nc = await connect_as(s, "central")
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


async def connect_as(s: Secured, user: str, *, inbox: str | None = None, **extra: Any) -> Client:
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


async def messages_on(secured: Secured, stream: str, subject: str) -> int:
    """How many messages ``stream`` holds on ``subject`` (asked as the central)."""
    nc = await connect_as(secured, "central")
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
