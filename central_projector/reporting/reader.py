"""Read-only query objects on the central store: never a new file, table, row or migration.

``kopsync central status``, ``verify``, ``show``, ``conflicts`` and ``report`` read through
these; only the services and the commands that record something open the writable store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from central_projector.projection.readmodels import queries
from central_projector.record.dbengine import connect_error
from central_projector.record.reading import read_engine
from central_projector.record.status import device_status
from central_projector.record.store import ISSUER_ID
from central_projector.record.verify import StoreReport, verify_store
from central_projector.reporting import rat
from sync_core.errors import UsageError

__all__ = ["CentralReader", "read_engine", "reading"]


@contextlib.contextmanager
def reading(url: str) -> Iterator[sa.Connection]:
    """A read connection on the migrated store at ``url``."""
    engine = read_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        raise connect_error(url, exc) from exc
    finally:
        engine.dispose()


class CentralReader:
    """What the read commands ask of the store: devices, verification, the read models."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = read_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> CentralReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise connect_error(self.url, exc) from exc

    def device_status(self) -> list[dict[str, Any]]:
        """One row per device: committed seq, last seen, gaps, held, quarantined, skew."""
        with self._conn() as conn:
            return device_status(conn)

    def verify(self) -> StoreReport:
        """Every stored event re-checked against its device's key."""
        return verify_store(self.engine, ISSUER_ID)

    def show_coop(self, coop_id: str, as_of: str | None = None) -> dict[str, Any]:
        """One cooperative's read models (its loan book on ``as_of``)."""
        with self._conn() as conn:
            if not queries.coop_exists(conn, coop_id):
                raise UsageError(
                    f"no events of cooperative {coop_id} are projected; check the id, "
                    "or run `kopsync central project --once` first"
                )
            return queries.show_coop(conn, coop_id, as_of)

    def rat(self, coop_id: str, year: int) -> dict[str, Any]:
        """The RAT basis of one cooperative and fiscal year (default statute shares)."""
        with self._conn() as conn:
            return rat.coop_rat(conn, coop_id, year)

    def conflicts(self, coop_id: str | None = None, open_only: bool = False) -> list[Any]:
        """The conflict queue, with every decision."""
        with self._conn() as conn:
            return queries.conflicts(conn, coop_id=coop_id, open_only=open_only)
