"""Crash safety of the edge log under SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.app.agent import EdgeAgent

APPENDER = Path(__file__).parent.parent / "support" / "crash_appender.py"
KILLS = int(os.environ.get("KOPSYNC_CRASH_KILLS", "50"))


def _run_until_killed(data_dir: Path, rng: random.Random) -> dict[int, str]:
    """Start the appender, let it append for a random while, SIGKILL it; return acknowledged."""
    acked: dict[int, str] = {}
    proc = subprocess.Popen(
        [sys.executable, str(APPENDER), str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        deadline = time.monotonic() + rng.uniform(0.0, 0.25)
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if ready:
                _take(proc.stdout.readline(), acked)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Lines already written before the kill were acknowledged too.
        for rest in proc.stdout:
            _take(rest, acked)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return acked


def _take(line: str, acked: dict[int, str]) -> None:
    parts = line.split()
    if len(parts) == 2:  # a line cut by the kill is not an acknowledgement
        acked[int(parts[0])] = parts[1]


def test_every_acknowledged_append_survives_sigkill(tmp_path: Path) -> None:
    """After ≥50 SIGKILLs mid-append every acknowledged event is there, verified, gapless."""
    _kill_and_check(tmp_path, KILLS)


@pytest.mark.slow
def test_soak_every_acknowledged_append_survives_500_sigkills(tmp_path: Path) -> None:
    """The same promise over 500 SIGKILLs (a soak: `pytest -m slow`)."""
    _kill_and_check(tmp_path, max(KILLS, 500))


def _kill_and_check(tmp_path: Path, kills: int) -> None:
    data_dir = tmp_path / "dev"
    EdgeAgent.init(data_dir, "6401050012", "pos-1").close()
    rng = random.Random(20261122)
    acked: dict[int, str] = {}
    for _ in range(kills):
        acked.update(_run_until_killed(data_dir, rng))
    assert len(acked) > kills, "the appender should have acknowledged events between kills"
    with EdgeAgent(data_dir) as agent:
        report = agent.verify()
        assert report.ok, report
        stored = {e.seq: e.event_id for e in agent.store.events()}
        head = agent.head().seq
    assert sorted(stored) == list(range(1, head + 1))
    missing = {seq: eid for seq, eid in acked.items() if stored.get(seq) != eid}
    assert missing == {}
