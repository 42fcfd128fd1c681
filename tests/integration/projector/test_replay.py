"""`kopsync central replay`: verify, swap, scopes, SIGKILL resume, a live projector beside it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from support.projector_db import sql_snapshot
from support.replay_data import commit, fresh_projection, workload_rows

from central_projector.projection.folds import State, apply
from central_projector.projection.folds.base import Event
from central_projector.projection.projector import Projector
from central_projector.projection.replay import Replay, Scope
from central_projector.record.tables import events
from kopsync.cli.main import cli


def replay(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["central", "replay", "--db", url, *args])


def projected(url: str, rows: list[dict[str, Any]]) -> None:
    commit(url, rows)
    with Projector(url) as projector:
        projector.run_once()


def snapshot(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        return sql_snapshot(engine)
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: Any) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            return result.fetchall() if result.returns_rows else None
    finally:
        engine.dispose()


def alter_savings(url: str, coop: str | None = None) -> tuple[str, str]:
    """Add one rupiah to a savings balance (of ``coop``, if given): a corrupted live row."""
    where = "WHERE coop_id = :coop " if coop else ""
    key = execute(url, f"SELECT coop_id, account_id FROM rm_savings {where}"
                       "ORDER BY account_id LIMIT 1", coop=coop)[0]  # fmt: skip
    execute(url, "UPDATE rm_savings SET balance = balance + 1 "
                 "WHERE coop_id = :c AND account_id = :a", c=key[0], a=key[1])  # fmt: skip
    return key[0], key[1]


def test_verify_reports_no_difference_after_a_normal_projection(db_url: str) -> None:
    """A rebuild at the live position equals what the live projector made, table by table."""
    projected(db_url, workload_rows(3, 3000))
    result = replay(db_url, "--verify")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("no difference: the read models rebuilt at position 3000")
    tables = execute(db_url, "SELECT count(*) FROM rm_savings")[0][0]
    assert tables > 0
    assert not sa.inspect(sa.create_engine(db_url)).has_table("rmx_replay")  # shadow dropped


def test_verify_reports_an_altered_live_row_and_never_swaps(sqlite_url: str) -> None:
    """A changed balance and a deleted price are each reported by table and key; the live
    rows stay as they were and the exit status is 1."""
    projected(sqlite_url, workload_rows(2, 2000))
    coop, account = alter_savings(sqlite_url)
    price = execute(sqlite_url, "SELECT coop_id, sku FROM rm_price ORDER BY sku LIMIT 1")[0]
    execute(sqlite_url, "DELETE FROM rm_price WHERE coop_id = :c AND sku = :s",
            c=price[0], s=price[1])  # fmt: skip
    result = replay(sqlite_url, "--verify")
    assert result.exit_code == 1
    # two tables differ, among every read-model table compared (their number grows with them)
    assert re.search(r"2 difference\(s\) at position 2000 in 2 of \d+ tables", result.stdout)
    assert f"rm_savings (coop_id, account_id) = ({coop}, {account}):" in result.stdout
    assert f"rm_price (coop_id, sku) = ({price[0]}, {price[1]}): missing from live" in result.stdout
    data = json.loads(replay(sqlite_url, "--verify", "--json").stdout)
    assert data["identical"] is False and data["swapped"] is False
    savings = next(t for t in data["tables"] if t["table"] == "rm_savings")
    (changed,) = savings["changed"]
    assert changed["key"] == [coop, account]
    live, rebuilt = changed["columns"]["balance"]["live"], changed["columns"]["balance"]["rebuilt"]
    assert live == rebuilt + 1
    assert execute(sqlite_url, "SELECT balance FROM rm_savings WHERE account_id = :a",
                   a=account)[0][0] == live  # fmt: skip


def test_a_replay_swaps_in_read_models_equal_to_a_fresh_projection(
    db_url: str, tmp_path: Path
) -> None:
    """Corrupted live rows are replaced; afterwards the read models equal a from-scratch
    projection, the generation moved on, and a verify finds nothing."""
    rows = workload_rows(3, 3000)
    projected(db_url, rows)
    alter_savings(db_url)
    execute(db_url, "DELETE FROM rm_member WHERE member_id IN "
                    "(SELECT member_id FROM rm_member ORDER BY member_id LIMIT 3)")  # fmt: skip
    result = replay(db_url, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["swapped"] and data["generation"] == 1 and data["position"] == 3000
    assert snapshot(db_url) == fresh_projection(tmp_path, rows)
    assert replay(db_url, "--verify").exit_code == 0


def test_a_whole_replay_projects_what_the_live_projector_has_not_yet(
    sqlite_url: str, tmp_path: Path
) -> None:
    """With no live projection yet, a replay builds everything committed and swaps it in
    at that position; the live projector then has nothing left to do."""
    rows = workload_rows(2, 2000)
    commit(sqlite_url, rows)
    data = json.loads(replay(sqlite_url, "--json").stdout)
    assert data["swapped"] and data["position"] == 2000 and data["events_read"] == 2000
    assert snapshot(sqlite_url) == fresh_projection(tmp_path, rows)
    with Projector(sqlite_url) as live:
        assert live.run_once().events == 0


@pytest.mark.parametrize("released_before", [False, True])
@pytest.mark.parametrize("args", [[], ["--projection", "savings"]])
def test_an_event_held_behind_a_gap_is_folded_once_whenever_it_is_released(
    sqlite_url: str, tmp_path: Path, args: list[str], released_before: bool
) -> None:
    """A deposit the live projector passed while it was held behind a seq gap, released
    before the replay or after its swap, is folded exactly once."""
    rows = workload_rows(2, 2000)
    held = next(i for i, r in enumerate(rows) if r["type"] == "SavingsDeposited")
    waiting = [dict(r, status="held") if i == held else r for i, r in enumerate(rows)]
    projected(sqlite_url, waiting)
    release = "UPDATE events SET status = 'committed' WHERE event_id = :e"
    if released_before:
        execute(sqlite_url, release, e=rows[held]["event_id"])
    assert replay(sqlite_url, *args).exit_code == 0
    execute(sqlite_url, release, e=rows[held]["event_id"])
    with Projector(sqlite_url) as live:
        live.run_once()
        assert live.pending_held() == 0
    assert snapshot(sqlite_url) == fresh_projection(tmp_path, rows)


def test_a_projection_replay_rebuilds_only_its_own_rows(sqlite_url: str) -> None:
    """--projection savings repairs a savings balance and leaves a corrupted member alone."""
    projected(sqlite_url, workload_rows(2, 2000))
    alter_savings(sqlite_url)
    execute(sqlite_url, "UPDATE rm_member SET status = 'X' WHERE member_id IN "
                        "(SELECT member_id FROM rm_member ORDER BY member_id LIMIT 1)")  # fmt: skip
    assert replay(sqlite_url, "--projection", "savings").exit_code == 0
    result = replay(sqlite_url, "--verify", "--json")
    tables = [t["table"] for t in json.loads(result.stdout)["tables"]]
    assert tables == ["rm_member"]
    assert replay(sqlite_url, "--verify", "--projection", "savings").exit_code == 0


def test_since_rebuilds_the_cooperatives_that_received_events_since(sqlite_url: str) -> None:
    """With one cooperative's events received in the last hour, --since 1h repairs its rows
    (from its whole history) and leaves the other cooperatives' rows as they are."""
    rows = workload_rows(3, 3000)
    coops = sorted({r["coop_id"] for r in rows})
    now = int(time.time() * 1000)
    for r in rows:
        r["received_at"] = now - 60_000 if r["coop_id"] == coops[0] else now - 86_400_000
    projected(sqlite_url, rows)
    alter_savings(sqlite_url, coops[0])
    alter_savings(sqlite_url, coops[1])
    result = replay(sqlite_url, "--since", "1h", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["scope"]["coops"] == [coops[0]]
    diff = json.loads(replay(sqlite_url, "--verify", "--json").stdout)
    (savings,) = diff["tables"]
    assert [c["key"][0] for c in savings["changed"]] == [coops[1]]
    quiet = replay(sqlite_url, "--since", "2026-12-31T00:00:00+07:00")
    assert quiet.exit_code == 0 and "nothing to replay" in quiet.stdout


def test_a_replay_killed_mid_way_resumes_and_equals_a_fresh_projection(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SIGKILL while the shadow is half built; the re-run resumes from the shadow's position
    and the swapped read models equal a from-scratch projection."""
    rows = workload_rows(6, 30_000)
    projected(sqlite_url, rows)
    kopsync = Path(sys.executable).with_name("kopsync")
    proc = subprocess.Popen(
        [str(kopsync), "central", "replay", "--db", sqlite_url, "--batch", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = sa.create_engine(sqlite_url)
    position = 0
    deadline = time.monotonic() + 60
    try:
        while position < 3000 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            try:
                with engine.connect() as conn:
                    position = (
                        conn.execute(
                            sa.text("SELECT position FROM rmx_projector_position")
                        ).scalar()
                        or 0
                    )
            except sa.exc.OperationalError:  # not made yet
                pass
        assert proc.poll() is None, "the replay finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        engine.dispose()
    assert 0 < position < len(rows)
    result = replay(sqlite_url, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["resumed"] is True and data["events_read"] < len(rows)
    assert snapshot(sqlite_url) == fresh_projection(tmp_path, rows)


def deposits_lost_while(bug: threading.Event) -> Callable[[State, list[Event]], None]:
    """The fold with a bug while ``bug`` is set: savings deposits are not folded."""

    def fold(state: State, events: list[Event]) -> None:
        apply(state, [e for e in events if not (bug.is_set() and e.type == "SavingsDeposited")])

    return fold


@contextlib.contextmanager
def running(url: str, live: Projector, rest: list[dict[str, Any]]) -> Iterator[list[BaseException]]:
    """``live`` following the store in a thread while another commits ``rest`` in small
    transactions; on exit, waits until everything is committed and projected."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            while not stop.is_set():
                live.run_once()
                time.sleep(0.01)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def produce() -> None:
        engine = sa.create_engine(url)
        try:
            for i in range(0, len(rest), 200):
                with engine.begin() as conn:
                    conn.execute(sa.insert(events), rest[i : i + 200])
                time.sleep(0.01)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=follow), threading.Thread(target=produce)]
    for t in threads:
        t.start()
    try:
        yield errors
        threads[1].join(timeout=120)
        last = execute(url, "SELECT max(id) FROM events")[0][0]
        deadline = time.monotonic() + 60
        while live.position() < last and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


def test_a_swap_while_the_live_projector_runs_and_events_keep_arriving(
    db_url: str, tmp_path: Path
) -> None:
    """The live projector folded deposits wrongly (a bug) and keeps running with the fixed
    code while events are committed and a replay swaps: afterwards the read models equal a
    from-scratch projection, so the live projector dropped its stale cached rows."""
    rows = workload_rows(3, 8000)
    first, rest = rows[:4000], rows[4000:]
    commit(db_url, first)
    bug = threading.Event()
    bug.set()
    with Projector(db_url, batch_size=300, fold=deposits_lost_while(bug)) as live:
        live.run_once()
        bug.clear()
        with running(db_url, live, rest) as errors, Replay(db_url, batch_size=500) as run:
            run.begin(Scope(), {"projections": [], "since": None})
            run.build()
            assert run.finish(verify=False).swapped
    assert errors == []
    assert snapshot(db_url) == fresh_projection(tmp_path, rows)


def test_verify_while_the_live_projector_runs_finds_no_difference(db_url: str) -> None:
    """A verify beside a live projector that keeps folding new events compares one
    consistent moment and finds nothing."""
    rows = workload_rows(3, 8000)
    commit(db_url, rows[:4000])
    with Projector(db_url, batch_size=300) as live:
        live.run_once()
        with running(db_url, live, rows[4000:]) as errors:
            result = replay(db_url, "--verify", "--batch", "500", "--json")
    assert errors == []
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["identical"] and data["position"] >= 4000


def test_a_swap_under_an_idle_live_projector_changes_what_it_folds_next(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The live projector is caught up (position unchanged by the swap); only the
    generation tells it that its cached rows were replaced."""
    rows = workload_rows(2, 4000)
    first, rest = rows[:2000], rows[2000:]
    commit(sqlite_url, first)
    bug = threading.Event()
    bug.set()
    with Projector(sqlite_url, fold=deposits_lost_while(bug)) as live:
        live.run_once()
        bug.clear()
        assert replay(sqlite_url).exit_code == 0
        commit(sqlite_url, rest)
        live.run_once()
    assert snapshot(sqlite_url) == fresh_projection(tmp_path, rows)


def test_progress_is_plain_lines_with_rate_and_eta_when_not_on_a_terminal(sqlite_url: str) -> None:
    """Off a terminal the build prints periodic lines: events done of total, rate, ETA."""
    projected(sqlite_url, workload_rows(2, 2000))
    result = replay(sqlite_url, "--verify", "--batch", "500", "--progress-every", "0")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("replay: 0/2000 events (0.0 %)")
    assert len(lines) == 5  # 0, 500, 1000, 1500, 2000
    assert lines[-1].startswith("replay: 2000/2000 events (100.0 %), ")
    assert all(" events/s, ETA " in line for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--projection", "sales"], "error: unknown projection sales; valid: aid, loans,"),
        (["--projection", "aid"], "error: aid cannot be replayed without shop"),
        (["--since", "kemarin"], "error: --since must be an ISO time"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    sqlite_url: str, args: list[str], message: str
) -> None:
    """An unknown projection, an inseparable one or a bad time: one line, exit 2."""
    result = replay(sqlite_url, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_an_unreadable_database_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    """A store that is not there is reported on one line, exit 2, and not made."""
    result = replay(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no central store at ")
    assert result.stderr.count("\n") == 1
