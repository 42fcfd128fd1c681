"""Edge API benchmark: a record over HTTP beside the same append in process and one CLI call.

- **HTTP record latency** at 1k and 100k events of history: ``kopsync edge serve`` in its own
  process per device, one keep-alive client posting the edge append benchmark's realistic mix
  to ``POST /v1/events/{type}`` (each a durable transaction: schema, rules, seal, sign, chain,
  fsync, then the JSON answer), p50 and p99 of the round trip.
- **Throughput** over HTTP against the same events appended in process with
  ``EdgeAgent.record`` (the baseline), in interleaved blocks so both see the same load:
  the same store code and durability (WAL, synchronous=FULL, one fsync per record), one
  caller at a time on both sides. Each device first records :data:`WARMUP` events through
  its own path, unmeasured, so that both measure a running agent (its WAL file at full
  size, its caches warm), not the first appends after opening the store.
- **A lean client**: the same one-caller blocks through a keep-alive client on a plain
  socket (:class:`_recording.LeanClient`: one ``send`` per request, the answer read by its
  ``Content-Length`` and its JSON decoded), interleaved with the others. Python's
  ``http.client`` parses every answer's headers with the ``email`` package, about as much CPU
  as the server's HTTP layer; a load generator (``wrk``) or a till's own HTTP library costs
  next to nothing, so this is the API's own throughput, the ``http.client`` figure beside it.
- **Concurrent callers**: :data:`CLIENTS` clients posting at once (each on its own
  connection) against as many threads calling ``EdgeAgent.record`` at once on one agent,
  in interleaved rounds. Every answer still waits for its own durable commit; the server
  records the requests that queue meanwhile in one transaction (group commit, one fsync),
  which ``EdgeAgent.record`` in process does not (each call is its own transaction).
- **CPU per record**: the server process's CPU seconds over HTTP (and the client's), the
  benchmark's own in process; ``cpu_bound_http_to_in_process`` is the throughput ratio
  when the fsync costs nothing (a quiet fast disk), in-process CPU over server + client
  CPU. On a virtual machine whose idle CPUs wake late for I/O the wall-clock ratio swings
  with the disk's fsync latency; this one does not.
- **One CLI call**: the wall time of ``kopsync edge sale record`` (a whole process: start,
  imports, open the store, check it, record, exit), on a device with a little history and on
  the 100k-event one (the start-up check reads every view), and of ``kopsync --version``.
- **Idle RSS** of ``kopsync edge run --nats URL --http …`` (the replicator and the API in
  one process; a registered device whose 1k events ``kopsync central ingest`` committed,
  nothing left to do), beside ``edge run`` without the API.

    python benchmarks/edge_api.py [--quick] [--out FILE]

Prints one JSON object, then a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import (  # benchmarks/ is sys.path[0] when run as a script
    CentralProcess,
    NatsServer,
    percentile,
)
from _recording import (
    KOPSYNC,
    LeanClient,
    Served,
    http_block,
    http_concurrent,
    process_block,
    process_concurrent,
)
from edge_append import COOP, DEVICE, grow, mix, setup

from central_projector.record.store import CentralStore
from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent

CLIENTS = 4  # callers at once in the concurrent rounds, over HTTP and in process alike
CONCURRENT_ROUND = 200  # events a concurrent round records
WARMUP = 800  # records per device before measuring (a 1 KiB-page WAL reaches 4 MiB in ~600)


def device(root: Path, name: str, history: int) -> tuple[Path, Iterator[Draft]]:
    """A device with ``history`` events of the mix (batched: not what is measured)."""
    data = root / name
    with EdgeAgent.init(data, COOP, DEVICE) as agent:
        setup(agent)
        gen = mix(0)
        grow(agent, gen, history)
    return data, gen


def wall_times(cmd: list[str], runs: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each of ``runs`` runs of ``cmd``.

    The CPU time is the process's own work: on a machine shared with other jobs the wall
    time also holds the time spent waiting for a core.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def cli_times(root: Path, runs: int, big: Path) -> dict[str, tuple[list[float], list[float]]]:
    """``kopsync --version`` and ``kopsync edge sale record`` on a device with a little history,
    and the same sale on ``big`` (100k events: its start-up store check reads every view)."""
    data = root / "cli"
    EdgeAgent.init(data, COOP, DEVICE).close()
    for device in (data, big):
        with EdgeAgent(device) as agent:
            goods = {"sku": "BRS-5KG", "qty": 10_000, "location": "main"}
            stock = goods | {"supplier": "Bulog", "doc_no": "DO-1"}
            agent.record("StockReceived", stock, "BRS-5KG")
    # The installed entry point, as a person at the counter runs it.
    kopsync = shutil.which("kopsync", path=str(Path(sys.executable).parent)) or "kopsync"
    sale = [kopsync, "edge", "sale", "record", "--line", "BRS-5KG:1:72500", "--data"]
    return {
        "version": wall_times([kopsync, "--version"], runs, root),
        "sale_record": wall_times([*sale, str(data)], runs, root),
        "sale_record_100k": wall_times([*sale, str(big)], runs, root),
    }


def idle_rss(root: Path, settle_s: float) -> dict[str, int]:
    """RSS (KiB) of `edge run` with and without the API, idle: a registered device with 1k
    events of history, every one already committed by `kopsync central ingest` (one `edge sync`
    first), connected, nothing left to do."""
    data, _ = device(root, "idle", 1_000)
    db_url = f"sqlite:///{root / 'central.db'}"
    with EdgeAgent(data) as agent:
        store = CentralStore(db_url)
        store.register_device(agent.coop_id, agent.device_id, agent.public_key)
        store.close()
    out: dict[str, int] = {}
    with NatsServer(root) as nats:
        central = CentralProcess(nats.url, db_url, root, 1 << 30)
        asyncio.run(central.__aenter__())
        try:
            # Synced once beforehand, so that both runs measured start with nothing to upload.
            sync = [*KOPSYNC, "edge", "sync", "--nats", nats.url, "--data", str(data)]
            subprocess.run(sync, check=True, capture_output=True, timeout=300)
            for key, api in (("edge_run_http_kib", True), ("edge_run_kib", False)):
                agent = Served(data, root / f"{key}.log", nats_url=nats.url, api=api)
                try:
                    agent.wait_synced()
                    time.sleep(settle_s)
                    out[key] = agent.rss_kib()
                finally:
                    agent.close()
        finally:
            asyncio.run(central.__aexit__(None, None, None))
    return out


def ms(values: list[float], q: float) -> float:
    p = percentile(values, q)
    return round((p or 0.0) * 1000, 3)


def run(quick: bool) -> dict[str, Any]:
    n = 1_000 if quick else 5_000
    block = 100
    cli_runs = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="kopsync-bench-api-") as tmp:
        root = Path(tmp)
        small_data, small_gen = device(root, "small", 1_000)
        big_data, big_gen = device(root, "big", 100_000)
        base_data, base_gen = device(root, "inproc", 1_000)
        small = Served(small_data, root / "small.log")
        big = Served(big_data, root / "big.log")
        lat_1k: list[float] = []
        lat_100k: list[float] = []
        lat_proc: list[float] = []
        http_rates, lean_rates, proc_rates = [], [], []
        http_cpu, lean_cpu, proc_cpu = [0.0, 0.0], [0.0, 0.0], [0.0]
        conc_http: list[float] = []
        conc_proc: list[float] = []
        try:
            with EdgeAgent(base_data) as baseline:
                for served, gen in ((small, small_gen), (big, big_gen)):
                    # Connections idle past the server's keep-alive (5 s) while the other
                    # started or warmed up: each phase connects afresh.
                    served.conn.close()
                    http_block(served, gen, WARMUP, [])
                    served.conn.close()
                process_block(baseline, base_gen, WARMUP, [])
                lean = LeanClient(small.port)
                for _ in range(n // block):
                    http_rates.append(http_block(small, small_gen, block, lat_1k, http_cpu))
                    http_block(big, big_gen, block, lat_100k)
                    lean_rates.append(http_block(small, small_gen, block, [], lean_cpu, lean))
                    proc_rates.append(process_block(baseline, base_gen, block, lat_proc, proc_cpu))
                lean.close()
                small.conn.close()  # idle meanwhile: connect afresh after the rounds below
                for _ in range(n // CONCURRENT_ROUND):
                    conc_http.append(http_concurrent(small, small_gen, CONCURRENT_ROUND, CLIENTS))
                    conc_proc.append(
                        process_concurrent(baseline, base_gen, CONCURRENT_ROUND, CLIENTS)
                    )
        finally:
            small.close()
            big.close()
        with EdgeAgent(big_data) as agent:
            history = agent.head().seq
            chain_ok = agent.verify().ok
        cli = cli_times(root, cli_runs, big_data)
        rss = idle_rss(root, 3.0 if quick else 10.0)
    res: dict[str, Any] = {
        "benchmark": "edge_api",
        "quick": quick,
        "requests_per_history": n,
        "history_events_small": 1_000,
        "history_events_big": history,
        "http_p50_ms_1k": ms(lat_1k, 50),
        "http_p99_ms_1k": ms(lat_1k, 99),
        "http_p50_ms_100k": ms(lat_100k, 50),
        "http_p99_ms_100k": ms(lat_100k, 99),
        "in_process_p50_ms_1k": ms(lat_proc, 50),
        "in_process_p99_ms_1k": ms(lat_proc, 99),
        "http_events_per_s": round(statistics.median(http_rates)),
        "in_process_events_per_s": round(statistics.median(proc_rates)),
        "http_events_per_s_lean_client": round(statistics.median(lean_rates)),
        "concurrent_callers": CLIENTS,
        "http_events_per_s_concurrent": round(statistics.median(conc_http)),
        "in_process_events_per_s_concurrent": round(statistics.median(conc_proc)),
        "http_server_cpu_ms_per_record": round(http_cpu[0] / n * 1000, 3),
        "http_client_cpu_ms_per_record": round(http_cpu[1] / n * 1000, 3),
        "in_process_cpu_ms_per_record": round(proc_cpu[0] / n * 1000, 3),
        "http_server_cpu_ms_per_record_lean_client": round(lean_cpu[0] / n * 1000, 3),
        "lean_client_cpu_ms_per_record": round(lean_cpu[1] / n * 1000, 3),
        "cli_sale_record_s_median": round(statistics.median(cli["sale_record"][0]), 3),
        "cli_sale_record_s_max": round(max(cli["sale_record"][0]), 3),
        "cli_sale_record_cpu_s_median": round(statistics.median(cli["sale_record"][1]), 3),
        "cli_sale_record_100k_s_median": round(statistics.median(cli["sale_record_100k"][0]), 3),
        "cli_sale_record_100k_cpu_s_median": round(
            statistics.median(cli["sale_record_100k"][1]), 3
        ),
        "cli_version_s_median": round(statistics.median(cli["version"][0]), 3),
        "cli_version_s_max": round(max(cli["version"][0]), 3),
        "cli_version_cpu_s_median": round(statistics.median(cli["version"][1]), 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "idle_rss_mb_edge_run_http": round(rss["edge_run_http_kib"] / 1024, 1),
        "idle_rss_mb_edge_run": round(rss["edge_run_kib"] / 1024, 1),
        "chain_verified": chain_ok,
    }
    res["http_to_in_process"] = round(res["http_events_per_s"] / res["in_process_events_per_s"], 3)
    res["lean_client_http_to_in_process"] = round(
        res["http_events_per_s_lean_client"] / res["in_process_events_per_s"], 3
    )
    res["concurrent_http_to_in_process"] = round(
        res["http_events_per_s_concurrent"] / res["in_process_events_per_s_concurrent"], 3
    )
    res["cpu_bound_http_to_in_process"] = round(proc_cpu[0] / (http_cpu[0] + http_cpu[1]), 3)
    res["http_p50_to_cli_call"] = round(
        res["http_p50_ms_1k"] / 1000 / res["cli_sale_record_s_median"], 4
    )
    res["targets_met"] = {
        "http_p99_le_10ms": res["http_p99_ms_1k"] <= 10 and res["http_p99_ms_100k"] <= 10,
        "http_ge_half_in_process": res["http_to_in_process"] >= 0.5,
        "http_ge_half_in_process_lean_client": res["lean_client_http_to_in_process"] >= 0.5,
        "http_ge_half_in_process_cpu_bound": res["cpu_bound_http_to_in_process"] >= 0.5,
        "version_le_0_15s": res["cli_version_s_median"] <= 0.15,
        "sale_record_le_0_35s": res["cli_sale_record_s_median"] <= 0.35,
        "idle_rss_le_45mb": res["idle_rss_mb_edge_run_http"] <= 45,
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="finish within a minute or two")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    res = run(args.quick)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(
        f"edge_api: HTTP record p50/p99 {res['http_p50_ms_1k']}/{res['http_p99_ms_1k']} ms @1k, "
        f"{res['http_p50_ms_100k']}/{res['http_p99_ms_100k']} ms @100k; "
        f"{res['http_events_per_s']} ev/s vs {res['in_process_events_per_s']} in process "
        f"(x{res['http_to_in_process']}; CPU-bound x{res['cpu_bound_http_to_in_process']}: "
        f"server {res['http_server_cpu_ms_per_record']} + client "
        f"{res['http_client_cpu_ms_per_record']} ms against "
        f"{res['in_process_cpu_ms_per_record']} ms a record); lean client "
        f"{res['http_events_per_s_lean_client']} ev/s (x{res['lean_client_http_to_in_process']}: "
        f"server {res['http_server_cpu_ms_per_record_lean_client']} + client "
        f"{res['lean_client_cpu_ms_per_record']} ms); {CLIENTS} callers at once: "
        f"{res['http_events_per_s_concurrent']} ev/s over HTTP vs "
        f"{res['in_process_events_per_s_concurrent']} in process "
        f"(x{res['concurrent_http_to_in_process']}); "
        f"CLI sale {res['cli_sale_record_s_median']} s "
        f"(cpu {res['cli_sale_record_cpu_s_median']}; at 100k history "
        f"{res['cli_sale_record_100k_s_median']} s, cpu "
        f"{res['cli_sale_record_100k_cpu_s_median']}), --version {res['cli_version_s_median']} s "
        f"(cpu {res['cli_version_cpu_s_median']}); idle RSS edge run --http "
        f"{res['idle_rss_mb_edge_run_http']} MB (without API {res['idle_rss_mb_edge_run']} MB); "
        f"load average {res['load_average_1min']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
