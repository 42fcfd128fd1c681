"""Link emulator: an asyncio TCP proxy that puts a bad network in front of a real server.

Integration tests and benchmarks point a NATS client at the emulator instead of at nats-server,
then degrade the link while the client runs::

    async with LinkEmulator("127.0.0.1", nats_port, LinkProfile.satellite()) as link:
        client = Link(ConnectOptions.for_url(link.url))  # sync_core.transport
        await client.open(10)
        link.cut()             # link down: open connections reset, new ones reset on accept
        link.restore()         # link up again (also ends half_open)
        link.drop_connections()  # reset open connections once; new ones work at once
        link.half_open()       # black hole: sockets stay open, no byte moves either way
        link.set_profile(LinkProfile(latency_s=0.05))  # applies to the next chunk read
        link.bytes_up, link.bytes_down  # bytes delivered client->server / server->client

Each direction of each connection is a pipe of two tasks. The transmitter reads chunks (about
10 ms of transmission at the bandwidth cap, at most 16 KiB), paces them with a token bucket so
the direction never exceeds ``bandwidth_bps``, and queues ``(deliver_at, chunk)`` with
``deliver_at = sent_at + latency_s``. The deliverer writes each chunk when it is due. Latency is
therefore a pipe delay, not a per-write sleep: a bulk transfer over a 1 Mbit/s, 300 ms link runs
at close to 1 Mbit/s. The bounded queue gives the sender TCP-like back-pressure.

While half-open, chunks are held rather than discarded, as TCP retransmission would deliver them
once a black-holed path recovers. A cut resets both the client and the upstream socket, so the
server notices at once; a real cut would leave the server's side open until its pings time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

_MAX_CHUNK = 16 * 1024
_MIN_CHUNK = 512
_CHUNK_TIME_S = 0.01
# Pacing may lag this far behind the schedule (a late wake-up on a busy loop) and catch up.
_PACING_SLACK_S = 0.02
_QUEUE_CHUNKS = 1024

_Chunk = tuple[float, bytes]


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """Shape of both directions of the link; ``None`` bandwidth means unlimited."""

    latency_s: float = 0.0
    bandwidth_bps: int | None = None

    def __post_init__(self) -> None:
        if self.latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {self.latency_s}")
        if self.bandwidth_bps is not None and self.bandwidth_bps <= 0:
            raise ValueError(f"bandwidth_bps must be > 0, got {self.bandwidth_bps}")

    @classmethod
    def satellite(cls) -> LinkProfile:
        """A geostationary link: 300 ms one way (600 ms round trip), 1 Mbit/s each way."""
        return cls(latency_s=0.3, bandwidth_bps=1_000_000)

    def read_size(self) -> int:
        if self.bandwidth_bps is None:
            return _MAX_CHUNK
        per_chunk = int(self.bandwidth_bps / 8 * _CHUNK_TIME_S)
        return max(_MIN_CHUNK, min(_MAX_CHUNK, per_chunk))


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (zero linger) so the peer sees a dead link, not a polite goodbye."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False, slots=True)
class _Connection:
    task: asyncio.Task[None]
    writers: list[asyncio.StreamWriter]

    def drop(self) -> None:
        for writer in self.writers:
            _reset(writer)
        self.task.cancel()


class LinkEmulator:
    """TCP proxy from ``listen_host:port`` to ``upstream_host:upstream_port`` over a bad link."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        profile: LinkProfile | None = None,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listen = (listen_host, listen_port)
        self._profile = profile or LinkProfile()
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._up = True
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.bytes_up = 0
        self.bytes_down = 0

    @property
    def profile(self) -> LinkProfile:
        return self._profile

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LinkEmulator is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"nats://{self._listen[0]}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, *self._listen)

    async def close(self) -> None:
        self._up = False
        if self._server is not None:
            self._server.close()
        tasks = [conn.task for conn in self._connections]
        self.drop_connections()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def set_profile(self, profile: LinkProfile) -> None:
        self._profile = profile

    def cut(self) -> None:
        self._up = False
        self.drop_connections()

    def restore(self) -> None:
        self._up = True
        self._flowing.set()

    def drop_connections(self) -> None:
        for conn in list(self._connections):
            conn.drop()

    def half_open(self) -> None:
        self._flowing.clear()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            _reset(writer)
            return
        writers = [writer]
        task = asyncio.get_running_loop().create_task(self._serve(reader, writers))
        conn = _Connection(task, writers)
        self._connections.add(conn)
        task.add_done_callback(lambda _: self._connections.discard(conn))

    async def _serve(
        self, client_r: asyncio.StreamReader, writers: list[asyncio.StreamWriter]
    ) -> None:
        client_w = writers[0]
        try:
            await self._flowing.wait()  # a black-holed link completes no handshake upstream
            up_r, up_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            _reset(client_w)
            return
        writers.append(up_w)
        try:
            async with asyncio.TaskGroup() as tg:
                for coro in (*self._pipe(client_r, up_w, up=True), *self._pipe(up_r, client_w)):
                    tg.create_task(coro)
        except* OSError:
            # One side reset or broke: like a TCP connection, the whole thing goes down.
            for writer in writers:
                _reset(writer)
        finally:
            for writer in writers:
                writer.close()

    def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool = False
    ) -> tuple[Coroutine[Any, Any, None], Coroutine[Any, Any, None]]:
        queue: asyncio.Queue[_Chunk] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)
        return self._transmit(reader, queue), self._deliver(queue, writer, up=up)

    async def _transmit(self, reader: asyncio.StreamReader, queue: asyncio.Queue[_Chunk]) -> None:
        loop = asyncio.get_running_loop()
        next_free = loop.time()
        while True:
            chunk = await reader.read(self._profile.read_size())
            await self._flowing.wait()
            profile = self._profile
            now = loop.time()
            sent_at = now
            if chunk and profile.bandwidth_bps is not None:
                start = max(next_free, now - _PACING_SLACK_S)
                next_free = start + len(chunk) * 8 / profile.bandwidth_bps
                sent_at = max(now, next_free)
            await queue.put((sent_at + profile.latency_s, chunk))
            if not chunk:
                return
            if sent_at > now:
                await asyncio.sleep(sent_at - now)

    async def _deliver(
        self, queue: asyncio.Queue[_Chunk], writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deliver_at, chunk = await queue.get()
            delay = deliver_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._flowing.wait()
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            if up:
                self.bytes_up += len(chunk)
            else:
                self.bytes_down += len(chunk)
            await writer.drain()
