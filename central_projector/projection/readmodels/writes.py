"""One batch's writes, made by :class:`~.sqlstate.SqlState` and written by whichever
connection commits the step: the changed rows as parameters (upserts and deletes per
table), the summed stock movements and the dated figures' deltas
(:mod:`central_projector.projection.folds.daily`), by ``executemany`` or, on PostgreSQL,
by ``COPY`` (:mod:`central_projector.projection.readmodels.pgbulk`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from central_projector.projection.folds.base import Key, Row

if TYPE_CHECKING:
    from central_projector.projection.readmodels.sqlstate import _Table

EVICTED: Any = object()  # in a cache: the row exists in the database, load it when needed


class Writes:
    """One batch's changed rows, as parameters: per table the upserts and the deletes,
    then the summed stock movements, then the dated figures' deltas."""

    def __init__(self, bulk: str | None = None) -> None:
        """``bulk``: the table prefix, to write larger sets by COPY (PostgreSQL,
        :mod:`central_projector.projection.readmodels.pgbulk`); else executemany."""
        self.bulk = bulk
        self.tables: list[tuple[str, _Table, list[Any], list[Any]]] = []
        self.moves: list[Any] = []
        self.moves_insert = ""
        # the dated figures' deltas: per day, and summed into the running totals
        self.days: list[Any] = []
        self.totals: list[Any] = []
        self.days_insert = self.totals_insert = ""
        self.rows = 0
        self.written: dict[str, set[Key]] = {}  # rows of evicted kinds, to forget after

    @property
    def sql(self) -> list[tuple[str, list[Any]]]:
        """The same as ``(sql, parameter rows)`` for executemany, in order."""
        out: list[tuple[str, list[Any]]] = []
        for _, t, rows, gone in self.tables:
            if rows:
                out.append((t.upsert, rows))
            if gone:
                out.append((t.delete, gone))
        if self.moves:
            out.append((self.moves_insert, self.moves))
        if self.days:
            out.append((self.days_insert, self.days))
        if self.totals:
            out.append((self.totals_insert, self.totals))
        return out

    def write(self, cursor: Any) -> None:
        if self.bulk is None:
            for sql, rows in self.sql:
                cursor.executemany(sql, rows)
            return
        from central_projector.projection.readmodels import pgbulk  # needs psycopg

        bulk = pgbulk.Writer(cursor, self.bulk)
        for kind, t, rows, gone in self.tables:
            bulk.write(kind, t, rows, gone)
        if self.moves:
            bulk.write_moves(self.moves_insert, self.moves)
        if self.days:
            bulk.write_ledger(pgbulk.DAYS, self.days_insert, self.days)
        if self.totals:
            bulk.write_ledger(pgbulk.TOTALS, self.totals_insert, self.totals)

    def evict(
        self,
        cache: dict[str, dict[Key, Row | None]],
        keep: Mapping[str, Collection[Key]] | None = None,
    ) -> None:
        """Forget the written rows of the kinds kept only as existing (now in the
        database), except those in ``keep`` (changed again since, not yet written)."""
        for table, keys in self.written.items():
            rows = cache.get(table)
            if rows is None:
                continue
            again = keep.get(table, ()) if keep is not None else ()
            for k in keys:
                if k not in again and rows.get(k) is not None:
                    rows[k] = EVICTED
