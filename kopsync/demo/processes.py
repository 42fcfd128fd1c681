"""The demo's services as child processes: a NATS server, the central ingest, the partner fan-out.

``Services`` is a context manager that stops every child it started when it exits, whatever
the reason (the end, an error, Ctrl-C or SIGTERM turned into an exception by the caller), in
reverse order so the ingest and the fan-out leave while NATS is still there. Each child runs in
its own session, so a Ctrl-C at the terminal reaches only the demo, which then stops them in
order; on Linux each child also gets SIGTERM from the kernel if the demo itself is killed.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from central_projector.security import certs
from kopsync.devnats import HOST, dies_with_parent, free_port, free_ports, nats_server_binary
from sync_core.errors import UsageError
from sync_core.protocol import PROVINCE_DOMAIN


class Services:
    """Child processes of one demo run, all stopped on exit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        # one pick for both: the one server listens on them together
        self.port, self.leaf_port = free_ports(2)
        self.url = f"tls://{HOST}:{self.port}"
        self.tls_dir = work / "tls"
        self.config = work / "nats-server.conf"
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca" / certs.CA_CERT

    @property
    def tls_args(self) -> list[str]:
        """What a kopsync command needs to reach the demo's server: ``--tls-ca``."""
        return ["--tls-ca", str(self.ca_file)]

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pids(self) -> list[int]:
        return [p.pid for _, p in self.procs]

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.work / f"{name}.log").open("ab")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=dies_with_parent(),
            )
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def make_tls(self) -> None:
        """A CA of the demo's own and a certificate for 127.0.0.1, as `kopsync admin tls`
        makes them, and a server configuration serving TLS first as deploy/nats/tls.conf."""
        certs.make_ca(self.tls_dir / "ca", "kopsync demo CA")
        server = certs.make_server(self.tls_dir / "ca", self.tls_dir / "server", [HOST])
        self.config.write_text(
            "tls {\n"
            f'  cert_file: "{server.cert}"\n'
            f'  key_file: "{server.key}"\n'
            f'  ca_file: "{self.ca_file}"\n'
            '  handshake_first: "2s"\n'
            "  timeout: 5\n"
            "}\n"
            # The cooperatives' hubs: leaf nodes over TLS, reaching JetStream by its domain.
            f"jetstream {{ domain: {PROVINCE_DOMAIN} }}\n"
            "leafnodes {\n"
            f'  listen: "{HOST}:{self.leaf_port}"\n'
            f'  tls {{ cert_file: "{server.cert}", key_file: "{server.key}", timeout: 5 }}\n'
            "}\n"
        )

    def start_nats(self, timeout_s: float = 15.0) -> None:
        self.make_tls()
        argv = [str(nats_server_binary()), "-c", str(self.config), "-a", HOST]
        argv += ["-p", str(self.port), "-js"]
        proc = self._spawn("nats-server", [*argv, "-sd", str(self.work / "jetstream")])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise UsageError(f"nats-server exited at once; see {self.work / 'nats-server.log'}")
            with socket.socket() as s:
                if s.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.05)
        raise UsageError(f"nats-server did not listen on {self.url} within {timeout_s:g} s")

    def start_kopsync(self, name: str, *args: str) -> None:
        # -P: the current directory is not on the child's path, so a folder there named like
        # one of our packages (schemas/, say) cannot shadow it.
        self._spawn(name, [sys.executable, "-P", "-m", "kopsync", *args])

    def start_hub(self, coop_id: str, province_leaf: str, timeout_s: float = 30.0) -> str:
        """``kopsync edge hub`` for ``coop_id`` (its leaf link to ``province_leaf``); its URL."""
        port = free_port()
        name = f"hub-{coop_id}"
        args = ["edge", "hub", "--coop", coop_id, "--province", province_leaf]
        args += ["--dir", str(self.work / name), "--listen", f"{HOST}:{port}", *self.tls_args]
        self.start_kopsync(name, *args)
        log = self.work / f"{name}.log"
        deadline = time.monotonic() + timeout_s
        while b"ready at" not in log.read_bytes():
            self.check_alive()
            if time.monotonic() > deadline:
                raise UsageError(f"the hub did not start within {timeout_s:g} s; see {log}")
            time.sleep(0.05)
        return f"nats://{HOST}:{port}"

    def check_alive(self) -> None:
        """Fail with the log's name if a service died (instead of waiting for its timeout)."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise UsageError(
                    f"{name} stopped (exit {proc.returncode}); see {self.work / (name + '.log')}"
                )

    def stop(self, grace_s: float = 10.0) -> None:
        # A second Ctrl-C must not cut the cleanup short and leave a child behind.
        try:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread: nobody sends it SIGINT
            previous = None
        try:
            self._stop(grace_s)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _stop(self, grace_s: float) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
