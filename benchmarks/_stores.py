"""Central stores for the projection benchmarks: load rows, project them, PostgreSQL schemas."""

from __future__ import annotations

import os
import time
from typing import Any

import sqlalchemy as sa

from central_projector.migrations.state import upgrade
from central_projector.projection.projector import Projector
from central_projector.record.dbengine import make_engine
from central_projector.record.tables import events

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def store_engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def load(url: str, rows: list[dict[str, Any]]) -> None:
    engine = store_engine(url)
    for i in range(0, len(rows), 20_000):
        with engine.begin() as conn:
            conn.execute(sa.insert(events), rows[i : i + 20_000])
    engine.dispose()


def project(url: str, batch: int) -> dict[str, Any]:
    """Project everything in the store once; wall time, and this process's CPU time.

    CPU time is reported too because a shared machine's load stretches wall time: the
    CPU rate is what the projector sustains on a core of its own.
    """
    with Projector(url, batch_size=batch) as p:
        cpu = time.process_time()
        res = p.run_once()
        cpu = time.process_time() - cpu
    return {
        "events": res.events,
        "seconds": round(res.seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_s": int(res.rate),
        "events_per_cpu_s": int(res.events / cpu) if cpu > 0 else None,
    }


def pg_url(given: str | None) -> str | None:
    url = given or os.environ.get("KOPSYNC_TEST_POSTGRES_URL") or PG_DEFAULT
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except (sa.exc.SQLAlchemyError, ImportError):
        return None
    return url


def fresh_pg_schema(url: str) -> tuple[str, str]:
    """A throw-away schema selected by search_path; returns (url, schema)."""
    schema = f"kopsync_bench_{os.getpid()}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    u = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return u.render_as_string(hide_password=False), schema


def drop_pg_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
