"""Alembic environment of the central database: SQLite and PostgreSQL, run programmatically.

:func:`central_projector.migrations.state.upgrade` passes an open connection in
``config.attributes["connection"]``; the command line (``alembic -x url=…``) works too.
One history covers every central table (record, outbox, leases, operators, read models);
its version table keeps the name it had when only the read models were migrated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from central_projector.migrations.declared import METADATA, compare_type
from central_projector.migrations.state import VERSION_TABLE

config = context.config


def _ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares kopsync's tables only, never a replay's transient ``rmx_`` ones."""
    return type_ != "table" or not (name or "").startswith("rmx_")


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        version_table=VERSION_TABLE,
        include_name=_ours,
        compare_type=compare_type,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = sa.create_engine(str(url))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; give a database URL")
run_migrations_online()
