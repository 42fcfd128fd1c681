"""Projection benchmark: events/s into the read models on SQLite and PostgreSQL, a full
replay on SQLite, and the write floor (a bulk ``executemany`` insert of as many rows).

The workload is a realistic mix over many cooperatives (weights after the edge
simulator: sales, savings, loans, stock, redemptions, members, fund, shipments) plus the
province's reference data (entitlements, cards, allowances, the stimulus fund), with
devices uploading in chunks after being offline, so each projection batch meets late
arrivals and order-dependent aggregates re-derive. Events are written straight into
the central store's ``events`` table as committed rows (envelopes carry the payload;
nothing is signed: ingest is not what is measured here).

    python benchmarks/projection.py [--quick] [--full] [--out FILE] [--pg URL]
                                    [--only sqlite,postgres,replay]

``--quick`` (within a minute): 100,000 events per rate and a 200,000-event replay;
default: 200,000 and 1,000,000; ``--full`` adds nothing but says so. PostgreSQL is taken
from ``--pg`` or $KOPSYNC_TEST_POSTGRES_URL (else the local default), skipped when
unreachable. ``--only`` (repeatable, or a comma list) runs just the parts named: ``sqlite``
(its floor and rate), ``postgres`` (its floor and rate), ``replay``. Prints one JSON
object, then a one-line summary on stderr.
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

from _stores import drop_pg_schema, fresh_pg_schema, load, pg_url, project, store_engine
from _workload import Workload  # benchmarks/ is sys.path[0] when run as a script

from central_projector.projection.projector import DEFAULT_BATCH


def floor(url: str, rows: list[dict[str, Any]], chunk: int) -> float:
    """Rows/s of a bulk insert of the same rows into ``events`` (the write floor).

    The DB-API ``executemany`` of the store's connection, ``chunk`` rows per transaction
    as the projector commits, no SQLAlchemy processing: the least any writer of that
    many rows pays on this machine, in the same run.
    """
    engine = store_engine(url)
    names = list(rows[0])
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join(mark for _ in names)})"
    params = [tuple(r[n] for n in names) for r in rows]
    started = time.perf_counter()
    for i in range(0, len(params), chunk):
        with engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(sql, params[i : i + chunk])
    seconds = time.perf_counter() - started
    engine.dispose()
    return len(rows) / seconds


PARTS = ("sqlite", "postgres", "replay")


def parts(given: list[str] | None) -> set[str]:
    """The parts named by ``--only`` (every part when none is)."""
    if not given:
        return set(PARTS)
    named = {p.strip() for g in given for p in g.split(",") if p.strip()}
    unknown = named - set(PARTS)
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {', '.join(sorted(unknown))}; of {PARTS}")
    return named


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--pg", default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", action="append", metavar="PARTS", help=", ".join(PARTS))
    args = ap.parse_args()
    only = parts(args.only)
    rate_n, replay_n = (100_000, 200_000) if args.quick else (200_000, 1_000_000)
    coops = max(20, rate_n // 2000)
    result: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "load_average": os.getloadavg()[0],
        "batch": args.batch,
        "cooperatives": coops,
        "rate_events": rate_n,
        "cpu_count": os.cpu_count(),
    }
    if args.only:
        result["only"] = sorted(only)
    rows = Workload(coops).rows(rate_n) if only & {"sqlite", "postgres"} else []
    types: dict[str, int] = {}
    for r in rows:
        types[r["type"]] = types.get(r["type"], 0) + 1
    result["mix"] = dict(sorted(types.items()))
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in only:
            url = f"sqlite:///{Path(tmp) / 'floor.db'}"
            result["floor_rows_per_s"] = int(floor(url, rows, args.batch))
            url = f"sqlite:///{Path(tmp) / 'rate.db'}"
            load(url, rows)
            result["sqlite"] = project(url, args.batch)
            result["sqlite_events_per_s"] = result["sqlite"]["events_per_s"]
        pg = pg_url(args.pg) if "postgres" in only else None
        if "postgres" in only and pg is None:
            result["postgres_events_per_s"] = None
        elif pg is not None:
            scoped, schema = fresh_pg_schema(pg)
            try:
                result["postgres_floor_rows_per_s"] = int(floor(scoped, rows, args.batch))
                drop_pg_schema(pg, schema)
                scoped, schema = fresh_pg_schema(pg)
                load(scoped, rows)
                result["postgres"] = project(scoped, args.batch)
                result["postgres_events_per_s"] = result["postgres"]["events_per_s"]
            finally:
                drop_pg_schema(pg, schema)
        del rows
        if "replay" in only:
            replay_rows = Workload(max(20, replay_n // 2000), seed=11).rows(replay_n)
            url = f"sqlite:///{Path(tmp) / 'replay.db'}"
            load(url, replay_rows)
            del replay_rows
            replay = project(url, args.batch)
            result["replay_events"] = replay["events"]
            result["replay_s"] = replay["seconds"]
            result["replay_cpu_s"] = replay["cpu_seconds"]
            result["replay_1m_s"] = round(replay["seconds"] * 1_000_000 / replay["events"], 1)
            result["replay_1m_extrapolated"] = replay["events"] != 1_000_000
    result["load_average_after"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    summary = []
    if "sqlite" in only:
        summary.append(f"SQLite {result['sqlite_events_per_s']:,} ev/s")
    if "postgres" in only:
        summary.append(f"PostgreSQL {result['postgres_events_per_s'] or 'n/a'} ev/s")
    if "sqlite" in only:
        summary.append(f"floor {result['floor_rows_per_s']:,} rows/s")
    if "replay" in only:
        summary.append(f"1M replay {result['replay_1m_s']} s")
    print(f"projection: {', '.join(summary)}", file=sys.stderr)


if __name__ == "__main__":
    main()
