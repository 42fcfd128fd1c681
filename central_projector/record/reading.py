"""Opening the central store for reading only: never a new file, table, row or migration."""

from __future__ import annotations

import sqlalchemy as sa

from central_projector.migrations.state import require_current
from central_projector.record.dbengine import connect_error, make_engine


def read_engine(url: str) -> sa.Engine:
    """An engine on an existing store at this code's schema whose transactions only read
    (no write lock on SQLite). A missing SQLite file is :class:`StoreNotFound`, an
    unmigrated store :class:`StoreNotMigrated`: neither is made or changed here."""
    engine = make_engine(url, read_only=True)
    try:
        require_current(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise connect_error(url, exc) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine.execution_options(kopsync_read=True)
