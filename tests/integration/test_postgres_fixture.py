"""The per-test PostgreSQL schema fixture: isolated, reachable by URL or engine, cleaned up."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support.postgres import PostgresSchema, create_schema, drop_schema

pytestmark = pytest.mark.postgres


def test_table_round_trip_through_url(postgres_url: str) -> None:
    """A table created through the fixture URL can be written and read back."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE member (nik_hmac text PRIMARY KEY, saldo bigint)"))
            conn.execute(sa.text("INSERT INTO member VALUES (:k, :s)"), {"k": "abc", "s": 150_000})
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT nik_hmac, saldo FROM member")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("abc", 150_000)]


def test_url_and_engine_share_the_per_test_schema(
    postgres_schema: PostgresSchema, postgres_url: str, postgres_engine: sa.Engine
) -> None:
    """The URL, the engine and connect_args all resolve unqualified names to the test's schema."""
    by_url = sa.create_engine(postgres_url)
    try:
        with by_url.connect() as conn:
            current = conn.execute(sa.text("SELECT current_schema()")).scalar()
            assert current == postgres_schema.schema
    finally:
        by_url.dispose()
    with postgres_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT current_schema()")).scalar() == postgres_schema.schema
        conn.execute(sa.text("CREATE TABLE t (x int)"))
    other = sa.create_engine(postgres_schema.base_url, connect_args=postgres_schema.connect_args())
    try:
        with other.connect() as conn:
            found = conn.execute(
                sa.text("SELECT table_schema FROM information_schema.tables WHERE table_name='t'")
            ).scalars()
            assert list(found) == [postgres_schema.schema]
    finally:
        other.dispose()


def test_schemas_are_unique_and_dropped(postgres_server_url: str) -> None:
    """Each use gets a new schema, and teardown drops it with everything in it."""
    first, second = create_schema(postgres_server_url), create_schema(postgres_server_url)
    assert first.schema != second.schema
    engine = first.create_engine()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x int)"))
    finally:
        engine.dispose()
    drop_schema(first)
    drop_schema(second)
    engine = sa.create_engine(postgres_server_url)
    try:
        with engine.connect() as conn:
            left = conn.execute(
                sa.text("SELECT count(*) FROM pg_namespace WHERE nspname IN (:a, :b)"),
                {"a": first.schema, "b": second.schema},
            ).scalar()
    finally:
        engine.dispose()
    assert left == 0
