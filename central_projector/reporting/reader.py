"""Opening the central store for reading only: never create a file or a table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa

from central_projector.record.dbengine import make_engine
from sync_core.errors import StoreError


def read_engine(url: str) -> sa.Engine:
    """An engine on an existing store whose transactions only read (no write lock on SQLite)."""
    engine = make_engine(url, must_exist=True)
    return engine.execution_options(kopsync_read=True)


@contextlib.contextmanager
def reading(url: str) -> Iterator[sa.Connection]:
    """A read connection; a store without read models is a one-line :class:`StoreError`."""
    engine = read_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("rm_coop"):
                raise StoreError(
                    "the store has no read models yet; run `kopsync central project --once` "
                    f"on {engine.url.render_as_string(hide_password=True)} first"
                )
            yield conn
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot read the central store: {str(exc.orig).strip()}") from exc
    finally:
        engine.dispose()
