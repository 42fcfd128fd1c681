"""Sibling sync benchmark: how fast a cooperative's devices see each other's events, and what
a hub on site costs or saves on the satellite.

Three devices of one cooperative run ``Replicator.run`` (as ``kopsync edge run`` does) against
a pinned nats-server as the province, with ``kopsync central ingest`` in its own process on a
SQLite store. The satellite is a :class:`LinkEmulator` of 300 ms each way (600 ms round trip)
and 1 Mbit/s each way. Two set-ups, the same workload:

- **direct** (the baseline): each device reaches the province over the satellite and follows
  its cooperative's committed events there (KOP_EVENTS);
- **hub**: ``kopsync edge hub`` runs on site as a leaf node of the province, its leaf link over
  the satellite; the devices reach the hub over the LAN (no emulation: loopback).

Workload: device A records ``--samples`` events one at a time (a price change, ~300 bytes),
each once the previous one has reached both siblings (after three not counted, once every
device has pinned the central and holds its siblings' registrations); then, with the hub, a
burst of ``--burst`` events recorded at once.

    python benchmarks/sibling_sync.py --quick      # 20 samples, a burst of 500: about 2 min
    python benchmarks/sibling_sync.py              # 100 samples, a burst of 5,000

Prints one JSON object on stdout and a one-line summary on stderr. The figures:

- ``lan_p50_s`` / ``lan_p99_s``: with the hub, from A's ``record`` returning until a sibling's
  store has applied the event (its sibling head for A reaches the seq; polled every 5 ms), over
  both siblings and every sample; p99 is nearest-rank (with fewer than 100 values, the maximum).
- ``province_p50_s`` / ``province_p99_s``: direct, from the central store's commit of the
  event (its ``committed_seq`` for A reaches the seq, polled every 10 ms) until a sibling has
  applied it; ``detail.province_total_*``: from A's ``record`` instead (the upload included).
- ``hub_relay_events_per_s``: the burst's size over the seconds from A's ``record`` of it until
  both siblings have applied all of it, through the hub.
- ``satellite_bytes_hub`` / ``satellite_bytes_direct``: bytes the satellite emulator carried,
  both directions, from the first sample until the central has committed every sample and
  both siblings have applied them; ``satellite_ratio`` is hub over direct (goal ≤ 1.0).

Goals (issue 14): LAN p99 ≤ 0.5 s; through the province p99 ≤ 2 s after commit; hub bytes
≤ 1.0 × direct. Devices, emulator and polling share one event loop and the machine's cores
with the servers, which only makes the figures worse than a LAN of separate devices.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _catchup import configure_device_log  # benchmarks/ is sys.path[0] when run as a script
from _harness import CentralProcess, NatsServer, percentile

from central_projector.record.store import CentralStore
from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.devtools.linkemu import LinkEmulator, LinkProfile
from kopsync.devnats import HOST, free_port, free_ports
from sync_core.protocol import PROVINCE_DOMAIN
from sync_core.transport import ConnectOptions

COOP = "6202081007"  # Bapinang Hilir (made-up village code within Kotawaringin Timur)
DEVICES = ("bph-kasir-1", "bph-kasir-2", "bph-gudang")
JS_BUDGET = 512 * 1024 * 1024
WARM_UP = 3
GOALS = {"lan_p99_s": 0.5, "province_p99_s": 2.0, "satellite_ratio": 1.0}


@dataclass(frozen=True, slots=True)
class Config:
    samples: int
    burst: int
    timeout_s: float


def price(n: int) -> Draft:
    return Draft("PriceSet", "BRS-5KG", {"sku": "BRS-5KG", "unit_price": 70_000 + n})


async def until(check: Callable[[], bool], timeout_s: float, what: str, every: float) -> float:
    """Poll ``check`` until it holds; the monotonic time it first held."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic()


def _applied(agent: EdgeAgent, sibling: str, seq: int) -> Callable[[], bool]:
    return lambda: agent.store.sibling_heads().get(sibling, 0) >= seq


def _committed(store: CentralStore, device: str, seq: int) -> Callable[[], bool]:
    return lambda: committed(store, device) >= seq


def committed(store: CentralStore, device: str) -> int:
    rows = {r["device_id"]: r["committed_seq"] for r in store.device_status()}
    return int(rows.get(device, 0))


class Devices:
    """The three devices' replicators, running until the block ends."""

    def __init__(self, agents: list[EdgeAgent], province: str, hub: str | None) -> None:
        hub_options = None if hub is None else ConnectOptions.for_url(hub)
        self.replicators = [
            Replicator(a, ReplicatorSettings(ConnectOptions.for_url(province), hub=hub_options))
            for a in agents
        ]
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Devices:
        self.tasks = [asyncio.create_task(r.run(self.stop)) for r in self.replicators]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 60)


async def samples(
    agents: list[EdgeAgent], store: CentralStore, n: int, first: int, timeout_s: float
) -> tuple[list[float], list[float], list[float]]:
    """Record ``n`` events on A one at a time: (record→applied, commit→applied, commits)."""
    a, siblings = agents[0], agents[1:]
    total: list[float] = []
    after_commit: list[float] = []
    for i in range(n):
        [env] = a.record_many([price(first + i)])
        t0 = time.monotonic()
        commit = asyncio.create_task(
            until(_committed(store, a.device_id, env.seq), timeout_s, "commit", 0.01)
        )
        done = await asyncio.gather(
            *(
                until(_applied(s, a.device_id, env.seq), timeout_s, "applied", 0.005)
                for s in siblings
            )
        )
        commit_at = await commit
        total += [t - t0 for t in done]
        after_commit += [max(t - commit_at, 0.0) for t in done]
    return total, after_commit, []


async def run(cfg: Config, workdir: Path) -> dict[str, Any]:
    agents = [EdgeAgent.init(workdir / d, COOP, d) for d in DEVICES]
    store = CentralStore(f"sqlite:///{workdir / 'central.db'}")
    for a in agents:
        store.register_device(a.coop_id, a.device_id, a.public_key)
    leaf_port, port, monitor_port = free_ports(3)
    config = workdir / "province.conf"
    config.write_text(
        f"jetstream {{ domain: {PROVINCE_DOMAIN} }}\nleafnodes {{ listen: {HOST}:{leaf_port} }}\n"
    )
    out: dict[str, Any] = {}
    hub_proc = None
    try:
        with NatsServer(workdir, config, ports=(port, monitor_port)) as province:
            async with CentralProcess(province.url, store.url, workdir, JS_BUDGET):
                # --- direct: every device over the satellite ---------------------------------
                async with LinkEmulator(HOST, province.port, LinkProfile.satellite()) as sat:
                    async with Devices(agents, sat.url, None):
                        await _settled(agents, store, cfg.timeout_s)
                        before = sat.bytes_up + sat.bytes_down
                        total, after, _ = await samples(
                            agents, store, cfg.samples, 0, cfg.timeout_s
                        )
                        # every sample committed (samples waits for it) and applied by both
                        out["direct_bytes"] = sat.bytes_up + sat.bytes_down - before
                    out["province_total"], out["province_after_commit"] = total, after
                # --- hub: the leaf over the satellite, the devices on the LAN --------------------
                async with LinkEmulator(HOST, leaf_port, LinkProfile.satellite()) as sat:
                    hub_port = free_port()
                    hub_proc = await _start_hub(workdir / "hub", sat.port, hub_port)
                    hub_url = f"nats://{HOST}:{hub_port}"
                    async with Devices(agents, province.url, hub_url):
                        await _settled(agents, store, cfg.timeout_s)
                        before = sat.bytes_up + sat.bytes_down
                        total, _, _ = await samples(
                            agents, store, cfg.samples, cfg.samples, cfg.timeout_s
                        )
                        await until(
                            lambda: committed(store, agents[0].device_id) == agents[0].head().seq,
                            cfg.timeout_s,
                            "the samples committed through the hub",
                            0.01,
                        )
                        out["hub_bytes"] = sat.bytes_up + sat.bytes_down - before
                        out["lan"] = total
                        burst = [price(10_000 + i) for i in range(cfg.burst)]
                        t0 = time.monotonic()
                        last = agents[0].record_many(burst)[-1].seq
                        done = await asyncio.gather(
                            *(
                                until(
                                    _applied(s, agents[0].device_id, last),
                                    cfg.timeout_s,
                                    "the burst",
                                    0.005,
                                )
                                for s in agents[1:]
                            )
                        )
                        out["burst_s"] = max(done) - t0
    finally:
        if hub_proc is not None:
            hub_proc.terminate()
            await asyncio.to_thread(hub_proc.wait, 20)
        store.close()
        for a in agents:
            a.close()
    return out


async def _settled(agents: list[EdgeAgent], store: CentralStore, timeout_s: float) -> None:
    """Every device has pinned the central and sees its siblings' registrations."""

    def ready() -> bool:
        return all(
            (a.store.meta("sync") or {}).get("central_key") is not None
            and all(a.view(f"device:{d}") for d in DEVICES)
            for a in agents
        )

    await until(ready, timeout_s, "the devices are registered and synced", 0.05)
    # Warm-up, not counted: three events through, so the followers' consumers are in place.
    await samples(agents, store, WARM_UP, 100_000 + agents[0].head().seq, timeout_s)


async def _start_hub(directory: Path, leaf_port: int, port: int) -> Any:
    import subprocess

    directory.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "kopsync", "edge", "hub", "--coop", COOP]
    args += ["--province", f"nats-leaf://{HOST}:{leaf_port}", "--dir", str(directory)]
    args += ["--listen", f"{HOST}:{port}"]
    log = (directory / "hub.out").open("ab")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    await until(
        lambda: b"ready at" in (directory / "hub.out").read_bytes() or proc.poll() is not None,
        30,
        "the hub is ready",
        0.05,
    )
    if proc.poll() is not None:
        raise RuntimeError(f"the hub did not start; see {directory / 'hub.out'}")
    return proc


def result(cfg: Config, out: dict[str, Any]) -> dict[str, Any]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    ratio = out["hub_bytes"] / out["direct_bytes"] if out["direct_bytes"] else None
    figures = {
        "lan_p50_s": r(percentile(out["lan"], 50)),
        "lan_p99_s": r(percentile(out["lan"], 99)),
        "province_p50_s": r(percentile(out["province_after_commit"], 50)),
        "province_p99_s": r(percentile(out["province_after_commit"], 99)),
        "hub_relay_events_per_s": round(cfg.burst / out["burst_s"], 1),
        "satellite_bytes_hub": out["hub_bytes"],
        "satellite_bytes_direct": out["direct_bytes"],
        "satellite_ratio": r(ratio),
    }
    met = {k: figures[k] is not None and figures[k] <= v for k, v in GOALS.items()}
    return {
        **figures,
        "goals": GOALS,
        "goals_met": met,
        "detail": {
            "samples": cfg.samples,
            "burst": cfg.burst,
            "province_total_p50_s": r(percentile(out["province_total"], 50)),
            "province_total_p99_s": r(percentile(out["province_total"], 99)),
            "burst_s": r(out["burst_s"]),
            "satellite": "300 ms each way, 1 Mbit/s each way",
        },
    }


def summary(res: dict[str, Any]) -> str:
    return (
        f"siblings: LAN p50 {res['lan_p50_s']} s p99 {res['lan_p99_s']} s; province p50 "
        f"{res['province_p50_s']} s p99 {res['province_p99_s']} s after commit; hub relays "
        f"{res['hub_relay_events_per_s']} events/s; satellite bytes hub/direct "
        f"{res['satellite_ratio']} ({res['satellite_bytes_hub']} / "
        f"{res['satellite_bytes_direct']})"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="20 samples, a burst of 500")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--burst", type=int, default=None)
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args(argv)
    cfg = Config(
        samples=args.samples or (20 if args.quick else 100),
        burst=args.burst or (500 if args.quick else 5000),
        timeout_s=args.timeout,
    )
    with tempfile.TemporaryDirectory(prefix="kopsync-siblings-") as tmp:
        configure_device_log(Path(tmp) / "devices.log")
        res = result(cfg, asyncio.run(run(cfg, Path(tmp))))
    print(json.dumps(res, indent=2))
    print(summary(res), file=sys.stderr)


if __name__ == "__main__":
    main()
