"""Scenarios of dying, freezing and cut-off processes: SIGKILL and SIGSTOP/SIGCONT of every
process, nats-server restarts and loss of its data directory, link cuts, slow links and
half-open connections, and the memory soak. Each ends with the oracle's verdict."""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from edge_agent.devtools.linkemu import LinkProfile
from fault.common import Budget, Result, judge, result
from fault.system import Proc, System


async def _freeze(proc: Proc, seconds: float) -> None:
    proc.pause()
    await asyncio.sleep(seconds)
    proc.resume()


async def _hit(system: System, target: str, action: str, rng: random.Random, rec: Proc) -> None:
    """SIGKILL (then restart) or SIGSTOP (then SIGCONT) one process."""
    if target == "nats-server":
        if action == "kill":
            await asyncio.to_thread(system.nats.kill)
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            await asyncio.to_thread(system.nats.start)
        else:
            await asyncio.to_thread(system.nats.pause)
            await asyncio.sleep(rng.uniform(0.2, 2.5))
            system.nats.resume()
        return
    proc = rec if target == "recorder" else {p.name: p for p in system.processes}[target]
    if action == "kill":
        proc.kill()
        if proc is not rec:  # a killed recorder is a teller whose command never returned
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            proc.start()
    else:
        await _freeze(proc, rng.uniform(0.2, 2.5))


async def process_kill(budget: Budget, root: Path) -> Result:
    """SIGKILL or SIGSTOP/SIGCONT of a random process at a random moment, ``runs`` times,
    while a ``kopsync edge simulate`` recorder appends; then converge and ask the oracle."""
    started, rng = time.monotonic(), random.Random(budget.seed)
    runs = budget.count(6, 200)
    system = await System(root, device_count=3 if budget.long else 2).start()
    faults: list[str] = []
    problems: list[str] = []
    try:
        for d in system.devices:
            await system.record(d, budget.per_device(150, 1000))
        targets = [
            "nats-server",
            "ingest",
            "projector",
            "recorder",
            *(d.device_id for d in system.devices),
        ]
        for run in range(runs):
            device = rng.choice(system.devices)
            rec = system.recorder(device, rng.randint(20, 80), seed=1).start()
            target, action = rng.choice(targets), rng.choice(["kill", "stop"])
            await asyncio.sleep(rng.uniform(0.05, 1.5))
            faults.append(f"{run}:{action}:{target}")
            await _hit(system, target, action, rng, rec)
            code = await asyncio.to_thread(rec.popen.wait, 120) if rec.popen else 0
            if code not in (0, -9):
                problems.append(f"recorder exited {code} in run {run}")
        heal = await system.converge(timeout_s=240)
        verdict = await judge(system)
        restarts = {p.name: p.starts - 1 for p in system.processes}
    finally:
        await system.close()
    detail: dict[str, Any] = {"faults": faults, "restarts": restarts, "heal_s": round(heal, 1)}
    if problems:
        detail["problems"] = problems
    return result(
        "process_kill",
        budget,
        started,
        runs,
        verdict,
        detail=detail,
        notes="SIGKILL / SIGSTOP+SIGCONT of nats-server, ingest, projector, edge run, "
        "edge recorder",
    )


async def nats_loss(budget: Budget, root: Path) -> Result:
    """nats-server SIGKILLed, stopped gracefully, or killed with its JetStream directory
    deleted, mid-upload; the devices' reconciliation must heal every loss."""
    started, rng = time.monotonic(), random.Random(budget.seed)
    runs = budget.count(2, 12)
    kinds = ["wipe", "kill", "graceful"]
    system = await System(root, device_count=2).start()
    heals: list[dict[str, Any]] = []
    try:
        for run in range(runs):
            kind = kinds[run % len(kinds)]
            for d in system.devices:
                await system.record(d, budget.per_device(200, 1000), seed=1)
            await asyncio.sleep(rng.uniform(0.0, 0.6))  # uploads are under way
            if kind == "graceful":
                await asyncio.to_thread(system.nats.stop)
            else:
                await asyncio.to_thread(system.nats.kill)
            if kind == "wipe":
                shutil.rmtree(system.nats.store_dir, ignore_errors=True)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            await asyncio.to_thread(system.nats.start)
            heals.append({"kind": kind, "heal_s": round(await system.converge(timeout_s=240), 1)})
        verdict = await judge(system)
    finally:
        await system.close()
    return result(
        "nats_loss",
        budget,
        started,
        runs,
        verdict,
        detail={"runs": heals},
        notes="nats-server SIGKILL, graceful restart, JetStream data directory deleted",
    )


async def link_faults(budget: Budget, root: Path) -> Result:
    """Each device behind its own link emulator: cuts, a slow satellite-like link, half-open
    black holes and dropped connections while the devices record and upload."""
    started, rng = time.monotonic(), random.Random(budget.seed)
    runs = budget.count(6, 100)
    system = await System(root, device_count=2, linked=True).start()
    faults: list[str] = []
    try:
        for run in range(runs):
            for d in system.devices:
                await system.record(d, budget.per_device(80, 300), seed=1)
            await asyncio.sleep(rng.uniform(0.05, 0.8))
            device = rng.choice(system.devices)
            link = device.link
            assert link is not None
            kind = ["cut", "slow", "half_open", "drop"][run % 4]
            faults.append(f"{run}:{kind}:{device.device_id}")
            if kind == "cut":
                link.cut()
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                link.restore()
            elif kind == "slow":
                link.set_profile(LinkProfile(latency_s=0.3, bandwidth_bps=256_000))
                await asyncio.sleep(rng.uniform(2.0, 4.0))
                link.set_profile(LinkProfile())
            elif kind == "half_open":
                link.half_open()
                await asyncio.sleep(rng.uniform(2.0, 6.0))
                link.restore()
            else:
                link.drop_connections()
        heal = await system.converge(timeout_s=240)
        verdict = await judge(system)
    finally:
        await system.close()
    return result(
        "link_faults",
        budget,
        started,
        runs,
        verdict,
        detail={"faults": faults, "heal_s": round(heal, 1)},
        notes="link emulator: cuts 0.2-2 s, 300 ms / 256 kbit/s, half-open 2-6 s, connection drops",
    )


# The projector's memory bounds in the soak, reached within its warm-up tenth (see
# docs/RELIABILITY.md): with the production defaults (a million cached rows, 1 GiB of page
# cache, 4 GiB mapped) the caches fill for hours as the read models grow, which is growth by
# design; with bounds reached early, growth after the warm-up is a leak.
SOAK_PROJECTOR_BOUNDS = ("--cache-rows", "500", "--sqlite-cache-mib", "1", "--sqlite-mmap-mib", "0")


async def soak(budget: Budget, root: Path) -> Result:
    """Steady recording and syncing for ``duration``; RSS of every process sampled. Growth is
    the mean of the last tenth of the samples over the mean of the tenth after a warm-up
    tenth; the target is < 10 %."""
    started = time.monotonic()
    duration = budget.seconds(60.0, 600.0)
    system = await System(root, device_count=2, projector_args=SOAK_PROJECTOR_BOUNDS).start()
    samples: dict[str, list[int]] = {}
    parts: dict[str, list[int]] = {}  # the projector's RSS by kind (heap, files, shared)
    rounds = 0
    try:
        end = time.monotonic() + duration
        next_sample = time.monotonic()
        while time.monotonic() < end:
            for d in system.devices:
                await system.record(d, 20, seed=1)
            rounds += 1
            if time.monotonic() >= next_sample:
                for p in system.processes:
                    if (kib := p.rss_kib()) is not None:
                        samples.setdefault(p.name, []).append(kib)
                for kind, kib in system.projector.memory_kib().items():
                    parts.setdefault(kind, []).append(kib)
                next_sample += max(duration / 60, 1.0)
            await asyncio.sleep(1.0)
        await system.converge(timeout_s=240)
        verdict = await judge(system)
    finally:
        await system.close()
    growth = {name: _growth(values) for name, values in samples.items()}
    worst = max((g for g in growth.values() if g is not None), default=None)
    problems = [] if worst is not None and worst < 0.10 else [f"RSS growth {worst}"]
    res = result(
        "soak",
        budget,
        started,
        1,
        verdict,
        notes=f"{duration:.0f} s steady load",
        detail={
            "rss_growth": growth,
            "rss_kib_last": {k: v[-1] for k, v in samples.items()},
            "projector_kib": {k: _ends(v) for k, v in parts.items()},
            "projector_options": list(SOAK_PROJECTOR_BOUNDS),
            "rounds": rounds,
            "problems": problems,
        },
    )
    res.detail["rss_growth_max"] = worst
    return res


def _ends(values: list[int]) -> dict[str, float]:
    """The means of the two tenths that :func:`_growth` compares."""
    tenth = max(1, len(values) // 10)
    return {
        "early": round(statistics.fmean(values[tenth : 2 * tenth] or values)),
        "late": round(statistics.fmean(values[-tenth:])),
    }


def _growth(values: list[int]) -> float | None:
    tenth = max(1, len(values) // 10)
    if len(values) < 3 * tenth:
        return None
    early = statistics.fmean(values[tenth : 2 * tenth])
    late = statistics.fmean(values[-tenth:])
    return round(late / early - 1, 4)
