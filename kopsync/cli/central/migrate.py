"""``kopsync central migrate [--check]``: make or upgrade the central database's schema.

The one command that changes a schema: the services and every other command refuse a
store that is not at this code's revision and name this command.
"""

from __future__ import annotations

import click
import sqlalchemy as sa

from central_projector.migrations import state
from central_projector.record.dbengine import connect_error, make_engine
from kopsync.cli.common import emit_json, friendly, json_option
from sync_core.errors import StoreNotMigrated


@click.command()
@click.option(
    "--db",
    "db_url",
    envvar="KOPSYNC_DB_URL",
    default="sqlite:///kopsync-central.db",
    show_default=True,
    help="SQLAlchemy URL of the central store ($KOPSYNC_DB_URL).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing: exit 0 if the store is at this kopsync's revision, 3 if it is not.",
)
@json_option
@friendly
def migrate(db_url: str, check: bool, as_json: bool) -> None:
    """Create the central store's tables, or bring an existing store to this kopsync's schema.

    A store made by an older kopsync (before its record was under migration) is adopted:
    the tables it has are kept, the missing ones created.
    """
    engine = make_engine(db_url, must_exist=check)
    try:
        if check:
            found = state.read_state(engine)
            before, after = found, found
        else:
            before, after = state.upgrade(engine)
    except sa.exc.OperationalError as exc:
        raise connect_error(db_url, exc) from exc
    finally:
        engine.dispose()
    if as_json:
        emit_json({"before": before.revision, "after": after.revision, "head": state.head()})
    elif check and after.current:
        click.echo(f"the central store is at revision {after.revision}, this kopsync's")
    elif not check and before.revision == after.revision:
        click.echo(f"already at revision {after.revision}: nothing to do")
    elif not check and before.empty:
        click.echo(f"made a new central store at revision {after.revision}")
    elif not check:
        was = before.revision or "none (made by an older kopsync: adopted)"
        click.echo(f"migrated the central store from revision {was} to {after.revision}")
    if not after.current:
        raise StoreNotMigrated(state.not_migrated_message(engine.url, after))
