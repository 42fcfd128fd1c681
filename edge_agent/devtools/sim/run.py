"""``simulate``: install the reference data, then record ``count`` generated commands."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim.batch import Batch
from edge_agent.devtools.sim.generator import Device
from edge_agent.devtools.sim.pool import Pool
from edge_agent.devtools.sim.reference import install_reference


@dataclass
class SimResult:
    recorded: int
    by_type: dict[str, int]
    reference_events: int
    first_seq: int
    last_seq: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.recorded / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "by_type": dict(sorted(self.by_type.items())),
            "reference_events": self.reference_events,
            "last_seq": self.last_seq,
        }


def simulate(agent: EdgeAgent, count: int, *, seed: int = 1, batch: int = 50) -> SimResult:
    """Record exactly ``count`` valid events on ``agent``'s device (see the package doc)."""
    started = time.perf_counter()
    pool = Pool(agent.coop_id, seed)
    installed = install_reference(agent, pool)
    first = agent.head().seq + 1
    out = Batch(agent, batch)
    Device(agent, pool, out).run(count)
    by_type = dict(Counter(e.type for e in out.recorded))
    seconds = time.perf_counter() - started
    return SimResult(len(out.recorded), by_type, installed, first, agent.head().seq, seconds)
