"""PostgreSQL bulk writes of a flush: ``COPY`` into a staging table, then one statement.

A pipelined ``executemany`` upsert costs the client about as much per row as the folds
do (psycopg binds, prepares and dispatches every row in Python). Here the rows of one
table go to the server in a single binary ``COPY`` into a session-local staging table,
and one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` (or ``DELETE … USING``) applies them.
Small sets of rows stay on ``executemany``, which needs fewer round trips.

A staging table is ``pg_temp."kopsync_stage_{prefix}{kind}"`` (a replay's shadow and the
live tables may be written in one session), shaped ``LIKE`` its table. A flush's
:class:`Writer` makes those of its prefix (``IF NOT EXISTS``, one round trip) before its
first COPY, in every transaction: a memo of which exist would go stale when the
transaction that created them rolls back. Each statement that reads a staging table
also empties it (``WITH s AS (DELETE … RETURNING …)``), so any number of writes may
share one transaction. Deleted rows leave dead tuples that nothing vacuums (temporary
tables), so the session truncates its staging tables after every ``TRUNCATE_ROWS``
rows staged; not ``ON COMMIT DELETE ROWS``, which truncates every one of them, with
its TOAST table and index, at each commit (about 7 ms of a step idle, 25 ms loaded).

The rows given are unique per key (a flush writes each changed key once; stock
movements are summed per key first), as one ``ON CONFLICT DO UPDATE`` statement needs.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from psycopg.types.string import BytesBinaryDumper

from central_projector.projection.readmodels.tables import SPEC

BULK_MIN = 40  # rows below which executemany is faster (measured on a 100k projection)
TRUNCATE_ROWS = 100_000  # rows staged in a session between truncations of its stages
_PG_TYPES = {"str": "text", "text": "text", "big": "int8", "bool": "bool", "doc": "bytea"}
MOVES = "stock_moves"
_MOVE_COLUMNS = ("coop_id", "location", "sku", "okey", "delta")
_MOVE_TYPES = ("text", "text", "text", "bytea", "int8")
_MOVE_KEY = ("coop_id", "location", "sku", "okey")
_MOVE_ADD = '"delta" = t."delta" + excluded."delta"'  # movements of one key sum up
# the dated figures' ledgers (folds.daily): deltas of one key sum up the same way
DAYS, TOTALS = "coop_day", "coop_total"
_LEDGERS = {
    DAYS: (("day", "coop_id", "area", "figure", "amount"), ("day", "coop_id", "area", "figure")),
    TOTALS: (("coop_id", "area", "figure", "amount"), ("coop_id", "area", "figure")),
}
_AMOUNT_ADD = '"amount" = t."amount" + excluded."amount"'


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _stage_name(prefix: str, kind: str) -> str:
    return f'"kopsync_stage_{prefix}{kind}"'


def _create(prefix: str, kind: str) -> str:
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {_stage_name(prefix, kind)} "
        f'(LIKE "{prefix}{kind}" INCLUDING DEFAULTS)'
    )


class _Stage:
    """SQL text to stage the rows of one table (columns in the order given) and apply them."""

    def __init__(
        self,
        prefix: str,
        kind: str,
        columns: Sequence[str],
        types: Sequence[str],
        key: Sequence[str],
        update: str,
    ) -> None:
        table = f'"{prefix}{kind}"'
        stage = f"pg_temp.{_stage_name(prefix, kind)}"
        cols, keys = _names(columns), _names(key)
        self.types, self.key_types = tuple(types), ("text",) * len(key)
        self.copy_rows = f"COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)"
        self.copy_keys = f"COPY {stage} ({keys}) FROM STDIN (FORMAT BINARY)"
        self.upsert = (
            f"WITH s AS (DELETE FROM {stage} RETURNING {cols}) "
            f"INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM s "
            f"ON CONFLICT ({keys}) DO UPDATE SET {update}"
        )
        match = " AND ".join(f't."{c}" = s."{c}"' for c in key)
        self.delete = (
            f"WITH s AS (DELETE FROM {stage} RETURNING {keys}) "
            f"DELETE FROM {table} AS t USING s WHERE {match}"
        )


_STAGES: dict[tuple[str, str, tuple[str, ...]], _Stage] = {}
_CREATE: dict[str, str] = {}
_TRUNCATE: dict[str, str] = {}
# rows staged since the last truncation, per session and prefix
_STAGED: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _stage(prefix: str, kind: str, columns: tuple[str, ...]) -> _Stage:
    at = (prefix, kind, columns)
    if at not in _STAGES:
        if kind == MOVES:
            _STAGES[at] = _Stage(prefix, kind, columns, _MOVE_TYPES, _MOVE_KEY, _MOVE_ADD)
        elif kind in _LEDGERS:
            names, key = _LEDGERS[kind]
            types = ["int8" if c == "amount" else "text" for c in names]
            _STAGES[at] = _Stage(prefix, kind, names, types, key, _AMOUNT_ADD)
        else:
            pk, cols = SPEC[kind]
            of = {c: _PG_TYPES[t] for c, t in cols}
            types = ["text" if c in pk else of[c] for c in columns]
            update = ", ".join(f'"{c}" = excluded."{c}"' for c, _ in cols)
            _STAGES[at] = _Stage(prefix, kind, columns, types, pk, update)
    return _STAGES[at]


def _ddl(prefix: str) -> tuple[str, str]:
    """Create the staging tables of ``prefix`` unless there; truncate them."""
    if prefix not in _CREATE:
        kinds = (*SPEC, MOVES, *_LEDGERS)
        _CREATE[prefix] = "; ".join(_create(prefix, kind) for kind in kinds)
        names = ", ".join(f"pg_temp.{_stage_name(prefix, kind)}" for kind in kinds)
        _TRUNCATE[prefix] = f"TRUNCATE {names}"
    return _CREATE[prefix], _TRUNCATE[prefix]


def _copy(cur: Any, sql: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with cur.copy(sql) as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)


class Writer:
    """The bulk writes of one flush: ``cur`` a psycopg cursor in the caller's transaction,
    ``prefix`` of the tables written."""

    def __init__(self, cur: Any, prefix: str) -> None:
        self.cur, self.prefix = cur, prefix
        self._staged = False
        # COPY finds its dumpers by type: bytea's is psycopg's DB-API one (for its
        # Binary wrapper, never used here), in Python; the C one dumps bytes alike.
        cur.adapters.register_dumper(bytes, BytesBinaryDumper)

    def _staging(self, rows: int) -> None:
        """Make sure the staging tables are there before ``rows`` are COPYed in."""
        counts = _STAGED.setdefault(self.cur.connection, {})
        if not self._staged:
            create, truncate = _ddl(self.prefix)
            if counts.get(self.prefix, 0) >= TRUNCATE_ROWS:
                create += "; " + truncate
                counts[self.prefix] = 0
            self.cur.execute(create)
            self._staged = True
        counts[self.prefix] = counts.get(self.prefix, 0) + rows

    def write(
        self,
        kind: str,
        table: Any,
        rows: Sequence[Sequence[Any]],
        gone: Sequence[Sequence[Any]],
    ) -> None:
        """Upsert ``rows`` (values in ``table.columns`` order) into ``{prefix}{kind}`` and
        delete the keys ``gone``; ``table`` is the :class:`~.sqlstate._Table` of the kind."""
        st = _stage(self.prefix, kind, table.columns)
        self._apply(rows, st.copy_rows, st.types, st.upsert, table.upsert)
        self._apply(gone, st.copy_keys, st.key_types, st.delete, table.delete)

    def write_moves(self, insert: str, moves: Sequence[Sequence[Any]]) -> None:
        """Add the summed stock movements ``moves`` (``coop_id, location, sku, okey,
        delta``, unique per key) onto ``{prefix}stock_moves``; ``insert`` is the
        executemany text, for a few."""
        st = _stage(self.prefix, MOVES, _MOVE_COLUMNS)
        self._apply(moves, st.copy_rows, st.types, st.upsert, insert)

    def write_ledger(self, kind: str, insert: str, rows: Sequence[Sequence[Any]]) -> None:
        """Add the summed deltas ``rows`` (unique per key) onto ``{prefix}{kind}``, a
        ledger of dated figures (:data:`DAYS` or :data:`TOTALS`)."""
        st = _stage(self.prefix, kind, _LEDGERS[kind][0])
        self._apply(rows, st.copy_rows, st.types, st.upsert, insert)

    def _apply(
        self,
        rows: Sequence[Sequence[Any]],
        copy: str,
        types: Sequence[str],
        staged: str,
        each: str,
    ) -> None:
        """``rows`` by COPY into the stage and the ``staged`` statement, or (fewer than
        BULK_MIN) by executemany of ``each``."""
        if len(rows) >= BULK_MIN:
            self._staging(len(rows))
            _copy(self.cur, copy, types, rows)
            self.cur.execute(staged)
        elif rows:
            self.cur.executemany(each, rows)
