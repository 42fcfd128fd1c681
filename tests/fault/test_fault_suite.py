"""The fault-injection suite in short mode: every scenario keeps kopsync's promise (nothing
lost, nothing duplicated, every corruption and malformed input detected).

Long mode and the 10-minute memory soak run from ``benchmarks/fault_suite.py --long``
(or ``pytest -m slow``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fault.common import Budget, Result
from fault.suite import SCENARIOS

SEED = int(os.environ.get("KOPSYNC_FAULT_SEED", "20261201"))


async def _run(name: str, tmp_path: Path, **budget: object) -> Result:
    res = await SCENARIOS[name](Budget(seed=SEED, **budget), tmp_path)  # type: ignore[arg-type]
    if res.detail.get("skipped"):
        pytest.skip(res.notes)
    print(res.summary())
    assert (res.lost, res.duplicated) == (0, 0), res.detail
    assert res.detected == res.to_detect, res.detail
    assert res.ok, res.detail
    return res


async def test_sigkill_and_sigstop_of_every_process_lose_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    """SIGKILL or SIGSTOP/SIGCONT of nats-server, ingest, projector, edge run and an edge
    recorder at random moments: the central record and read models equal the oracle."""
    await _run("process_kill", tmp_path)


async def test_nats_restart_and_data_directory_loss_are_healed(tmp_path: Path) -> None:
    """A SIGKILLed nats-server and one whose JetStream directory was deleted mid-upload: the
    devices' reconciliation re-sends what was lost; exactly once."""
    await _run("nats_loss", tmp_path)


async def test_link_cuts_slow_links_and_half_open_connections(tmp_path: Path) -> None:
    """Cuts, a slow link, a half-open black hole and dropped connections: exactly once."""
    await _run("link_faults", tmp_path)


async def test_full_edge_disk_fails_clearly_and_recovers(tmp_path: Path) -> None:
    """A full edge file system gives one `error:` line, keeps every acknowledged event and
    recovers when space returns (skipped where tmpfs cannot be mounted)."""
    await _run("disk_full", tmp_path)


async def test_corrupted_rows_are_detected_and_never_propagated(tmp_path: Path) -> None:
    """A tampered edge row is named by `edge verify` and quarantined, never committed; a
    corrupted central row is named by `central verify`."""
    await _run("corruption", tmp_path)


async def test_clock_skew_is_flagged_and_keeps_order(tmp_path: Path) -> None:
    """±1 day, +10 years and a backward jump: order and seq hold, exactly the events more
    than 24 h ahead are flagged, honest devices never are."""
    await _run("clock_skew", tmp_path)


async def test_malformed_messages_are_all_quarantined_and_ingest_keeps_serving(
    tmp_path: Path,
) -> None:
    """2,000 malformed messages (Hypothesis envelopes and random bytes): each quarantined with
    a reason; ingest and projector keep serving; real devices then sync exactly once."""
    await _run("malformed", tmp_path)


async def test_replayed_uploads_have_no_effect_and_are_counted(tmp_path: Path) -> None:
    """Captured valid uploads re-published under fresh message ids change nothing and every
    replayed event is counted as a duplicate."""
    await _run("replay", tmp_path)


@pytest.mark.slow
async def test_soak_memory_stays_flat(tmp_path: Path) -> None:
    """Ten minutes of steady load: no process's RSS grows by 10 % or more (pytest -m slow)."""
    await _run("soak", tmp_path, long=True)
