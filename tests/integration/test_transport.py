"""The one NATS adapter: connecting, logging drops, refusals, guarded operations, TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from support.nats import NatsServer
from support.tls import make_pki

from edge_agent.devtools.linkemu import LinkEmulator
from kopsync.connection import TlsFlags, nats_connection
from sync_core.errors import LinkDown, SyncTimeout, UsageError
from sync_core.transport import (
    AuthRefused,
    ConnectOptions,
    Link,
    NoResponders,
    TlsFiles,
    TlsRefused,
    connected,
    tls_kwargs,
)

HOST = "127.0.0.1"
NatsServerFactory = Callable[..., NatsServer]


@pytest.fixture
def every_level() -> Iterator[None]:
    """structlog's defaults for the test (a command run earlier in this process may have
    configured it to drop warnings), the process's configuration again after it."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.mark.usefixtures("every_level")
async def test_link_logs_losing_and_regaining_its_server(nats_server: NatsServer) -> None:
    """A link that reconnects by itself logs the server going away and coming back."""
    with capture_logs() as logs:
        async with connected(ConnectOptions.for_url(nats_server.url, name="t")) as link:
            nats_server.restart()
            await asyncio.wait_for(link.down.wait(), 30)
            assert await link.wait_up(30)
    events = [e["event"] for e in logs]
    assert "nats_connection_lost" in events and "nats_connection_restored" in events
    assert all(e["client"] == "t" for e in logs if e["event"].startswith("nats_connection"))


async def test_refused_credentials_fail_at_once(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    """A server that wants credentials the client lacks gives AuthRefused before the timeout."""
    conf = tmp_path / "auth.conf"
    conf.write_text('authorization { user: "central", password: "secret" }\n')
    server = nats_server_factory(config=conf)
    link = Link(ConnectOptions.for_url(server.url))
    with pytest.raises(AuthRefused, match="requires authentication"):
        await link.open(600)  # a timeout the suite's own would cut: only the refusal ends it


async def test_an_unreachable_server_is_link_down(tmp_path: Path) -> None:
    """Nothing listening is a LinkDown naming the URL, once the time is up."""
    server = NatsServer(tmp_path)  # never started: its port is free
    with pytest.raises(LinkDown, match=server.url):
        await Link(ConnectOptions.for_url(server.url)).open(1)


async def test_requests_nobody_answers_are_no_responders(nats_server: NatsServer) -> None:
    """A request on a subject with no subscriber is NoResponders, not a timeout."""
    async with connected(ConnectOptions.for_url(nats_server.url)) as link:
        with pytest.raises(NoResponders):
            await link.request("kop.hello.6401050012.nobody", b"x", 5, "hello")


async def test_a_request_in_flight_fails_at_once_when_the_link_drops(
    nats_server: NatsServer,
) -> None:
    """A guarded request cut off by a drop is LinkDown, not a wait for its (long) timeout."""
    async with (
        connected(ConnectOptions.for_url(nats_server.url)) as responder,
        LinkEmulator(HOST, nats_server.port) as emu,
    ):
        heard = asyncio.Event()

        async def silent(_msg: object) -> None:
            heard.set()  # and never answers

        await responder.nc.subscribe("kop.test.silent", cb=silent)
        await responder.nc.flush()
        link = Link(ConnectOptions.for_url(emu.url))
        await link.open(10, allow_reconnect=False)
        try:
            asking = asyncio.ensure_future(link.request("kop.test.silent", b"?", 600, "ask"))
            await asyncio.wait_for(heard.wait(), 30)
            emu.cut()
            with pytest.raises(LinkDown, match="link lost during ask"):
                await asyncio.wait_for(asking, 60)
        finally:
            await link.close()


async def test_a_guarded_operation_times_out_as_sync_timeout(nats_server: NatsServer) -> None:
    """An operation that outlives its time is a SyncTimeout naming it."""
    async with connected(ConnectOptions.for_url(nats_server.url)) as link:
        with pytest.raises(SyncTimeout, match="nap got no answer"):
            await link.guarded(asyncio.sleep(60), 0.05, "nap")


async def test_tls_verifies_the_server_by_the_ca_given(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    """With the CA file the client connects over TLS; with another CA it refuses the server."""
    pki = make_pki(tmp_path / "pki")
    server = nats_server_factory(tls=pki)
    trusted = ConnectOptions.for_url(server.url, tls=pki.client_tls())
    async with connected(trusted) as link:
        await link.nc.flush(timeout=5)
        assert link.nc.connected_url is not None
    strange = make_pki(tmp_path / "other")
    with pytest.raises(TlsRefused, match="not signed by the CA"):
        await Link(trusted.but(tls=strange.client_tls())).open(3)


def test_tls_is_on_exactly_for_tls_urls(tmp_path: Path) -> None:
    """tls:// turns TLS on, first; files for nats:// or a mix of schemes are refused."""
    pki = make_pki(tmp_path / "pki")
    kwargs = tls_kwargs(["tls://a:4222", "tls://b:4222"], pki.client_tls())
    assert kwargs["tls_handshake_first"] is True
    assert tls_kwargs(["nats://a:4222", "b:4222"], None) == {}
    with pytest.raises(UsageError, match="tls://HOST:PORT"):
        tls_kwargs(["nats://a:4222"], pki.client_tls())
    with pytest.raises(UsageError, match="every NATS URL must be tls://"):
        tls_kwargs(["tls://a:4222", "nats://b:4222"], None)


def test_tls_files_are_checked_before_connecting(tmp_path: Path) -> None:
    """A missing TLS file, or a client certificate without its key, is a UsageError."""
    with pytest.raises(UsageError, match="does not exist"):
        TlsFiles(ca_file=str(tmp_path / "none.pem")).context()
    with pytest.raises(UsageError, match="both"):
        TlsFiles(cert_file=str(tmp_path / "client.pem")).context()


def test_options_name_servers_and_credentials() -> None:
    """A comma-separated URL is a cluster; only the credentials given reach nats-py."""
    options = ConnectOptions.for_url("nats://a:4222, nats://b:4222", name="x")
    kwargs = options.client_kwargs()
    assert kwargs["servers"] == ["nats://a:4222", "nats://b:4222"]
    assert kwargs["name"] == "x"
    assert not {"nkeys_seed", "user_credentials", "inbox_prefix", "tls"} & set(kwargs)
    assert options.but(inbox_prefix="_INBOX_dev").client_kwargs()["inbox_prefix"] == "_INBOX_dev"


def test_the_environment_is_read_by_the_command_line_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """$KOPSYNC_NATS_NKEY, _INBOX and _TLS_* reach a client through a command's options
    (a flag wins over its variable); nats_connection takes only what it is given."""
    from kopsync.cli.central.project import project

    monkeypatch.setenv("KOPSYNC_NATS_NKEY", "/keys/central.nk")
    monkeypatch.setenv("KOPSYNC_NATS_INBOX", "_PINBOX.bank")
    monkeypatch.setenv("KOPSYNC_NATS_TLS_CA", "/etc/kopsync/ca.crt")
    monkeypatch.setenv("KOPSYNC_NATS_TLS_CERT", "/etc/kopsync/c.crt")
    argv = ["--nats", "tls://h:4222", "--tls-key", "/etc/kopsync/c.key", "--nats-inbox", "_I"]
    with project.make_context("project", argv) as ctx:
        p = ctx.params
    options = nats_connection(
        p["nats_url"],
        "svc",
        nkey=p["nkey"],
        inbox_prefix=p["nats_inbox"],
        tls=TlsFlags(p["tls_ca"], p["tls_cert"], p["tls_key"]),
    )
    assert (options.nkey_seed, options.inbox_prefix) == ("/keys/central.nk", "_I")
    assert options.tls == TlsFiles(
        "/etc/kopsync/ca.crt", "/etc/kopsync/c.crt", "/etc/kopsync/c.key"
    )
    bare = nats_connection("tls://h:4222", "svc")
    assert (bare.nkey_seed, bare.inbox_prefix, bare.tls) == (None, None, None)
