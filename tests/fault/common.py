"""What every fault scenario shares: its budget (short or long mode) and its result row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fault.oracle import Key, Verdict, check, edge_logs
from fault.system import System


@dataclass(frozen=True, slots=True)
class Budget:
    """How much a scenario does: the short mode (CI) unless ``long``; explicit counts win."""

    long: bool = False
    runs: int | None = None
    events: int | None = None
    duration_s: float | None = None
    seed: int = 1

    def count(self, short: int, long: int) -> int:
        return self.runs if self.runs is not None else long if self.long else short

    def per_device(self, short: int, long: int) -> int:
        return self.events if self.events is not None else long if self.long else short

    def seconds(self, short: float, long: float) -> float:
        if self.duration_s is not None:
            return self.duration_s
        return long if self.long else short


@dataclass
class Result:
    """One row of docs/RELIABILITY.md: what ran, and how the promise held."""

    scenario: str
    runs: int
    events: int
    lost: int
    duplicated: int
    detected: int | None = None  # faults that had to be detected, and were
    to_detect: int | None = None
    ok: bool = False
    seconds: float = 0.0
    seed: int = 1
    mode: str = "short"
    notes: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        found = "" if self.to_detect is None else f", detected {self.detected}/{self.to_detect}"
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"fault {self.scenario} ({self.mode}, seed {self.seed}): {verdict}; {self.runs} runs, "
            f"{self.events} events, lost {self.lost}, duplicated {self.duplicated}{found}; "
            f"{self.seconds:.1f} s"
        )


Scenario = Callable[[Budget, Path], Awaitable[Result]]


async def judge(system: System, excluded: list[Key] | None = None) -> Verdict:
    """The oracle's verdict on a converged system."""

    def work() -> Verdict:
        agents = [d.agent() for d in system.devices]
        try:
            oracle = edge_logs(agents)
        finally:
            for a in agents:
                a.close()
        return check(system.store.engine, oracle, excluded or [])

    verdict = await asyncio.to_thread(work)
    gone = [f"{p.name} is not running at the end" for p in system.processes if not p.alive]
    verdict.deaths = [*system.deaths, *gone]
    return verdict


def result(
    name: str, budget: Budget, started: float, runs: int, verdict: Verdict, **kw: Any
) -> Result:
    """A result row from the oracle's verdict; ``ok`` also needs every fault detected."""
    res = Result(
        scenario=name,
        runs=runs,
        events=verdict.events,
        lost=verdict.lost + verdict.mismatched,
        duplicated=verdict.duplicated + verdict.extra,
        seed=budget.seed,
        mode="long" if budget.long else "short",
        **kw,
    )
    res.detail = {"oracle": verdict.to_json(), **res.detail}
    detected_all = res.to_detect is None or res.detected == res.to_detect
    res.ok = verdict.ok and detected_all and not res.detail.get("problems")
    res.seconds = round(time.monotonic() - started, 1)
    return res
