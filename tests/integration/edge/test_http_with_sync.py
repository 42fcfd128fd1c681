"""`kopsync edge run --http`: the counter's API and the replicator in one process, both ways."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.nats import NatsServer
from support.replication import COOP_A, register, running_central

from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from kopsync.devnats import free_port


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, data, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def scrape(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.read().decode()
    finally:
        conn.close()


async def until(port: int, path: str, check: Any, timeout_s: float = 90) -> Any:
    """GET ``path`` until ``check(answer)`` holds (generous: never a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status, answer = await asyncio.to_thread(call, port, "GET", path)
            if status == 200 and check(answer):
                return answer
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{path} never satisfied the check"
        await asyncio.sleep(0.2)


async def test_recorded_over_http_synced_and_central_facts_answered(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A sale posted to the API of `edge run --http` reaches the central's store, and a card the
    central blocks afterwards shows as blocked through the same API."""
    data = tmp_path / "kasir-1"
    agent = EdgeAgent.init(data, COOP_A, "pb-kasir-1")
    agent.close()
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    port = free_port()
    cmd = [sys.executable, "-P", "-m", "kopsync", "edge", "run", "--nats", nats_server.url,
           "--data", str(data), "--http", f"127.0.0.1:{port}"]  # fmt: skip
    log = (tmp_path / "agent.log").open("ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        async with running_central(store, nats_server.url):
            await until(port, "/readyz", lambda a: a["status"] == "ready")
            sale = {"lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}],
                    "stock_override_reason": "stok awal belum dicatat"}  # fmt: skip
            status, receipt = await asyncio.to_thread(call, port, "POST", "/v1/sales", sale)
            assert status == 201, receipt
            synced = await until(port, "/v1/sync/status", lambda s: s["confirmed_seq"] >= 1)
            assert synced["pending"] == 0 and synced["last_contact"] is not None
            # the one listener serves the probes' /metrics too, read at the scrape
            series = await asyncio.to_thread(scrape, port)
            ids = f'coop_id="{COOP_A}",device_id="pb-kasir-1"'
            assert f"kopsync_edge_confirmed_seq{{{ids}}} {float(receipt['seq'])}" in series
            assert f"kopsync_edge_pending_events{{{ids}}} 0.0" in series
            assert [seq for seq, _ in store.committed("pb-kasir-1")] == [receipt["seq"]]
            store.issue("CardBlocked", COOP_A, {"reason": "kartu hilang"}, "KHBS-7")
            card = await until(port, "/v1/aid/cards/KHBS-7", lambda c: c["blocked"])
            assert card["reason"] == "kartu hilang"
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, (tmp_path / "agent.log").read_text()[-2000:]
        store.close()


def test_run_with_http_refuses_a_second_probe_listener(tmp_path: Path) -> None:
    """`edge run --http A --metrics-listen B` stops with one error line naming the API's
    address: the API's listener is the one that serves /metrics, /healthz and /readyz."""
    data = tmp_path / "kasir-1"
    EdgeAgent.init(data, COOP_A, "pb-kasir-1").close()
    cmd = [sys.executable, "-P", "-m", "kopsync", "edge", "run", "--nats", "nats://127.0.0.1:1",
           "--data", str(data), "--http", "127.0.0.1:8470",
           "--metrics-listen", "127.0.0.1:9104"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --metrics-listen"), done.stderr
    assert "127.0.0.1:8470" in lines[0] and "Traceback" not in done.stderr
