"""A realistic central store for replay tests: the projection benchmark's workload.

The workload (benchmarks/_workload.py) is loaded by path: it is the same deterministic
mix of every area that the projection figures are measured on.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from central_projector.projection.projector import Projector
from central_projector.record.store import CentralStore
from central_projector.record.tables import events
from support.projector_db import pin_pseudonym_key, sql_snapshot

_BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "_workload.py"


def workload_rows(coops: int, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` store rows of ``coops`` cooperatives, in arrival order."""
    spec = importlib.util.spec_from_file_location("kopsync_bench_workload", _BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows: list[dict[str, Any]] = module.Workload(coops, seed).rows(n)
    return rows


def commit(url: str, rows: list[dict[str, Any]], chunk: int = 5000) -> None:
    """Commit store rows as the ingest would (the store's own tables made first, with the
    pseudonym key every store of these tests shares)."""
    CentralStore(url).close()
    engine = sa.create_engine(url)
    try:
        pin_pseudonym_key(engine)
        for i in range(0, len(rows), chunk):
            with engine.begin() as conn:
                conn.execute(sa.insert(events), rows[i : i + chunk])
    finally:
        engine.dispose()


def fresh_projection(tmp: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The read models of a from-scratch projection of ``rows`` in a new SQLite store."""
    url = f"sqlite:///{tmp / 'reference.db'}"
    commit(url, rows)
    with Projector(url) as projector:
        projector.run_once()
        return sql_snapshot(projector.engine)
