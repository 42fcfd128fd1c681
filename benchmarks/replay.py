"""Replay benchmark: a whole rebuild into shadow tables and its one-transaction swap, a
``--verify``, and a ``--since`` rebuild of one cooperative in ten, beside the live
projection of the same events (the baseline, measured in the same run).

    python benchmarks/replay.py [--quick] [--events N] [--pg URL]

``--quick``: 50,000 events (default 200,000) of the projection benchmark's workload, on
SQLite, and on PostgreSQL (``--pg``, $KOPSYNC_TEST_POSTGRES_URL or the local default)
when it answers. Prints one JSON object, then a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stores import drop_pg_schema, fresh_pg_schema, load, pg_url
from _workload import Workload

from central_projector.projection.projector import Projector
from central_projector.projection.replay import Replay, Scope
from central_projector.record.tables import events


def _replay(url: str, scope: Scope, *, verify: bool) -> dict[str, Any]:
    began = time.perf_counter()
    with Replay(url) as run:
        run.begin(scope, {"bench": True})
        read = run.build(ahead=scope.whole and not verify)
        built = time.perf_counter() - began
        done = run.finish(verify=verify)
    total = time.perf_counter() - began
    out: dict[str, Any] = {
        "events_read": read,
        "build_s": round(built, 3),
        "build_events_per_s": int(read / built) if built > 0 else None,
        "finish_s": round(done.seconds, 3),
        "total_s": round(total, 3),
    }
    if verify:
        out["differences"] = sum(d.count for d in done.differences or [])
    else:
        out["rows_copied"] = done.rows
    return out


def measure(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    load(url, rows)
    with Projector(url) as live:
        res = live.run_once()
    out: dict[str, Any] = {"live_events_per_s": int(res.rate), "live_s": round(res.seconds, 3)}
    out["swap"] = _replay(url, Scope(), verify=False)
    out["verify"] = _replay(url, Scope(), verify=True)
    coops = sorted({r["coop_id"] for r in rows})[::10]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        devices = conn.execute(
            sa.select(events.c.device_id).where(events.c.coop_id.in_(coops)).distinct()
        ).scalars()
        scope = Scope(coops=frozenset(coops), devices=frozenset(devices))
    engine.dispose()
    out["since_tenth"] = _replay(url, scope, verify=False)
    out["since_cooperatives"] = len(coops)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--pg", default=None)
    args = ap.parse_args()
    n = args.events or (50_000 if args.quick else 200_000)
    coops = max(20, n // 2000)
    rows = Workload(coops, seed=13).rows(n)
    result: dict[str, Any] = {"events": n, "cooperatives": coops, "cpu_count": os.cpu_count(),
                              "load_average": os.getloadavg()[0]}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'replay.db'}", rows)
    pg = pg_url(args.pg)
    if pg is not None:
        scoped, schema = fresh_pg_schema(pg)
        try:
            result["postgres"] = measure(scoped, rows)
        finally:
            drop_pg_schema(pg, schema)
    result["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))
    parts = []
    for db in ("sqlite", "postgres"):
        if db in result:
            r = result[db]
            parts.append(
                f"{db}: rebuild {r['swap']['build_events_per_s']:,} ev/s (live "
                f"{r['live_events_per_s']:,}), swap {r['swap']['finish_s']} s, verify "
                f"{r['verify']['total_s']} s ({r['verify']['differences']} differences)"
            )
    print(f"replay of {n:,} events: " + "; ".join(parts), file=sys.stderr)


if __name__ == "__main__":
    main()
