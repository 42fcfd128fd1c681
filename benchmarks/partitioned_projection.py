"""Partitioned projection: per-worker throughput and the speed-up of workers on disjoint stages.

The workload of ``benchmarks/projection.py`` (a realistic mix over many cooperatives plus
the province's reference data) is written into a central store; then, in the same run:

- **baseline**: one :class:`Projector` folds everything (``kopsync central project --once``);
- **stages**: with ``--partitions N`` the same events projected stage by stage (``cross``
  and ``p{k}ofN``), each by ``kopsync central project-worker --once --stages S`` in its own
  process, one after the other: events each stage folds and its events/s;
- **parallel**: the stages split between ``--workers`` processes running at once (the
  machine's cores), wall time from the first start to the last exit.

    python benchmarks/partitioned_projection.py --quick     # 60,000 events (< 1 min)
    python benchmarks/partitioned_projection.py             # 200,000 events

PostgreSQL from ``--pg`` or $KOPSYNC_TEST_POSTGRES_URL (else the local default), SQLite with
``--sqlite``. Prints JSON, then a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stores import drop_pg_schema, fresh_pg_schema, load, pg_url
from _workload import Workload

from central_projector.projection.projector import Projector
from central_projector.projection.scaleout.routing import stage_names
from central_projector.projection.scaleout.worker import ProjectionWorker


def worker_cmd(url: str, partitions: int, stages: list[str], wid: str) -> list[str]:
    return [
        sys.executable, "-m", "kopsync", "central", "project-worker", "--db", url,
        "--partitions", str(partitions), "--stages", ",".join(stages), "--worker-id", wid,
        "--once", "--json",
    ]  # fmt: skip


def run_workers(url: str, partitions: int, groups: list[list[str]]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            worker_cmd(url, partitions, g, f"bench-{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i, g in enumerate(groups)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"error: a worker failed:\n{err.decode()[-2000:]}")
        outs.append(json.loads(out.decode().strip().splitlines()[-1]))
    return time.perf_counter() - started, outs


def fresh(args: argparse.Namespace, tmp: Path, name: str) -> tuple[str, Any]:
    if args.sqlite:
        return f"sqlite:///{tmp / (name + '.db')}", None
    pg = pg_url(args.pg)
    if pg is None:
        raise SystemExit("error: PostgreSQL unreachable; use --sqlite or --pg URL")
    scoped, schema = fresh_pg_schema(pg)
    return scoped, (pg, schema)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    ap.add_argument("--pg", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    n = args.events or (60_000 if args.quick else 200_000)
    rows = Workload(max(20, n // 2000)).rows(n)
    names = stage_names(args.partitions)
    result: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "database": "sqlite" if args.sqlite else "postgresql",
        "events": n,
        "cooperatives": max(20, n // 2000),
        "partitions": args.partitions,
        "workers": args.workers,
        "load_average": os.getloadavg()[0],
    }
    cleanup: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            url, c = fresh(args, Path(tmp), "single")
            cleanup.append(c)
            load(url, rows)
            with Projector(url) as p:
                res = p.run_once()
            result["baseline_events_per_s"] = int(res.rate)

            url, c = fresh(args, Path(tmp), "stages")
            cleanup.append(c)
            load(url, rows)
            per_stage = {}
            for stage in names:
                _, [out] = run_workers(url, args.partitions, [[stage]])
                seconds = out["seconds"]  # inside the worker: without process start-up
                per_stage[stage] = {
                    "events": out["events"],
                    "seconds": seconds,
                    "events_per_s": int(out["events"] / seconds) if seconds else None,
                }
            result["stages"] = per_stage
            folded = sum(s["events"] for s in per_stage.values())
            result["fold_amplification"] = round(folded / n, 3)
            result["cross_share"] = round(per_stage["cross"]["events"] / n, 3)

            url, c = fresh(args, Path(tmp), "parallel")
            cleanup.append(c)
            load(url, rows)
            ProjectionWorker(url, args.partitions, "schema").close()  # schema before the race
            groups = [names[i :: args.workers] for i in range(args.workers)]
            wall, outs = run_workers(url, args.partitions, groups)
            seconds = max(o["seconds"] for o in outs)
            result["parallel_wall_with_startup_s"] = round(wall, 2)
            result["parallel_seconds"] = round(seconds, 2)
            result["parallel_events_per_s"] = int(n / seconds)
            result["speedup_vs_baseline"] = round(
                result["parallel_events_per_s"] / result["baseline_events_per_s"], 2
            )
        finally:
            for c in cleanup:
                if c is not None:
                    drop_pg_schema(*c)
    result["load_average_after"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(
        f"partitioned_projection ({result['database']}, {n:,} events, {args.partitions} "
        f"partitions): one projector {result['baseline_events_per_s']:,} ev/s; "
        f"{args.workers} workers {result['parallel_events_per_s']:,} ev/s "
        f"(×{result['speedup_vs_baseline']}); cross stage folds {result['cross_share']:.0%} "
        f"of events, every stage together {result['fold_amplification']}× the events",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
