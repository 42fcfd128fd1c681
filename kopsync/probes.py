"""``/metrics``, ``/healthz`` and ``/readyz`` for every long-running process.

One small HTTP server in a daemon thread beside the process's own work (an asyncio loop
or a projection loop), started by the process's command with ``--metrics-listen
HOST:PORT``. Each service defines its own metric objects in its own registry
(``central_projector.ingest.metrics``, ``edge_agent.app.metrics``, …); this module only
serves them, in the Prometheus text format of ``prometheus-client``.

- ``/healthz``: 200 while the process's work is alive (``alive()`` returns ``None``),
  else 503 with the reason: a supervisor restarts the process.
- ``/readyz``: 200 when it can do its job now (``ready()``: NATS connected, store
  reachable), else 503 with the reason: a balancer or an operator waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from sync_core.errors import UsageError

Check = Callable[[], str | None]  # None: fine; else the one-line reason it is not


def _fine() -> str | None:
    return None


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9100`` for IPv6) as a pair, or a one-line error."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise UsageError(f"'{value}' is not HOST:PORT, e.g. 127.0.0.1:9101")
    return host.strip("[]"), int(port)


class ProbeServer:
    """Serves a registry and two checks until :meth:`close`."""

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        *,
        alive: Check = _fine,
        ready: Check = _fine,
    ) -> None:
        host, port = parse_listen(listen)
        probes = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(probes.registry), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/readyz"):
                    check = probes.alive if path == "/healthz" else probes.ready
                    try:
                        problem = check()
                    except Exception as exc:  # a failing check is a failed probe, not a crash
                        problem = f"{type(exc).__name__}: {exc}"
                    body = f"{'ok' if problem is None else 'not ok: ' + problem}\n".encode()
                    self._send(200 if problem is None else 503, body, "text/plain; charset=utf-8")
                else:
                    self._send(404, b"not found: /metrics, /healthz, /readyz\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes every few seconds would drown the service's own log

        self.registry = registry
        self.alive = alive
        self.ready = ready
        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise UsageError(f"cannot serve metrics on {listen}: {exc.strerror}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kopsync-probes", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ProbeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Heartbeat:
    """A beat from the process's asyncio loop: ``/healthz`` fails when the loop stops beating
    (blocked or dead) for ``limit_s``; the probe thread itself keeps answering."""

    def __init__(self, limit_s: float = 60.0) -> None:
        self.limit_s = limit_s
        self.last = time.monotonic()

    async def run(self, every_s: float = 1.0) -> None:
        while True:
            self.last = time.monotonic()
            await asyncio.sleep(every_s)

    def check(self) -> str | None:
        age = time.monotonic() - self.last
        return None if age < self.limit_s else f"event loop silent for {age:.0f} s"


async def poll(every_s: float, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` every ``every_s`` seconds until cancelled; a failing step is retried
    at the next tick (metrics are best effort, the service's work is not)."""
    while True:
        with contextlib.suppress(Exception):
            await step()
        await asyncio.sleep(every_s)


async def run_probed(
    work: Awaitable[None],
    listen: str,
    registry: CollectorRegistry,
    *,
    ready: Check = _fine,
    polls: Sequence[tuple[float, Callable[[], Awaitable[None]]]] = (),
) -> None:
    """Await an asyncio service's ``work`` with its probes served on ``listen``, its loop's
    heartbeat behind ``/healthz`` and each ``(every_s, step)`` of ``polls`` running beside."""
    beat = Heartbeat()
    with ProbeServer(listen, registry, alive=beat.check, ready=ready):
        helpers = [asyncio.create_task(beat.run())]
        helpers += [asyncio.create_task(poll(every, step)) for every, step in polls]
        try:
            await work
        finally:
            for task in helpers:
                task.cancel()
