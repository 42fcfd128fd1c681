"""Every long-running process serves /metrics, /healthz and /readyz, and its documented
series move as events flow: edge run, central ingest, central project, partner fan-out and
the console, each a real process on a real nats-server and SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.console import PASSWORDS, kopsync, wait_http
from support.nats import NatsServer, free_ports

pytestmark = pytest.mark.timeout(300)
COOP, DEVICE = "6202081007", "bph-kasir-1"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def until(what: str, check: Callable[[], bool], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout_s} s")


@pytest.fixture
def system(tmp_path: Path, nats_server: NatsServer) -> Iterator[dict[str, int]]:
    """Store, device, operator, partners file; then the five processes, each with its probes."""
    db = f"sqlite:///{tmp_path / 'central.db'}"
    data = tmp_path / "device"
    kopsync("edge", "init", "--coop", COOP, "--device", DEVICE, "--data", str(data))
    kopsync("central", "migrate", "--db", db)
    kopsync("central", "device", "add", str(data / "device.json"), "--db", db)
    kopsync("central", "project", "--once", "--db", db)
    kopsync("central", "operator", "add", "siti", "--region", "62", "--password-file", "-",
            "--db", db, stdin=PASSWORDS["siti"] + "\n")  # fmt: skip
    (tmp_path / "partners.toml").write_text(
        f'[[partner]]\nid = "kemenkop"\nhmac_key_hex = "{os.urandom(32).hex()}"\n'
        'regions = ["*"]\nareas = ["*"]\n'
    )
    names = ["edge", "ingest", "project", "fanout", "console"]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    url = nats_server.url
    commands = {
        "ingest": ["central", "ingest", "--nats", url, "--db", db],
        "project": ["central", "project", "--db", db, "--poll", "0.2", "--nats", url],
        "fanout": ["partner", "fanout", "--nats", url, "--config", str(tmp_path / "partners.toml")],
        "edge": ["edge", "run", "--nats", url, "--data", str(data)],
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in commands.items():
            log = (tmp_path / f"{name}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "kopsync",
                        *args,
                        "--metrics-listen",
                        f"127.0.0.1:{ports[name]}",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        log = (tmp_path / "console.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kopsync",
                    "central",
                    "console",
                    "--db",
                    db,
                    "--listen",
                    f"127.0.0.1:{ports['console']}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        )
        for port in ports.values():
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout_s=60)
        dead = [p.args for p in procs if p.poll() is not None]
        assert not dead, f"exited at start (see their logs in {tmp_path}): {dead}"
        ports["nats"] = nats_server.port
        yield ports
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _record(data: Path, n: int) -> None:
    """``n`` members registered on the device, then a savings account for each (2n events)."""
    for i in range(n):
        kopsync("edge", "member", "register", "--id", f"M-{i}", "--nik", f"647201440390{i + 1:04d}",
                "--kk", f"647201010115{i + 1:04d}", "--name", f"Anggota {i}",
                "--birth-date", "1990-03-04", "--desa", COOP, "--data", str(data))  # fmt: skip
    for i in range(n):
        kopsync("edge", "savings", "open", "--member", f"M-{i}", "--product", "SUKARELA",
                "--data", str(data))  # fmt: skip


async def _garbage(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(f"kop.up.{COOP}.{DEVICE}", b"\xc1 not msgpack")
    finally:
        await nc.close()


def test_every_process_serves_its_documented_series_and_they_move(
    system: dict[str, int], tmp_path: Path
) -> None:
    """Before: every process is healthy and ready and shows its series; after events are
    recorded on the device (and one garbage upload): the edge's pending rises and falls back
    with a last contact, ingest commits and quarantines by reason, the projector folds them
    with no lag left, the fan-out forwards them, and the console counts its pages."""
    probes = {name: port for name, port in system.items() if name != "nats"}
    until("every process ready", lambda: all(status(p, "/readyz") == 200 for p in probes.values()))
    # registering the device issued the central's DeviceRegistered: the fan-out forwards it first
    until("the registration forwarded", lambda: value(scrape(system["fanout"]),
          "kopsync_fanout_forwarded_total", partner="kemenkop") == 1)  # fmt: skip
    before = {name: scrape(port) for name, port in probes.items()}
    ids = {"coop_id": COOP, "device_id": DEVICE}
    assert value(before["edge"], "kopsync_edge_pending_events", **ids) == 0
    assert value(before["ingest"], "kopsync_ingest_committed_events_total") == 0
    assert value(before["project"], "kopsync_projector_lag_events") == 0
    assert value(before["fanout"], "kopsync_fanout_forwarded_total", partner="kemenkop") == 1

    _record(tmp_path / "device", 5)
    asyncio.run(_garbage(f"nats://127.0.0.1:{system['nats']}"))

    def edge_confirmed() -> bool:
        now = scrape(system["edge"])
        return (
            value(now, "kopsync_edge_confirmed_seq", **ids) == 10
            and value(now, "kopsync_edge_pending_events", **ids) == 0
            and (value(now, "kopsync_edge_last_contact_timestamp_seconds", **ids) or 0) > 0
        )

    until("the edge's events confirmed", edge_confirmed)
    until("ingest committed and quarantined", lambda: (
        value(scrape(system["ingest"]), "kopsync_ingest_committed_events_total") == 10
        and any(k[0] == "kopsync_ingest_quarantined_total" and v >= 1
                for k, v in scrape(system["ingest"]).items())))  # fmt: skip
    # JetStream's pending count is polled every 5 s: wait for a poll after the uploads
    pending = ("kopsync_ingest_consumer_pending", "ingest")
    until("ingest's consumer polled, nothing pending", lambda: value(
        scrape(system["ingest"]), pending[0], consumer=pending[1]) == 0)  # fmt: skip
    assert value(scrape(system["ingest"]), "kopsync_ingest_upload_lag_seconds") is not None
    until("projector folded them", lambda: (
        (value(scrape(system["project"]), "kopsync_projector_events_total") or 0) >= 5
        and value(scrape(system["project"]), "kopsync_projector_lag_events") == 0))  # fmt: skip
    until("fan-out forwarded them", lambda: (
        (value(scrape(system["fanout"]), "kopsync_fanout_forwarded_total", partner="kemenkop")
         or 0) >= 5))  # fmt: skip
    lag = ("kopsync_fanout_lag_events", "kemenkop")
    until("the fan-out's consumer polled, nothing pending", lambda: value(
        scrape(system["fanout"]), lag[0], partner=lag[1]) == 0)  # fmt: skip

    report = json.loads(kopsync("central", "report", "--region", "62", "--json", "--db",
                                f"sqlite:///{tmp_path / 'central.db'}").stdout)  # fmt: skip
    assert report["figures"]["savings"]["accounts"] == 5
    console = system["console"]
    assert value(scrape(console), "kopsync_console_requests_total", page="region",
                 status="200") is None  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{console}", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"csrf": token.group(1), "operator_id": "siti",
                                "password": PASSWORDS["siti"], "next": "/"})  # fmt: skip
    assert client.get("/region/62").status_code == 200
    after = scrape(console)
    assert value(after, "kopsync_console_requests_total", page="region", status="200") == 1
    assert value(after, "kopsync_console_logins_total", outcome="ok") == 1
    assert value(after, "kopsync_console_page_seconds_count", page="region") == 1
    seen = value(after, "kopsync_central_device_last_seen_timestamp_seconds", **ids)
    assert seen is not None and abs(seen - time.time()) < 300
