"""The Alembic migrations create exactly the read-model tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from central_projector.projection.readmodels import schema
from central_projector.projection.readmodels.tables import metadata
from central_projector.record.dbengine import make_engine

VERSION_TABLE = "rm_alembic_version"


def _diff(engine: sa.Engine) -> list[object]:
    """Differences between the migrated database and the declared read-model tables."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    return [d for d in diff if VERSION_TABLE not in repr(d) and "rm_" in repr(d)]


def test_sqlite_migrations_match_the_tables_and_rerun_harmlessly(tmp_path: Path) -> None:
    """Upgrading twice leaves a schema with no difference from the declared tables."""
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    schema.upgrade(engine)
    schema.upgrade(engine)
    assert _diff(engine) == []
    engine.dispose()


@pytest.mark.postgres
def test_postgres_migrations_match_the_tables(postgres_engine: sa.Engine) -> None:
    """The same migrations on PostgreSQL give the declared tables, types and indexes."""
    schema.upgrade(postgres_engine)
    assert _diff(postgres_engine) == []
