"""Dates the teller CLI fills in are the cooperative's business date, whatever the machine's
own time zone says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from edge_agent.app.teller import a_month_after
from sync_core import localtime

COOP = "9171010001-JYP"  # Papua (WIT, UTC+9); village code made up within 9171


def machine_zone_on_another_day(coop: str, now_ms: int) -> str:
    """A POSIX TZ whose local date differs from the cooperative's date at ``now_ms``: an
    hour before the cooperative's midnight, or an hour after it, whichever offset exists."""
    coop_hours = localtime.offset_ms(coop) // localtime.HOUR_MS
    into_day = (now_ms + localtime.offset_ms(coop)) % localtime.DAY_MS // localtime.HOUR_MS
    east_of_utc = coop_hours - into_day - 1  # 23:xx of the day before
    if east_of_utc < -12:
        east_of_utc = coop_hours + (24 - into_day) + 1  # 00:xx-01:xx of the day after
    return f"UTC{-east_of_utc:+d}"  # POSIX TZ counts hours west of UTC


def edge(data: Path, tz: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "TZ": tz}
    cmd = [sys.executable, "-m", "kopsync", "edge", *args, "--data", str(data), "--json"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


def test_default_first_due_is_a_month_after_the_cooperatives_day(tmp_path: Path) -> None:
    """`loan approve` without --first-due dates the first instalment a month after today in
    the cooperative's zone (WIT here), not after the date of the machine's zone."""
    data = tmp_path / "kasir-1"
    now = time.time_ns() // 1_000_000
    tz = machine_zone_on_another_day(COOP, now)
    edge(data, tz, "init", "--coop", COOP, "--device", "kasir-1")
    member = edge(data, tz, "member", "register", "--nik", "9171014403900001", "--kk",
                  "9171010101150001", "--name", "Yohana Wenda", "--birth-date", "1990-03-04",
                  "--desa", "9171010001")["member_id"]  # fmt: skip
    loan = edge(data, tz, "loan", "apply", "--member", str(member), "--amount", "1000000",
                "--purpose", "modal kios", "--tenor", "6")["loan_id"]  # fmt: skip
    before = localtime.today(COOP, now)
    approved = edge(data, tz, "loan", "approve", str(loan), "--principal", "1000000",
                    "--rate-bp", "1200", "--tenor", "6")  # fmt: skip
    after = localtime.today(COOP, time.time_ns() // 1_000_000)
    done = subprocess.run(
        [sys.executable, "-m", "kopsync", "edge", "log", "--data", str(data), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines()]
    (event,) = [e for e in events if e["event_id"] == approved["event_id"]]
    assert event["payload"]["first_due"] in {a_month_after(before), a_month_after(after)}
    machine_day = time.strftime("%Y-%m-%d", time.gmtime(now / 1000 - 3600 * int(tz[3:])))
    assert machine_day != before, "the machine's zone was meant to be on another day"
