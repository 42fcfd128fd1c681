"""A throw-away PostgreSQL schema per test, on the server named by KOPSYNC_TEST_POSTGRES_URL.

Each test gets its own schema and reaches it through ``search_path``, set per connection with
the libpq ``options`` parameter (``-csearch_path=<schema>``). Unqualified table names then land
in that schema, so tests and the code under test need no schema-aware SQL, and dropping the
schema CASCADE cleans everything up.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

ENV_VAR = "KOPSYNC_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA_PREFIX = "kopsync_test_"


class PostgresUnavailable(Exception):
    """No PostgreSQL server answered at the configured URL."""


def configured_url() -> tuple[str, bool]:
    """The server URL to test against, and whether the environment demanded it explicitly."""
    url = os.environ.get(ENV_VAR, "").strip()
    return (url, True) if url else (DEFAULT_URL, False)


def probe(url: str, timeout_s: int = 3) -> None:
    """Raise :class:`PostgresUnavailable` unless ``SELECT 1`` works at ``url``."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": timeout_s})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise PostgresUnavailable(f"{_safe(url)}: {cause}") from exc
    finally:
        engine.dispose()


def search_path_options(schema: str) -> str:
    return f"-csearch_path={schema}"


@dataclass(frozen=True, slots=True)
class PostgresSchema:
    """A fresh schema on the test server; ``url`` and ``connect_args()`` both select it."""

    base_url: str
    schema: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL with ``?options=-csearch_path=<schema>`` (psycopg passes it to libpq)."""
        return self.sa_url.render_as_string(hide_password=False)

    @property
    def sa_url(self) -> URL:
        base = make_url(self.base_url)
        options = search_path_options(self.schema)
        existing = base.query.get("options")
        if isinstance(existing, str) and existing:
            options = f"{existing} {options}"
        return base.update_query_dict({"options": options})

    def connect_args(self) -> dict[str, Any]:
        """``create_engine(base_url, connect_args=...)`` arguments that select the schema."""
        return {"options": search_path_options(self.schema)}

    def create_engine(self, **kwargs: Any) -> Engine:
        return sa.create_engine(self.base_url, connect_args=self.connect_args(), **kwargs)


def create_schema(base_url: str) -> PostgresSchema:
    schema = f"{SCHEMA_PREFIX}{secrets.token_hex(6)}"
    engine = sa.create_engine(base_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    return PostgresSchema(base_url=base_url, schema=schema)


def drop_schema(pg: PostgresSchema) -> None:
    engine = sa.create_engine(pg.base_url)
    try:
        with engine.begin() as conn:
            # A test that leaked an open transaction must not hang the whole run.
            conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{pg.schema}" CASCADE'))
    finally:
        engine.dispose()


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
