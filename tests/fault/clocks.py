"""The clock scenario: device clocks a day slow or fast, ten years fast, or set back."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import sqlalchemy as sa

from central_projector.ingest.verdict import SKEW_LIMIT_MS
from central_projector.record.tables import events
from edge_agent.app.agent import wall_ms
from edge_agent.devtools.sim import simulate
from fault.common import Budget, Result, judge, result
from fault.oracle import Key
from fault.system import Device, System
from sync_core.envelope import Envelope

DAY_MS = 24 * 3600 * 1000


async def clock_skew(budget: Budget, root: Path) -> Result:
    """Devices 1 day slow, 1 day fast, 10 years fast, and 10 years fast then set back (a
    reinstall). Seq stays gapless and the HLC strictly increasing on every device; exactly the
    events more than 24 h ahead of their receipt are flagged CLOCK_SKEW; devices within a
    day are never flagged, even after a skewed device synced."""
    started = time.monotonic()
    runs = budget.count(1, 3)
    offsets = [-DAY_MS, DAY_MS, 3652 * DAY_MS, 3652 * DAY_MS]
    system = await System(root, device_count=4).start()
    n = budget.per_device(60, 400)
    try:
        for _ in range(runs):
            for d, off in zip(system.devices, offsets, strict=True):
                await _record_at(d, n, off)
            await system.converge()
            await _record_at(system.devices[3], n, 0)  # reinstalled: the clock is right again
            for d in system.devices[:2]:  # honest devices sync after the skewed ones did
                await _record_at(d, n, offsets[system.devices.index(d)])
            await system.converge()
        verdict = await judge(system)
        mono = [d.device_id for d in system.devices if not _monotonic(d)]
        expected, flagged, honest = _skew_flags(system)
    finally:
        await system.close()
    problems = [f"HLC or seq not monotonic on {mono}"] if mono else []
    wrong = len(flagged ^ expected)
    if wrong:
        problems.append(f"{wrong} events flagged differently from the 24 h rule")
    if honest:
        problems.append(f"{honest} events of devices within a day flagged CLOCK_SKEW")
    return result(
        "clock_skew",
        budget,
        started,
        runs,
        verdict,
        detected=len(flagged & expected),
        to_detect=len(expected),
        notes="-1 d, +1 d, +10 y, +10 y then back to now",
        detail={"problems": problems, "flagged": len(flagged), "honest_flagged": honest},
    )


async def _record_at(device: Device, events_: int, offset_ms: int) -> None:
    def work() -> None:
        with device.agent(lambda: wall_ms() + offset_ms) as agent:
            simulate(agent, events_, seed=1)

    await asyncio.to_thread(work)


def _monotonic(device: Device) -> bool:
    with device.agent() as agent:
        envs = list(agent.store.events())
    return all(b.seq == a.seq + 1 and b.hlc > a.hlc for a, b in itertools.pairwise(envs)) and (
        not envs or envs[0].seq == 1
    )


def _skew_flags(system: System) -> tuple[set[Key], set[Key], int]:
    """(events the 24 h rule flags, events flagged, flagged events of honest devices)."""
    with system.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                events.c.device_id,
                events.c.seq,
                events.c.envelope,
                events.c.received_at,
                events.c.flags,
            ).where(events.c.status == "committed")
        ).all()
    expected = {(r[0], r[1]) for r in rows if Envelope.decode(r[2]).hlc.wall > r[3] + SKEW_LIMIT_MS}
    flagged = {(r[0], r[1]) for r in rows if "CLOCK_SKEW" in (r[4] or "")}
    honest = {d.device_id for d in system.devices[:2]}
    return expected, flagged, sum(1 for k in flagged if k[0] in honest)
