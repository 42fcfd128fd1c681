"""A province nats-server that takes leaf nodes, and a cooperative's hub run by its command.

The province runs with the JetStream domain its hubs' devices address it by and a leafnode
listener; the hub is ``kopsync edge hub`` itself, in a child process, pointed at whatever
URL the test gives (the link emulator in front of the province's leafnode port).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.nats import HOST, NatsServer, free_port, free_ports
from sync_core.protocol import PROVINCE_DOMAIN


def province_server(workdir: Path) -> tuple[NatsServer, int]:
    """A started province server and its leafnode port."""
    workdir.mkdir(parents=True, exist_ok=True)
    leaf_port, port, monitor_port = free_ports(3)
    config = workdir / "province.conf"
    config.write_text(
        f"jetstream {{ domain: {PROVINCE_DOMAIN} }}\nleafnodes {{ listen: {HOST}:{leaf_port} }}\n"
    )
    return NatsServer(workdir, config=config, ports=(port, monitor_port)).start(), leaf_port


class Hub:
    """``kopsync edge hub`` in a child process."""

    def __init__(
        self,
        workdir: Path,
        coop_id: str,
        province_leaf: str,
        *extra: str,
        tls: bool = False,
        port: int | None = None,
    ) -> None:
        """``extra``: more arguments of ``kopsync edge hub`` (credentials, TLS files);
        ``tls``: its LAN port speaks TLS (``--lan-cert`` among them); ``port``: its LAN port,
        from :func:`free_ports` where a test makes several hubs before it starts them, or a
        free port."""
        self.workdir = workdir
        self.coop_id = coop_id
        self.province_leaf = province_leaf
        self.extra = extra
        self.tls = tls
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://{HOST}:{self.port}"

    def start(self) -> Hub:
        args = [sys.executable, "-m", "kopsync", "edge", "hub", "--coop", self.coop_id]
        args += ["--province", self.province_leaf, "--dir", str(self.workdir)]
        args += ["--listen", f"{HOST}:{self.port}", *self.extra]
        self.workdir.mkdir(parents=True, exist_ok=True)
        out = self.workdir / "hub.out"
        seen = out.stat().st_size if out.exists() else 0  # a restart appends to the same file
        with out.open("ab") as f:
            self.proc = subprocess.Popen(
                args, stdout=f, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while b"ready at" not in out.read_bytes()[seen:]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not start: {self.log_tail()}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL the command and its nats-server (the whole process group)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self) -> str:
        text = ""
        for name in ("hub.out", "nats-server.log"):
            with contextlib.suppress(OSError):
                text += (self.workdir / name).read_text(errors="replace")[-3000:]
        return text
