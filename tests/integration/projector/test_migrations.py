"""The Alembic migrations create exactly the central tables the code declares, adopt stores
made by the code that created its tables itself, and the services refuse the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from central_projector.console.operators import metadata as operators_metadata
from central_projector.migrations import state
from central_projector.migrations.declared import METADATA, compare_type
from central_projector.projection.projector import Projector
from central_projector.record.dbengine import make_engine
from central_projector.record.leases import metadata as leases_metadata
from central_projector.record.store import CentralStore
from central_projector.record.tables import central_meta
from central_projector.record.tables import metadata as record_metadata
from sync_core.errors import StoreNotFound, StoreNotMigrated


def _diff(engine: sa.Engine) -> list[object]:
    """Differences between the migrated database and every declared central table."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": compare_type})
        diff = compare_metadata(context, METADATA)  # type: ignore[arg-type]
    return [d for d in diff if state.VERSION_TABLE not in repr(d)]


def _tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_sqlite_migrations_match_the_tables_and_rerun_harmlessly(tmp_path: Path) -> None:
    """Upgrading twice leaves a schema with no difference from the declared tables."""
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    state.upgrade(engine)
    before, after = state.upgrade(engine)
    assert before == after and after.current
    assert _diff(engine) == []
    assert {"events", "outbox", "kop_leases", "console_operators", "rm_coop"} <= _tables(engine)
    engine.dispose()


@pytest.mark.postgres
def test_postgres_migrations_match_the_tables(postgres_engine: sa.Engine) -> None:
    """The same migrations on PostgreSQL give the declared tables, types and indexes."""
    state.upgrade(postgres_engine)
    assert _diff(postgres_engine) == []
    assert state.read_state(postgres_engine).current


def test_a_migration_that_changes_the_folds_starts_the_read_models_over(tmp_path: Path) -> None:
    """A store projected under 0003 is emptied and rewound by 0004, so the next projection
    rebuilds every row under the new rules; a running projector sees a new generation."""
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    with engine.begin() as conn:
        command.upgrade(state.alembic_config(conn), "0003")
        conn.execute(sa.text("INSERT INTO rm_savings (coop_id, account_id, balance) "
                             "VALUES ('6401050012', 'S1', 5000)"))  # fmt: skip
        conn.execute(sa.text("UPDATE rm_projector_position SET position = 42, events = 40"))
    state.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rm_savings")).scalar() == 0
        row = conn.execute(sa.text("SELECT position, events, generation FROM "
                                   "rm_projector_position WHERE name = 'main'")).one()  # fmt: skip
    assert tuple(row) == (0, 0, 1)
    assert _diff(engine) == []
    engine.dispose()


def _old_store(engine: sa.Engine, read_models_at: str | None) -> None:
    """A store as the code before 0007 made it: the record's tables by ``create_all``, the
    read models migrated up to ``read_models_at`` (or never projected), an event kept."""
    for meta in (record_metadata, leases_metadata, operators_metadata):
        meta.create_all(engine)
    if read_models_at is not None:
        with engine.begin() as conn:
            command.upgrade(state.alembic_config(conn), read_models_at)
    with engine.begin() as conn:
        conn.execute(sa.insert(central_meta).values(key="kept", value=b"\x01"))


@pytest.mark.parametrize("read_models_at", [None, "0005", "0006"])
def test_a_store_made_by_the_old_code_is_adopted(
    tmp_path: Path, read_models_at: str | None
) -> None:
    """A store whose record tables the old code created itself is refused by the services
    until `migrate` adopts it: its tables and rows are kept, the schema matches the code."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    _old_store(engine, read_models_at)
    with pytest.raises(StoreNotMigrated, match="kopsync central migrate"):
        CentralStore(url, create=False)
    with pytest.raises(StoreNotMigrated):
        CentralStore(url)  # not empty: never migrated behind the operator's back
    before, after = state.upgrade(engine)
    assert (before.revision, after.revision) == (read_models_at, state.head())
    assert _diff(engine) == []
    with engine.connect() as conn:
        kept = sa.text("SELECT count(*) FROM central_meta WHERE key = 'kept'")
        assert conn.execute(kept).scalar() == 1
    engine.dispose()
    CentralStore(url, create=False).close()


@pytest.mark.postgres
def test_a_postgres_store_made_by_the_old_code_is_adopted(postgres_engine: sa.Engine) -> None:
    """The same adoption on PostgreSQL, with the read models at 0006."""
    _old_store(postgres_engine, "0006")
    assert not state.read_state(postgres_engine).current
    state.upgrade(postgres_engine)
    assert _diff(postgres_engine) == []
    assert state.read_state(postgres_engine).current


def test_services_refuse_a_missing_or_unmigrated_store(tmp_path: Path) -> None:
    """Without `create` a missing SQLite file is not made and an empty one is refused."""
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(StoreNotFound, match="kopsync central migrate"):
        CentralStore(missing, create=False)
    with pytest.raises(StoreNotFound):
        Projector(missing, create=False)
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreNotMigrated, match="has no kopsync tables"):
        Projector(f"sqlite:///{tmp_path / 'empty.db'}", create=False)


def _kopsync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "kopsync", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_migrate_check_and_a_service_on_an_unmigrated_store(tmp_path: Path) -> None:
    """`central migrate --check` exits 3 before and 0 after `central migrate`; a service started
    on the unmigrated store says in one line what to run."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    check = _kopsync("central", "migrate", "--check", "--db", url, cwd=tmp_path)
    assert check.returncode == 2 and check.stderr.count("\n") == 1, check.stderr
    assert not (tmp_path / "c.db").exists()
    made = _kopsync("central", "migrate", "--db", url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "at revision" in made.stdout
    assert _kopsync("central", "migrate", "--check", "--db", url, cwd=tmp_path).returncode == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        command.downgrade(state.alembic_config(conn), "0006")
    engine.dispose()
    check = _kopsync("central", "migrate", "--check", "--db", url, cwd=tmp_path)
    assert check.returncode == 3, check.stderr
    project = _kopsync("central", "project", "--once", "--db", url, cwd=tmp_path)
    assert project.returncode == 3
    assert project.stderr.startswith("error: the central store") and project.stderr.count("\n") == 1
    assert f"kopsync central migrate --db {url}" in project.stderr
