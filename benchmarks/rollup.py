"""Roll-up benchmark: the province's pages on PostgreSQL with Central Kalimantan's 1,571
cooperatives and millions of events projected.

The data set is the projection benchmark's realistic mix (``benchmarks/projection.py``:
sales, savings, loans, stock, aid cycles with allowances, members, the stimulus fund,
shipments), for 1,571 cooperatives spread over the 14 regencies of province 62 with
three devices each, written straight into the central store's ``events`` table by
``COPY`` in chunks and projected by the real projector. Then, on that store:

- the province roll-up (``rollup`` of region 62) and a cooperative's, as functions
  (server time without HTTP), and as console pages served by ``kopsync central console``
  in its own process (``Server-Timing`` header: the page's server time; and the
  round trip on loopback);
- the console's throughput with 20 concurrent operators, each logged in with their own
  session, drilling down (1 province page in 10, 3 regency pages, 6 cooperative pages);
- the baseline in the same run: the per-cooperative view ``kopsync central show coop``
  has (``queries.show_coop``), timed on the same cooperatives and multiplied by 1,571 for
  what a province roll-up built from it would cost.

    python benchmarks/rollup.py [--quick] [--events N] [--coops N] [--pg URL]
                                [--keep] [--reuse SCHEMA] [--out FILE]

``--quick``: 100 cooperatives, 200,000 events, 8 s of load (about two minutes).
Default: 1,571 cooperatives, 5,000,000 events (projection takes many minutes on two
cores), 30 s of load. ``--keep`` leaves the schema (named in the JSON) and ``--reuse``
measures on one kept before, without generating again (projecting first whatever is not
yet projected). Prints one JSON object, then a
one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _stores import drop_pg_schema, pg_url
from _workload import Workload  # benchmarks/ is sys.path[0] when run as a script

from central_projector.console.operators import add_operator
from central_projector.projection.projector import DEFAULT_BATCH, Projector
from central_projector.projection.readmodels import queries
from central_projector.record.store import CentralStore
from central_projector.record.tables import events
from central_projector.reporting import rollups
from central_projector.reporting.regions import Region, parse_region
from kopsync.devnats import free_port

REGENCIES = ("6201", "6202", "6203", "6204", "6205", "6206", "6207", "6208", "6209", "6210",
             "6211", "6212", "6213", "6271")  # fmt: skip
PASSWORD = "benchmark-password-62"
COLUMNS = [c.name for c in events.columns if c.name != "id"]
CHUNK = 100_000


def coop_ids(n: int) -> list[str]:
    """``n`` 10-digit village codes, spread over province 62's regencies like its 1,571."""
    return [f"{REGENCIES[i % len(REGENCIES)]}{(i // len(REGENCIES)) % 100:02d}{2001 + i:04d}"
            for i in range(n)]  # fmt: skip


def generate(url: str, coops: int, total: int) -> int:
    """Write ``total`` committed events of ``coops`` cooperatives into the store by COPY."""
    w = Workload(coops, seed=62)
    w.coops = coop_ids(coops)
    engine = sa.create_engine(url)
    written = 0

    def copy(rows: list[dict[str, Any]]) -> None:
        nonlocal written
        with engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row([r[c] for c in COLUMNS])
        written += len(rows)

    chunk: list[dict[str, Any]] = []
    for coop in w.coops:
        chunk += w.reference(coop)
        if len(chunk) >= CHUNK:
            copy(chunk)
            chunk = []
    devices = [(coop, f"k{i}-{coop[-6:]}") for coop in w.coops for i in range(3)]
    while written + len(chunk) < total:
        coop, device = w.rng.choice(devices)
        for _ in range(min(w.rng.randint(20, 120), total - written - len(chunk))):
            if not w.state[coop]["fresh"]:
                chunk += w.cycle(coop)
            chunk.append(w.edge(coop, device))
        if len(chunk) >= CHUNK:
            copy(chunk)
            chunk = []
    if chunk:
        copy(chunk)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE events"))
    engine.dispose()
    return written


def project(url: str) -> dict[str, Any]:
    with Projector(url, batch_size=DEFAULT_BATCH) as p:
        res = p.run_once()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return {"events": res.events, "seconds": round(res.seconds, 1), "events_per_s": int(res.rate)}


def timed(fn: Any, *args: Any) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def functions(url: str, coops: list[str], runs: int) -> dict[str, Any]:
    """The roll-ups as functions on one connection, and the baseline on the same coops."""
    engine = sa.create_engine(url).execution_options(kopsync_read=True)
    province = parse_region("62")
    with engine.connect() as conn:
        prov = [timed(rollups.rollup, conn, province) for _ in range(runs)]
        coop = [timed(rollups.rollup, conn, Region(c, "cooperative")) for c in coops]
        show = [timed(queries.show_coop, conn, c) for c in coops]
        report = rollups.rollup(conn, province)
    engine.dispose()
    return {
        "province_s": _stats(prov),
        "cooperative_s": _stats(coop),
        "baseline_show_coop_s": _stats(show),
        "baseline_province_by_show_coop_s": round(
            statistics.median(show) * report["cooperatives"], 1
        ),
        "cooperatives_in_report": report["cooperatives"],
        "members_in_report": report["figures"]["members"]["count"],
        "loans_in_report": report["figures"]["loans"]["loans"],
    }


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 4),
        "max": round(ordered[-1], 4),
        "n": len(ordered),
    }


class Console:
    """``kopsync central console`` on the benchmark's store, in its own process."""

    def __init__(self, url: str, workdir: Path, cache_s: float) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        key = workdir / "console.key"
        key.write_text(os.urandom(32).hex())
        self.log = (workdir / f"console-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kopsync", "central", "console", "--db", url,
             "--listen", f"127.0.0.1:{self.port}", "--secret-file", str(key),
             "--cache-seconds", str(cache_s)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError("the console did not start")

    def session(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=120)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        r = client.post("/login", data={"csrf": token.group(1), "operator_id": "bench",
                                        "password": PASSWORD, "next": "/replay"})  # fmt: skip
        assert r.status_code == 303, r.status_code
        return client

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def page(client: httpx.Client, path: str) -> tuple[float, float]:
    """(server time from Server-Timing, round trip) of one page, seconds."""
    started = time.perf_counter()
    r = client.get(path)
    rtt = time.perf_counter() - started
    assert r.status_code == 200, (path, r.status_code)
    m = re.search(r"dur=([0-9.]+)", r.headers.get("server-timing", ""))
    return (float(m.group(1)) / 1000 if m else rtt), rtt


def pages(console: Console, coops: list[str], runs: int) -> dict[str, Any]:
    client = console.session()
    prov = [page(client, "/region/62") for _ in range(runs)]
    coop = [page(client, f"/coop/{c}") for c in coops]
    client.close()
    return {
        "province_server_s": _stats([p[0] for p in prov]),
        "province_round_trip_s": _stats([p[1] for p in prov]),
        "cooperative_server_s": _stats([p[0] for p in coop]),
        "cooperative_round_trip_s": _stats([p[1] for p in coop]),
    }


def load(console: Console, coops: list[str], operators: int, seconds: float) -> dict[str, Any]:
    """``operators`` sessions drilling down at once for ``seconds``: pages/s and latency."""
    regencies = sorted({c[:4] for c in coops})
    sessions = [console.session() for _ in range(operators)]
    times: list[tuple[str, float]] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def operator(client: httpx.Client, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop:
            roll = rng.random()
            kind, path = (
                ("province", "/region/62") if roll < 0.1
                else ("regency", f"/region/{rng.choice(regencies)}") if roll < 0.4
                else ("cooperative", f"/coop/{rng.choice(coops)}")
            )  # fmt: skip
            _, rtt = page(client, path)
            with lock:
                times.append((kind, rtt))

    threads = [threading.Thread(target=operator, args=(s, i)) for i, s in enumerate(sessions)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for s in sessions:
        s.close()
    by_kind = {
        k: _stats([t for kk, t in times if kk == k])
        for k in ("province", "regency", "cooperative")
        if any(kk == k for kk, _ in times)
    }
    return {
        "operators": operators,
        "seconds": round(elapsed, 1),
        "pages": len(times),
        "pages_per_s": round(len(times) / elapsed, 1),
        "round_trip_s": _stats([t for _, t in times]),
        "by_page": by_kind,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--coops", type=int, default=None)
    ap.add_argument("--operators", type=int, default=20)
    ap.add_argument("--pg", default=None)
    ap.add_argument("--keep", action="store_true", help="Keep the schema for --reuse.")
    ap.add_argument("--reuse", default=None, metavar="SCHEMA", help="Measure a kept schema.")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    coops_n = args.coops or (100 if args.quick else 1571)
    total = args.events or (200_000 if args.quick else 5_000_000)
    seconds = 8.0 if args.quick else 30.0
    base = pg_url(args.pg)
    if base is None:
        raise SystemExit("PostgreSQL is not reachable: give --pg URL or $KOPSYNC_TEST_POSTGRES_URL")
    schema = args.reuse or f"kopsync_rollup_{coops_n}_{total}_{os.getpid()}"
    url = (
        sa.engine.make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    result: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "cooperatives": coops_n,
        "schema": schema,
        "load_average": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
    }
    keep = args.keep or args.reuse is not None
    try:
        if args.reuse is None:
            engine = sa.create_engine(base)
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
            CentralStore(url).close()
            started = time.perf_counter()
            result["events_written"] = generate(url, coops_n, total)
            result["generate_s"] = round(time.perf_counter() - started, 1)
        # a kept schema may hold events not yet projected (or read models a migration reset)
        result["projection"] = project(url)
        engine = sa.create_engine(url)
        add_operator(engine, "bench", "Benchmark", PASSWORD, ("62",), replace=True)
        engine.dispose()
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            result["events_projected"] = int(
                conn.execute(sa.text("SELECT events FROM rm_projector_position")).scalar() or 0
            )
        engine.dispose()
        rng = random.Random(7)
        sample = rng.sample(coop_ids(coops_n), min(20, coops_n))
        result["functions"] = functions(url, sample, 5)
        with tempfile.TemporaryDirectory() as tmp:
            # every page computed (cold), then the console as deployed (roll-ups shared 15 s)
            for name, cache_s in (("uncached", 0.0), ("cached", 15.0)):
                console = Console(url, Path(tmp), cache_s)
                try:
                    page(console.session(), "/region/62")  # warm the process (imports, pool)
                    if name == "uncached":
                        result["pages"] = pages(console, sample, 5)
                    else:  # the province page as served from the shared roll-up
                        client = console.session()
                        served = [page(client, "/region/62")[0] for _ in range(5)]
                        result["pages"]["province_served_s"] = _stats(served)
                        client.close()
                    result[f"load_{name}"] = load(
                        console, coop_ids(coops_n), args.operators, seconds
                    )
                finally:
                    console.close()
    finally:
        if not keep:
            drop_pg_schema(base, schema)
    result["load_average_after"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    f, p = result["functions"], result["pages"]
    cold, warm = result["load_uncached"], result["load_cached"]
    print(
        f"rollup: {result['events_projected']:,} events, {coops_n} coops; province page "
        f"{p['province_served_s']['median']:.3f} s served, "
        f"{p['province_server_s']['median']:.3f} s computed (goal 1), cooperative page "
        f"{p['cooperative_server_s']['median']:.3f} s (goal 0.2); {args.operators} operators "
        f"{warm['pages_per_s']} pages/s p95 {warm['round_trip_s']['p95']:.2f} s "
        f"(uncached {cold['pages_per_s']} pages/s p95 {cold['round_trip_s']['p95']:.2f} s); "
        f"baseline: show coop {f['baseline_show_coop_s']['median']:.3f} s each, "
        f"{f['baseline_province_by_show_coop_s']} s for the province",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
