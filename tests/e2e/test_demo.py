"""``kopsync demo`` end to end: real nats-server, ingest and fan-out processes, SQLite files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.nats import NatsServer
from support.pii import leaked, pii_of
from support.procs import processes_using
from support.replication import stream_messages

from central_projector.ingest.streams import EVENTS
from sync_core import subjects
from sync_core.envelope import Envelope

SMALL = ["--cooperatives", "4", "--events", "60"]
STAGED_PEOPLE = {"Rusdiansyah", "6472021503850007", "081350441276", "Yohana Lisda", "Jumiati"}


def run_demo(
    kopsync: list[str], work: Path, *extra: str, timeout: float = 240, cwd: Path | None = None
) -> dict[str, Any]:
    out = subprocess.run(
        [*kopsync, "demo", *SMALL, "--dir", str(work), "--json", *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary: dict[str, Any] = json.loads(out.stdout)
    return summary


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    work = tmp_path_factory.mktemp("demo") / "run"
    return work, run_demo([sys.executable, "-m", "kopsync"], work)


def test_demo_finds_every_planned_conflict_and_commits_every_event(
    demo_run: tuple[Path, dict[str, Any]],
) -> None:
    """A small demo finds each staged conflict, and every device's events are synced (over
    TLS) and committed centrally, across four cooperatives of both provinces."""
    work, s = demo_run
    assert {p["kind"] for p in s["planned_conflicts"]} == {
        "DUPLICATE_REDEMPTION",
        "OVERSPEND",
        "LATE_REPAYMENT",
        "RECOVERY_AFTER_WRITE_OFF",
    }
    assert all(p["found"] and p["conflict_id"] for p in s["planned_conflicts"]), s
    coops = s["cooperatives"]
    assert len(coops) == 4 and {c["coop_id"][:2] for c in coops} == {"62", "64"}
    devices = [d for c in coops for d in c["devices"]]
    assert min(len(c["devices"]) for c in coops) == 1 and max(len(c["devices"]) for c in coops) == 3
    assert all(
        d["recorded"] >= 60 and d["recorded"] == d["synced"] == d["committed"] for d in devices
    )
    assert any(d["offline_rounds"] > 0 for d in devices)
    assert s["totals"]["committed"] == sum(d["recorded"] for d in devices)
    for kind in ("DUPLICATE_REDEMPTION", "OVERSPEND", "LATE_REPAYMENT", "RECOVERY_AFTER_WRITE_OFF"):
        assert s["totals"]["conflicts"][kind] >= 1
    assert all(n > 0 for n in s["partner_streams"].values()) and len(s["partner_streams"]) == 2
    assert json.loads((work / "summary.json").read_text())["totals"] == s["totals"]
    assert processes_using(work) == []
    # every service and device spoke TLS, with the CA the demo made for the run
    assert "TLS required for client connections" in (work / "nats-server.log").read_text()
    assert (work / "tls" / "ca" / "ca.crt").exists()
    assert "--tls-ca" in s["commands"][-1] and "tls://" in s["commands"][-1]


def test_demo_shows_the_books_late_loans_card_wallets_and_an_rat_basis(
    demo_run: tuple[Path, dict[str, Any]],
) -> None:
    """The summary shows the loan book of the cooperative lending the most on a date that
    puts its open loans in PAR30, the overspent card wallets (each rupiah at risk once),
    and its RAT basis with the members' credit, which `central report rat` prints the same."""
    _work, s = demo_run
    book = s["loan_book"]
    assert book["running"] > 0 and book["outstanding_principal"] > 0
    assert 0 < book["par30"] <= book["outstanding_principal"] and book["par30_bp"] > 0
    risk = s["at_risk"]
    assert risk["total"] == risk["duplicate_redemptions"] + risk["card_overspend"]
    assert risk["card_overspend"] == sum(c["overspend"] for c in s["card_wallets"])
    assert all(c["overspend"] > 0 and c["spent"] > c["credited"] - c["overspend"]
               for c in s["card_wallets"])  # fmt: skip
    staged = [c for c in s["card_wallets"] if c["card_uid"] == "KHBS-64-01-0101"]
    assert [(c["overspend"], c["debits"]) for c in staged] == [(120_000, ["shop"])]  # after aid
    rat = s["rat"]
    assert rat["coop_id"] == book["coop_id"] and rat["revenue"] > 0
    assert rat["gross_margin"] == rat["revenue"] - rat["cost_of_goods_sold"]
    assert rat["shu"] == rat["gross_margin"] + rat["interest_income"] - rat["expenses_recorded"]
    assert sum(rat["allocation"].values()) == max(rat["shu"], 0)
    assert rat["credit_sold"] > 0 and rat["receivables_outstanding"] >= 0  # sold on credit
    command = next(c for c in s["commands"] if " report rat " in c).split()
    out = subprocess.run([*command, "--json"], capture_output=True, text=True, check=True)
    assert {k: v for k, v in json.loads(out.stdout).items() if k in rat} == {
        k: v for k, v in rat.items() if k != "members_taking_part"
    }


def test_a_cooperatives_counters_share_their_events(
    demo_run: tuple[Path, dict[str, Any]],
) -> None:
    """Counters of one cooperative see each other's events (Bapinang Hilir through its hub, also
    while its satellite is down): its same-cooperative duplicate NIKs and redemptions are gone,
    while the staged offline conflicts are still found; the central saw it sync through the hub."""
    work, s = demo_run
    [hub] = [c for c in s["cooperatives"] if c["hub"]]
    assert hub["coop_id"] == "6202081007" and len(hub["devices"]) == 3
    assert all(d["siblings"] > 0 and d["offline_rounds"] >= 1 for d in hub["devices"])
    assert not {"DUPLICATE_NIK", "DUPLICATE_REDEMPTION"} & set(hub["conflicts"]), hub
    assert all(p["found"] for p in s["planned_conflicts"])
    shared = [c for c in s["cooperatives"] if len(c["devices"]) > 1]
    assert all(c["siblings"] > 0 for c in shared)
    out = subprocess.run(
        [sys.executable, "-m", "kopsync", "central", "status", "--db", s["db"], "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    via = {r["device_id"]: r["via"] for r in json.loads(out.stdout)}
    assert {via[d["device_id"]] for d in hub["devices"]} == {"hub-6202081007"}
    assert via["klp-kasir-1"] is None
    assert processes_using(work) == []


def test_demo_commands_to_look_further_work(demo_run: tuple[Path, dict[str, Any]]) -> None:
    """The central commands the summary prints run against the kept data and show the staged
    conflicts."""
    _work, s = demo_run
    show, conflicts = (s["commands"][k].split() for k in (0, 1))
    assert show[1:3] == ["central", "show"] and conflicts[1:3] == ["central", "conflicts"]
    out = subprocess.run([*show, "--json"], capture_output=True, text=True, check=True)
    view = json.loads(out.stdout)
    assert {"LATE_REPAYMENT", "RECOVERY_AFTER_WRITE_OFF"} <= {c["kind"] for c in view["conflicts"]}
    out = subprocess.run([*conflicts, "--json"], capture_output=True, text=True, check=True)
    ids = {c["id"] for c in json.loads(out.stdout)}
    assert {p["conflict_id"] for p in s["planned_conflicts"]} <= ids


async def test_partner_topics_after_the_demo_hold_no_personal_data_in_clear(
    demo_run: tuple[Path, dict[str, Any]],
) -> None:
    """After the demo, a scan of every message on every partner stream finds no NIK, KK number,
    name or phone number of any event in clear (the JetStream store is reopened)."""
    work, s = demo_run
    server = NatsServer(work).start()  # the demo's store: work/jetstream
    try:
        canonical = [
            Envelope.decode(m.data)
            for m in await stream_messages(server.url, EVENTS, subjects.canonical_wildcard())
        ]
        assert len(canonical) == s["totals"]["committed"] + sum(
            1
            for e in canonical
            if e.device_id not in {d["device_id"] for c in s["cooperatives"] for d in c["devices"]}
        )
        secrets = {v for e in canonical for v in pii_of(e)}
        assert secrets >= STAGED_PEOPLE
        assert len(secrets) > 100
        for stream, count in s["partner_streams"].items():
            messages = await stream_messages(server.url, stream, "kop.partner.>")
            assert len(messages) == count
            assert leaked(secrets, messages) == [], stream
    finally:
        server.stop()


def _demo_with_services_up(work: Path) -> subprocess.Popen[str]:
    """A demo big enough to be interrupted, once its three services run."""
    argv = [sys.executable, "-m", "kopsync", "demo", "--cooperatives", "4", "--events", "600"]
    proc = subprocess.Popen(
        [*argv, "--dir", str(work)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while len(processes_using(work, but=proc.pid)) < 3:  # nats-server, ingest, fan-out
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate())
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_demo_leaves_no_process_behind(tmp_path: Path, signum: signal.Signals) -> None:
    """Ctrl-C (SIGINT to the demo) or SIGTERM while its services run stops the NATS server, the
    ingest and the fan-out, and exits 130 with one line."""
    work = tmp_path / "run"
    proc = _demo_with_services_up(work)
    try:
        time.sleep(2)  # into the rounds
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted"), err
    assert processes_using(work) == []


def test_a_service_dying_mid_demo_ends_it_with_one_line_and_no_process_behind(
    tmp_path: Path,
) -> None:
    """When the central ingest dies (SIGKILL) mid-demo, the demo stops the other services and
    exits non-zero with one `error:` line naming the ingest's log."""
    work = tmp_path / "run"
    proc = _demo_with_services_up(work)
    try:
        [ingest] = [
            line for line in processes_using(work, but=proc.pid) if " central ingest " in line
        ]
        time.sleep(2)  # into the rounds
        os.kill(int(ingest.split(":", 1)[0]), signal.SIGKILL)
        _out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ingest stopped") and "ingest.log" in last, err
    assert processes_using(work) == []


def test_demo_refuses_a_directory_in_use_with_one_line(tmp_path: Path) -> None:
    """A --dir that already holds files is refused with one `error:` line before anything starts."""
    (tmp_path / "central.db").write_text("")
    out = subprocess.run(
        [sys.executable, "-m", "kopsync", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: --dir {tmp_path} is not an empty directory; give a new or empty one"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["central.db"]


def test_demo_runs_in_a_directory_with_folders_named_like_our_packages(tmp_path: Path) -> None:
    """Folders ``schemas/`` and ``sync_core/`` in the current directory shadow nothing: the
    demo's child processes are started so the current directory is not on their path."""
    for name in ("schemas", "sync_core", "central_projector"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('{name}: shadowed')\n")
    kopsync = str(Path(sys.executable).with_name("kopsync"))
    summary = run_demo([kopsync], tmp_path / "run", cwd=tmp_path)
    assert summary["totals"]["committed"] == summary["totals"]["recorded"] > 0
