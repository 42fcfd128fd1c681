"""Serving the API with uvicorn inside the process's own event loop, beside the replicator.

The socket is bound here, before anything starts, so that a busy port or a wrong address
is one clear error instead of a server that logs and exits. uvicorn's own signal
handling is turned off: the process has one stop event (Ctrl-C, SIGTERM) for the
replicator and the API alike.

Requests are parsed by uvicorn's ``httptools`` protocol (a C parser: about 0.1 ms of CPU
less per request than pure-Python ``h11``), and each answer leaves in one ``send``
(:class:`OneSend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sync_core.errors import UsageError

DEFAULT_PORT = 8470


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8470`` for IPv6; ``:8470`` is loopback) → (host, port)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), str(DEFAULT_PORT)
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(f"--http {text!r} is not HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT})")
    return host, port


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; :class:`UsageError` if it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--http: cannot resolve {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"--http: cannot listen on {host}:{port} ({exc.strerror}); "
            "is another agent running? choose another port"
        ) from None
    sock.setblocking(False)
    return sock


class OneSend:
    """A transport that sends what one pass of the event loop wrote to it as one ``send``.

    uvicorn writes a response's head and its body separately: two system calls and two
    wake-ups of the client per answer. Gathered here, they leave together at the end of
    the pass in which the handler answered (closing sends what is pending first).
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the socket transport's
        return getattr(self._transport, name)


class OneSendProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through :class:`OneSend`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSend(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        # The whole answer is written: it leaves now, not a pass of the loop later.
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's stop event handles SIGINT and SIGTERM


async def serve(app: ASGIApp, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``sock`` until ``stop`` is set; requests in flight are finished."""
    config = uvicorn.Config(
        app,
        lifespan="off",
        http=OneSendProtocol,
        ws="none",
        interface="asgi3",
        access_log=False,
        log_config=None,
        server_header=False,
        # No proxy stands between a counter and its device: no X-Forwarded-* to trust, and
        # one ASGI layer less on every request.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await task
        sock.close()
