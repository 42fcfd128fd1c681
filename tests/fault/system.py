"""The whole kopsync system as real processes, for fault injection.

One nats-server (``support.nats.NatsServer``, so it can be killed, paused and restarted on the
same port and store), ``kopsync central ingest`` and ``kopsync central project`` as
subprocesses on one SQLite central store, and per device a data directory with a long-running
``kopsync edge run`` (optionally through its own :class:`LinkEmulator`) and, on demand, a
``kopsync edge simulate`` recorder. Every process is a :class:`Proc` that can be SIGKILLed,
SIGSTOPped and SIGCONTed, and restarted with the same command line.

The harness itself only records (in-process ``simulate``, as the teller would), registers
devices, and reads: it never writes to the central store after setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from support.nats import NatsServer
from support.projector_db import pin_pseudonym_key

from central_projector.ingest.streams import GIB
from central_projector.projection.projector import NAME
from central_projector.projection.readmodels.tables import projector_held, projector_position
from central_projector.record.store import CentralStore
from central_projector.record.tables import events
from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.linkemu import LinkEmulator
from edge_agent.devtools.sim import simulate

# Made-up village codes within Paser (6401) and Samarinda (6472).
COOPS = ("6401050012", "6472021005")
KOPSYNC = str(Path(sys.executable).with_name("kopsync"))
JS_BUDGET = GIB // 2  # the streams reserve their max_bytes from the server's disk


class Proc:
    """One child process with a fixed command line, restartable, signalled by its pid only."""

    def __init__(self, name: str, cmd: Sequence[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.log = log
        self.env = env
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.paused = False

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.alive and self.popen is not None else None

    def start(self) -> Proc:
        if self.alive:
            return self
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
            )
        self.starts += 1
        self.paused = False
        return self

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
        self.paused = False

    def pause(self) -> None:
        if self.alive and self.popen is not None:
            self.popen.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.alive and self.popen is not None:
            self.popen.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (after SIGCONT if paused) and wait; SIGKILL if it hangs."""
        if self.popen is None or self.popen.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_kib(self) -> int | None:
        """Resident set size from /proc, or None if the process is gone."""
        return self.memory_kib().get("VmRSS")

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and its parts (RssAnon: heap; RssFile: mapped files; RssShmem: shared
        memory such as SQLite's WAL index) from /proc, KiB, summed over the process and
        its descendants (the projector's SQLite writer process); empty if it is gone."""
        pid = self.pid
        if pid is None:
            return {}
        out: dict[str, int] = {}
        for member in _process_tree(pid):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{member}/status").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                        out[key] = out.get(key, 0) + int(value.split()[0])
        return out

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")
        return ""


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name may hold spaces and parentheses: the ppid follows the last ')'
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


@dataclass
class Device:
    """One cooperative device: its data directory, its replicator process, maybe a link."""

    data: Path
    coop_id: str
    device_id: str
    run: Proc
    link: LinkEmulator | None = None
    seeds: int = 0

    def agent(self, clock: Callable[[], int] | None = None) -> EdgeAgent:
        return EdgeAgent(self.data) if clock is None else EdgeAgent(self.data, clock)

    def head(self) -> int:
        with self.agent() as agent:
            return agent.head().seq


@dataclass
class System:
    """nats-server, ingest, projector and devices under ``root``; see the module docstring."""

    root: Path
    device_count: int = 2
    linked: bool = False
    gap_timeout_s: float = 300.0
    projector_args: Sequence[str] = ()  # more options of `kopsync central project`
    ingest_args: Sequence[str] = ()  # more options of `kopsync central ingest`
    nats: NatsServer = field(init=False)
    devices: list[Device] = field(default_factory=list)
    ingest: Proc = field(init=False)
    projector: Proc = field(init=False)
    store: CentralStore = field(init=False)
    env: dict[str, str] = field(init=False)
    deaths: list[str] = field(default_factory=list)  # processes that exited by themselves

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_url = f"sqlite:///{self.root / 'central.db'}"
        self.env = os.environ | {"KOPSYNC_JS_BUDGET_BYTES": str(JS_BUDGET)}
        self.nats = NatsServer(self.root / "nats")

    @property
    def processes(self) -> list[Proc]:
        return [self.ingest, self.projector, *(d.run for d in self.devices)]

    async def start(self, device_dirs: Sequence[Path] | None = None) -> System:
        """Start everything; devices are made (or opened from ``device_dirs``) and registered."""
        await asyncio.to_thread(self.nats.start)
        self.store = CentralStore(self.db_url)
        # The oracle folds in memory: the projector must name a person's conflicts with the
        # same pseudonym key (each store otherwise makes its own).
        pin_pseudonym_key(self.store.engine)
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        ingest = [KOPSYNC, "central", "ingest", "--nats", self.nats.url, "--db", self.db_url]
        ingest += [
            "--ack-wait",
            "3",
            "--fetch-batch",
            "16",
            "--gap-timeout",
            str(self.gap_timeout_s),
            *self.ingest_args,
        ]
        self.ingest = Proc("ingest", ingest, logs / "ingest.log", self.env)
        project = [KOPSYNC, "central", "project", "--db", self.db_url, "--nats", self.nats.url]
        self.projector = Proc(
            "projector",
            [*project, "--poll", "0.5", *self.projector_args],
            logs / "projector.log",
            self.env,
        )
        dirs = list(device_dirs or [])
        for i in range(self.device_count):
            data = dirs[i] if i < len(dirs) else self.root / f"device-{i}"
            if not (data / "edge.db").exists():
                EdgeAgent.init(data, COOPS[i % 2], f"kasir-{i}").close()
            with EdgeAgent(data) as agent:
                self.store.register_device(agent.coop_id, agent.device_id, agent.public_key)
                coop, dev = agent.coop_id, agent.device_id
            link = None
            url = self.nats.url
            if self.linked:
                link = LinkEmulator("127.0.0.1", self.nats.port)
                await link.start()
                url = link.url
            cmd = [KOPSYNC, "edge", "run", "--nats", url, "--data", str(data)]
            cmd += ["--log-format", "json"]
            self.devices.append(
                Device(data, coop, dev, Proc(dev, cmd, logs / f"{dev}.log", self.env), link)
            )
        self.ingest.start()
        await self.wait_ingest_ready()
        self.projector.start()
        for d in self.devices:
            d.run.start()
        return self

    async def wait_ingest_ready(self, timeout_s: float = 60) -> None:
        """Until the ingest service logs that it started (it made its streams and consumer)."""
        deadline = time.monotonic() + timeout_s
        while "central_started" not in self.ingest.log_text():
            if not self.ingest.alive or time.monotonic() > deadline:
                raise RuntimeError(f"ingest did not start:\n{self.ingest.log_text()[-2000:]}")
            await asyncio.sleep(0.1)

    def recorder(self, device: Device, events: int, seed: int) -> Proc:
        """``kopsync edge simulate`` on ``device`` as a killable process (not started)."""
        cmd = [KOPSYNC, "edge", "simulate", "--events", str(events), "--seed", str(seed)]
        cmd += ["--data", str(device.data), "--batch", "10"]
        return Proc(
            f"recorder-{device.device_id}", cmd, self.root / "logs" / "recorder.log", self.env
        )

    async def record(self, device: Device, events: int, seed: int = 1) -> None:
        """Record ``events`` valid events on ``device`` in this process (as a teller would)."""

        def work() -> None:
            with device.agent() as agent:
                simulate(agent, events, seed=seed)

        await asyncio.to_thread(work)

    # --- observing ---------------------------------------------------------------------
    def all_committed(self) -> bool:
        seqs = self.committed_seqs()
        return all(seqs.get(d.device_id, 0) >= d.head() for d in self.devices)

    def committed_seqs(self) -> dict[str, int]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT device_id, committed_seq FROM devices")).all()
        return {str(r[0]): int(r[1]) for r in rows}

    async def converge(
        self, timeout_s: float = 180, committed: Callable[[], bool] | None = None
    ) -> float:
        """Wait until every device's head is committed centrally (or ``committed()``) and the
        projector caught up; return the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout_s
        for p in self.processes:
            if p.paused:
                p.resume()
        while not await asyncio.to_thread(committed or self.all_committed):
            self._check_deadline(deadline, f"central committed {self.committed_seqs()}")
            await asyncio.sleep(0.25)
        while not await asyncio.to_thread(self.projected):
            self._check_deadline(deadline, "the projector to catch up")
            await asyncio.sleep(0.25)
        return time.monotonic() - started

    def _check_deadline(self, deadline: float, what: str) -> None:
        for p in self.processes:
            if not p.alive:  # the harness restarts what it kills: this one died by itself
                code = p.popen.returncode if p.popen is not None else None
                self.deaths.append(f"{p.name} exited with {code}: {p.log_text()[-300:]!r}")
                p.start()
        if time.monotonic() > deadline:
            raise TimeoutError(f"not converged: waiting for {what}")

    def projected(self) -> bool:
        """The projector's position passed every event and no released event waits."""
        with self.store.engine.connect() as conn:
            if not sa.inspect(conn).has_table(projector_position.name):
                return False
            pos = conn.execute(
                sa.select(projector_position.c.position).where(projector_position.c.name == NAME)
            ).scalar()
            last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar()
            waiting = conn.execute(
                sa.select(sa.func.count())
                .select_from(projector_held.join(events, events.c.id == projector_held.c.event_pk))
                .where(events.c.status == "committed")
            ).scalar()
        return int(pos or 0) >= int(last or 0) and not waiting

    async def close(self) -> None:
        for p in self.processes:
            await asyncio.to_thread(p.stop)
        for d in self.devices:
            if d.link is not None:
                await d.link.close()
        with contextlib.suppress(Exception):
            self.store.close()
        await asyncio.to_thread(self.nats.stop)
