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


def test_a_migration_that_changes_the_folds_starts_the_read_models_over(tmp_path: Path) -> None:
    """A store projected under 0003 is emptied and rewound by 0004, so the next projection
    rebuilds every row under the new rules; a running projector sees a new generation."""
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0003")
        conn.execute(sa.text("INSERT INTO rm_savings (coop_id, account_id, balance) "
                             "VALUES ('6401050012', 'S1', 5000)"))  # fmt: skip
        conn.execute(sa.text("UPDATE rm_projector_position SET position = 42, events = 40"))
    schema.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rm_savings")).scalar() == 0
        row = conn.execute(sa.text("SELECT position, events, generation FROM "
                                   "rm_projector_position WHERE name = 'main'")).one()  # fmt: skip
    assert tuple(row) == (0, 0, 1)
    assert _diff(engine) == []
    engine.dispose()
