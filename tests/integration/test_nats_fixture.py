"""The nats-server fixture: real JetStream on a free port that survives kill, restart and pause."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import StorageType, StreamConfig
from support.nats import HOST, NatsServer, free_ports

NAME = "FIXTURE"
STREAM = StreamConfig(name=NAME, subjects=["fixture.>"], storage=StorageType.FILE)


class Client(NatsClient):
    """A nats-py client that reconnects forever and signals when it has reconnected."""

    reconnected: asyncio.Event


async def connect(server: NatsServer) -> Client:
    nc = Client()
    nc.reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        nc.reconnected.set()

    async def quiet(_: Exception) -> None:
        """Refused connections while the server is down are expected here."""

    await nc.connect(
        server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.05,  # type: ignore[arg-type]  # annotated int, used as seconds
        connect_timeout=2,
        error_cb=quiet,
        reconnected_cb=on_reconnect,
    )
    return nc


async def wait_reconnected(nc: Client, timeout: float = 10.0) -> None:
    # is_connected alone can be stale: the client may not have seen the old socket close yet.
    await asyncio.wait_for(nc.reconnected.wait(), timeout)
    await nc.flush(timeout=2)


async def test_graceful_restart_keeps_port_and_jetstream_data(nats_server: NatsServer) -> None:
    """After stop() and start() the server is on the same port, clients reconnect, data is kept."""
    port, store = nats_server.port, nats_server.store_dir
    nc = await connect(nats_server)
    try:
        js = nc.jetstream()
        await js.add_stream(STREAM)
        ack = await js.publish("fixture.a", b"tetap ada")

        nats_server.stop()
        assert not nats_server.is_running
        nats_server.start()

        assert (nats_server.port, nats_server.store_dir) == (port, store)
        await wait_reconnected(nc)  # the old client found the server again: same port
        msg = await js.get_msg(NAME, ack.seq)
        assert msg.data == b"tetap ada"
    finally:
        await nc.close()


async def test_kill_keeps_acknowledged_data_when_syncing_always(
    nats_server_factory: Callable[..., NatsServer], tmp_path: Path
) -> None:
    """With sync_interval: always, a message acknowledged before SIGKILL is there after restart."""
    config = tmp_path / "nats.conf"
    config.write_text("jetstream {\n  sync_interval: always\n}\n")
    server = nats_server_factory(config=config)
    nc = await connect(server)
    try:
        js = nc.jetstream()
        await js.add_stream(STREAM)
        acks = [await js.publish("fixture.b", f"sale {i}".encode()) for i in range(1, 4)]

        server.restart()  # SIGKILL, then start on the same port and store

        await wait_reconnected(nc)
        info = await js.stream_info(NAME)
        assert info.state.messages == len(acks)
        assert (await js.get_msg(NAME, acks[-1].seq)).data == b"sale 3"
    finally:
        await nc.close()


def read_info(port: int, timeout: float) -> bytes:
    """Connect with a raw socket and return what the server says first (its INFO line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        return sock.recv(4096)


def test_pause_freezes_the_server_until_resume(nats_server: NatsServer) -> None:
    """While paused the server still accepts TCP but answers nothing; after resume it answers."""
    assert read_info(nats_server.port, timeout=2).startswith(b"INFO ")
    nats_server.pause()
    try:
        with pytest.raises(TimeoutError):
            read_info(nats_server.port, timeout=0.3)
        assert not nats_server.healthz()
    finally:
        nats_server.resume()
    assert read_info(nats_server.port, timeout=2).startswith(b"INFO ")
    assert nats_server.healthz()


def test_kill_twice_and_stop_after_kill_are_harmless(nats_server: NatsServer) -> None:
    """Teardown helpers are idempotent, so fixtures can always kill at the end."""
    nats_server.kill()
    nats_server.kill()
    nats_server.stop()
    assert not nats_server.is_running
    assert not nats_server.healthz()


def test_ports_picked_together_are_distinct_and_free() -> None:
    """``free_ports(n)`` hands out n different ports, and each can be bound once it returns."""
    ports = free_ports(20)
    assert len(set(ports)) == 20
    for port in ports:
        with socket.socket() as sock:
            sock.bind((HOST, port))
