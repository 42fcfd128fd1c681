"""Where a central database stands in the migration history, and bringing it to the head.

Every central table (the record, the outbox, the leases, the console's operators, the read
models) is made by the Alembic revisions beside this module, in one history whose version
table is ``rm_alembic_version`` (the name it had when only the read models were migrated).
``kopsync central migrate`` upgrades; the services only :func:`require_current`.

A store made before the record was under migration has the record's tables and either no
version table or an older revision: :func:`upgrade` adopts it (revision 0007 keeps the
tables it finds and creates the missing ones).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from central_projector.record.dbengine import make_engine
from sync_core.errors import StoreNotMigrated

MIGRATIONS = Path(__file__).resolve().parent
VERSION_TABLE = "rm_alembic_version"
# The tables by which a database made by kopsync is recognised (any of them).
OURS = ("events", "devices", "rm_projector_position", VERSION_TABLE)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest revision this code knows."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None  # the history is never empty
    return found


@dataclass(frozen=True, slots=True)
class SchemaState:
    """A database's revision (None: never stamped) and whether it has kopsync tables at all."""

    revision: str | None
    empty: bool

    @property
    def current(self) -> bool:
        return self.revision == head()


def state(conn: sa.Connection) -> SchemaState:
    names = set(sa.inspect(conn).get_table_names())
    revision = None
    if VERSION_TABLE in names:
        revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return SchemaState(revision, not names.intersection(OURS))


def read_state(engine: sa.Engine) -> SchemaState:
    with engine.connect() as conn:
        return state(conn)


def upgrade(engine: sa.Engine) -> tuple[SchemaState, SchemaState]:
    """Bring ``engine``'s database to the head revision; its state before and after."""
    with engine.begin() as conn:
        before = state(conn)
        command.upgrade(alembic_config(conn), "head")
        after = state(conn)
    return before, after


def migrate_url(url: str) -> tuple[SchemaState, SchemaState]:
    """:func:`upgrade` the database at ``url`` (a new SQLite file is made)."""
    engine = make_engine(url)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def require_current(engine: sa.Engine, *, create: bool = False) -> None:
    """Refuse a database that is not at the head revision (a new one is migrated if ``create``).

    ``create`` is for tests and tools that make throw-away stores; the services and commands
    pass ``False``, so only ``kopsync central migrate`` changes a schema.
    """
    found = read_state(engine)
    if found.current:
        return
    if create and found.empty:
        try:
            upgrade(engine)
        except sa.exc.DBAPIError:  # another process made the schema at the same moment
            if not read_state(engine).current:
                raise
        return
    raise StoreNotMigrated(not_migrated_message(engine.url, found))


def not_migrated_message(url: sa.URL, found: SchemaState) -> str:
    shown = url.render_as_string(hide_password=True)
    if found.empty:
        what = "has no kopsync tables"
    elif found.revision is None:
        what = "was made by an older kopsync"
    else:
        what = f"is at revision {found.revision}, this kopsync needs {head()}"
    return f"the central store {shown} {what}; run `kopsync central migrate --db {shown}` first"
