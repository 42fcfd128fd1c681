"""The SQL adapter of the read-model port: a per-batch cache over the ``rm_`` tables.

``prefetch`` loads the rows a batch will read with one ``IN`` query per table and chunk;
the pure folds then read and write the cache; ``flush`` writes every changed row with
one ``executemany`` upsert (``INSERT … ON CONFLICT DO UPDATE``, the same text on SQLite
and PostgreSQL) and one delete per table, and appends the stock movements, all in the
caller's transaction; on PostgreSQL larger sets go by ``COPY`` through a staging table
instead (:mod:`central_projector.projection.readmodels.pgbulk`). Rows missed by the prefetch are
loaded one by one (rare). ``prepare`` and :class:`Writes` split the same in two: the
parameters are made here, and written by whichever connection commits the step.

The hot path talks to the DB-API cursor of the SQLAlchemy connection (same transaction):
SQLAlchemy's per-row parameter processing cost more than the folds themselves. Document
columns are msgpack (:func:`central_projector.projection.readmodels.tables.pack`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Mapping
from operator import itemgetter
from typing import Any, Protocol

import msgpack
import sqlalchemy as sa

from central_projector.projection.folds.base import AREA_OF, DayKey, Key, Okey, Row
from central_projector.projection.readmodels.tables import PREFIX, SPEC
from central_projector.projection.readmodels.writes import EVICTED, Writes
from central_projector.record import meta
from schemas.personal import pseudonym

CHUNK = 400
_HEAD: Callable[..., bytes] = struct.Struct(">QI").pack
_TAIL: Callable[..., bytes] = struct.Struct(">xQ").pack  # a NUL, then the seq
_UNHEAD: Callable[[bytes], tuple[int, int]] = struct.Struct(">QI").unpack
_UNSEQ: Callable[[bytes], tuple[int]] = struct.Struct(">Q").unpack
_pack = msgpack.Packer(use_bin_type=True).pack
_unpack = msgpack.unpackb


def in_list_length(n: int) -> int:
    """The longest of ten IN-list lengths (powers of two, and CHUNK) not above ``n``: a
    lookup of ``n`` keys is split into lists of these lengths. The driver keeps each
    distinct statement prepared (sqlite3 the last 128 per connection, up to ~100 KiB each
    for long lists), and one statement per key count would keep filling that cache for
    hours as rarer counts come up."""
    return CHUNK if n >= CHUNK else 1 << (n.bit_length() - 1)


def okey_bytes(okey: Okey) -> bytes:
    """An order key as bytes that sort like the key (device ids never contain NUL)."""
    wall, counter, device, seq = okey
    return _HEAD(wall, counter) + str(device).encode() + _TAIL(seq)


def okey_of(data: bytes) -> Okey:
    """The order key of :func:`okey_bytes`' bytes."""
    wall, counter = _UNHEAD(data[:12])
    (seq,) = _UNSEQ(data[-8:])
    return [wall, counter, data[12:-9].decode(), seq]


class _Table:
    """Prepared SQL text and column codecs of one row kind."""

    def __init__(self, kind: str, mark: str, prefix: str = PREFIX) -> None:
        pk, cols = SPEC[kind]
        self.pk = pk
        self.docs = tuple(c for c, t in cols if t == "doc")
        self.flags = tuple(c for c, t in cols if t == "bool")
        plain = (*pk, *(c for c, t in cols if t != "doc"))
        # plain columns first, documents last: parameters are built with two C calls
        self.columns = (*plain, *self.docs)
        self._plain = itemgetter(*plain)
        self._doc_values = itemgetter(*self.docs) if len(self.docs) > 1 else None
        name = f'"{prefix}{kind}"'
        quoted = ", ".join(f'"{c}"' for c in self.columns)
        marks = ", ".join(mark for _ in self.columns)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c, _ in cols)
        conflict = ", ".join(f'"{c}"' for c in pk)
        self.upsert = (
            f"INSERT INTO {name} ({quoted}) VALUES ({marks}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        )
        self.delete = f"DELETE FROM {name} WHERE " + " AND ".join(f'"{c}" = {mark}' for c in pk)
        self.select = f"SELECT {quoted} FROM {name} WHERE "
        self.mark = mark
        key_cols = ", ".join(f'"{c}"' for c in pk)
        self.key_expr = f'"{pk[0]}"' if len(pk) == 1 else f"({key_cols})"

    def where_in(self, n: int) -> str:
        one = "(" + ", ".join(self.mark for _ in self.pk) + ")"
        if len(self.pk) == 1:
            return f"{self.key_expr} IN ({', '.join(self.mark for _ in range(n))})"
        return f"{self.key_expr} IN (VALUES {', '.join(one for _ in range(n))})"

    def params(self, row: Row) -> list[Any]:
        out = list(self._plain(row))
        if self._doc_values is not None:
            out += [None if v is None else _pack(v) for v in self._doc_values(row)]
        elif self.docs:
            v = row[self.docs[0]]
            out.append(None if v is None else _pack(v))
        return out

    def row(self, values: tuple[Any, ...]) -> Row:
        out = dict(zip(self.columns, values, strict=True))
        for c in self.docs:
            v = out[c]
            if v is not None:
                out[c] = _unpack(v)
        for c in self.flags:
            if out[c] is not None:
                out[c] = bool(out[c])
        return out


_PREPARED: dict[str, dict[str, _Table]] = {}


def _tables(dialect: str, paramstyle: str, prefix: str = PREFIX) -> dict[str, _Table]:
    at = dialect if prefix == PREFIX else f"{dialect}/{prefix}"
    if at not in _PREPARED:
        mark = "?" if paramstyle == "qmark" else "%s"
        _PREPARED[at] = {kind: _Table(kind, mark, prefix) for kind in SPEC}
    return _PREPARED[at]


LEDGER = "stock_moves"  # the cache's entry of newest movement keys (see SqlState.newest)
_MISSING: Any = object()


def _row(cursor: Any) -> tuple[Any, ...]:
    row: tuple[Any, ...] = cursor.fetchone()
    return row


def _scalar(cursor: Any) -> Any:
    row: tuple[Any, ...] | None = cursor.fetchone()
    return None if row is None else row[0]


class InFlight(Protocol):
    """The batch an earlier step is writing, maybe not yet committed."""

    def settle(self, keep: Mapping[str, Collection[Key]]) -> None:
        """Wait until it has committed; then its rows kept only as existing may be
        forgotten, except those in ``keep`` (changed again since)."""

    def moves(self, stock: Key) -> tuple[str, int, list[tuple[bytes, int]]] | None:
        """``None`` if nothing is in flight; else the name of its position row, the
        position it moves that row to, and its movements of ``stock`` (order key bytes,
        delta)."""


class SqlState:
    """Rows of one batch: loaded in bulk, changed in memory, written back in bulk."""

    def __init__(
        self,
        conn: sa.Connection,
        cache: dict[str, dict[Key, Row | None]] | None = None,
        complete: frozenset[str] = frozenset(),
        evict: tuple[str, ...] = (),
        prefix: str = PREFIX,
        flight: InFlight | None = None,
        pseudonym_key: bytes | None = None,
    ) -> None:
        """``cache``: rows known from earlier steps (the caller vouches they are current);
        ``complete``: tables whose every row is in ``cache``, so a key not there is absent
        (a replay into empty read models), and need not be looked up; ``evict``: tables
        whose written rows are dropped from ``cache`` after the flush, remembered only as
        existing (:data:`EVICTED`); ``prefix``: of the table names (``rm_`` live,
        another for a replay's shadow tables); ``flight``: the batch an earlier step may
        still be writing on another connection (:class:`InFlight`): its rows are still in
        ``cache``, its stock movements are asked of it; ``pseudonym_key``: the store's
        (read from it when first needed if not given)."""
        self.complete = complete
        self.evict = evict
        self.conn = conn
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self.t = _tables(conn.dialect.name, conn.dialect.paramstyle, prefix)
        self.cache = cache if cache is not None else {}
        for kind in SPEC:
            self.cache.setdefault(kind, {})
        self.dirty: dict[str, set[Key]] = {kind: set() for kind in SPEC}
        self.moves: list[tuple[Key, Okey, int]] = []
        self.moves_of: dict[Key, list[tuple[Okey, int]]] = {}  # the same, by item
        self.days: dict[DayKey, int] = {}  # the batch's dated deltas, summed per key
        self.loads = 0
        self.prefix = prefix
        self.bulk = conn.dialect.name == "postgresql"  # COPY-staged writes (pgbulk)
        self.flight = flight
        self._pseudonym_key = pseudonym_key
        # The newest movement's order key per stock item (None if it has none),
        # kept with the cached rows: a count later than it needs no ledger query.
        self.newest: dict[Key, Any] = self.cache.setdefault(LEDGER, {})
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        moves = f'"{prefix}stock_moves"'
        self.key_sql = f'SELECT "value" FROM "central_meta" WHERE "key" = {mark}'
        position = f'"{prefix}projector_position"'
        at = f'"coop_id" = {mark} AND "location" = {mark} AND "sku" = {mark}'
        self.moves_sum = (
            f'SELECT COALESCE(SUM("delta"), 0) FROM {moves} WHERE {at} AND "okey" < {mark}'
        )
        # the same with the position, in one statement (one snapshot): did the batch in
        # flight commit before the sum was taken?
        self.moves_sum_at = (
            f'SELECT (SELECT "position" FROM {position} WHERE "name" = {mark}), ({self.moves_sum})'
        )
        # (no MAX of bytea on PostgreSQL; the key's index answers this as fast) and, in the
        # same statement, the sum a late count asks next (see moves_after)
        self.moves_max = (
            f'SELECT (SELECT "okey" FROM {moves} WHERE {at} ORDER BY "okey" DESC LIMIT 1), '
            f"({self.moves_sum})"
        )
        self._summed: tuple[Key, bytes, int] | None = None  # (item, order key, stored sum)
        self.moves_insert = (
            f'INSERT INTO {moves} ("coop_id", "location", "sku", "okey", "delta") '
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) "
            'ON CONFLICT ("coop_id", "location", "sku", "okey") '
            f'DO UPDATE SET "delta" = {moves}."delta" + excluded."delta"'
        )
        self.days_insert, self.totals_insert = (
            f'INSERT INTO "{prefix}{name}" ({", ".join(cols)}) '
            f"VALUES ({', '.join(mark for _ in cols)}) ON CONFLICT ({', '.join(cols[:-1])}) "
            f'DO UPDATE SET "amount" = "{prefix}{name}"."amount" + excluded."amount"'
            for name, cols in (
                ("coop_day", ('"day"', '"coop_id"', '"area"', '"figure"', '"amount"')),
                ("coop_total", ('"coop_id"', '"area"', '"figure"', '"amount"')),
            )
        )

    # --- the State port ----------------------------------------------------------------
    def get(self, table: str, key: Key) -> Row | None:
        cache = self.cache[table]
        row = cache.get(key, _MISSING)
        if row is _MISSING:
            if table in self.complete:
                return None
        elif row is not EVICTED:
            found: Row | None = row
            return found
        self.loads += 1
        self._load(table, [key])
        return cache[key]

    def put(self, table: str, key: Key, row: Row) -> None:
        self.cache[table][key] = row
        self.dirty[table].add(key)

    def delete(self, table: str, key: Key) -> None:
        self.cache[table][key] = None
        self.dirty[table].add(key)

    def add_move(self, stock: Key, okey: Okey, delta: int) -> None:
        self.moves.append((stock, okey, delta))
        self.moves_of.setdefault(stock, []).append((okey, delta))
        newest = self.newest.get(stock, _MISSING)
        if newest is _MISSING:
            if "stock" in self.complete:
                self.newest[stock] = okey
            return  # else not known yet: the first question about it asks the database
        if newest is None or okey > newest:
            self.newest[stock] = okey

    def add_day(self, table: str, coop: str, day: str, figure: str, delta: int) -> None:
        key = (coop, day, AREA_OF[table], figure)
        self.days[key] = self.days.get(key, 0) + delta

    def moves_before(self, stock: Key, okey: Okey) -> int:
        at = okey_bytes(okey)
        flying = self.flight.moves(stock) if self.flight is not None else None
        if self._summed is not None and self._summed[:2] == (stock, at):
            stored = self._summed[2]  # asked with the newest movement, nothing since
        elif flying is None:
            self.cursor.execute(self.moves_sum, (*stock, at))
            stored = int(_scalar(self.cursor))
        else:
            name, lands_at, moves = flying
            self.cursor.execute(self.moves_sum_at, (name, *stock, at))
            position, stored = _row(self.cursor)
            stored = int(stored)
            if position != lands_at:  # not committed yet: not in the sum
                stored += sum(d for o, d in moves if o < at)
        pending = sum(d for o, d in self.moves_of.get(stock, ()) if o < okey)
        return stored + pending

    def pseudonym(self, kind: str, value: str) -> str:
        if self._pseudonym_key is None:  # on the raw cursor: no BEGIN (see the projector)
            self.cursor.execute(self.key_sql, (meta.PSEUDONYM_KEY,))
            found = self.cursor.fetchone()
            if found is None:
                raise LookupError("the central store has no pseudonym key yet")
            self._pseudonym_key = bytes(found[0])
        return pseudonym(self._pseudonym_key, kind, value)

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        newest = self.newest.get(stock, _MISSING)
        if newest is _MISSING:
            newest = None
            if "stock" not in self.complete:  # else every movement is one made here
                if self.flight is not None:
                    self.flight.settle(self.dirty)
                at = okey_bytes(okey)
                self.cursor.execute(self.moves_max, (*stock, *stock, at))
                stored, summed = _row(self.cursor)
                newest = None if stored is None else okey_of(bytes(stored))
                self._summed = stock, at, int(summed)
            for o, _ in self.moves_of.get(stock, ()):
                if newest is None or o > newest:
                    newest = o
            self.newest[stock] = newest
        return newest is not None and newest > okey

    # --- bulk I/O ------------------------------------------------------------------------
    def prefetch(self, wanted: dict[str, set[Key]]) -> None:
        for table, keys in wanted.items():
            cache = self.cache[table]
            if table in self.complete:
                missing = [k for k in keys if cache.get(k) is EVICTED]
            else:
                missing = [k for k in keys if cache.get(k, EVICTED) is EVICTED]
            for i in range(0, len(missing), CHUNK):
                self._load(table, missing[i : i + CHUNK])

    def _load(self, table: str, keys: list[Key]) -> None:
        t = self.t[table]
        cache = self.cache[table]
        for k in keys:
            cache[k] = None
        n = len(t.pk)
        while keys:
            size = in_list_length(len(keys))
            part, keys = keys[:size], keys[size:]
            self.cursor.execute(t.select + t.where_in(size), [v for k in part for v in k])
            for values in self.cursor.fetchall():
                cache[tuple(values[:n])] = t.row(values)

    def flush(self) -> int:
        """Write every changed row and the new stock movements; returns rows written."""
        writes = self.prepare()
        writes.write(self.cursor)
        writes.evict(self.cache)
        return writes.rows

    def prepare(self) -> Writes:
        """The changed rows as parameters, ready to write on any cursor of the same kind
        (:meth:`Writes.write`, another thread's); the cache is left as it is until
        :meth:`Writes.evict` (after the write has committed)."""
        writes = Writes(self.prefix if self.bulk else None)
        for table, keys in self.dirty.items():
            if not keys:
                continue
            t, cache = self.t[table], self.cache[table]
            rows = [t.params(r) for k in keys if (r := cache[k]) is not None]
            gone = [list(k) for k in keys if cache[k] is None]
            writes.tables.append((table, t, rows, gone))
            writes.rows += len(keys)
            if table in self.evict:
                writes.written[table] = keys
            self.dirty[table] = set()
        if self.moves:
            summed: dict[tuple[str, str, str, bytes], int] = {}
            for k, o, d in self.moves:
                at = (k[0], k[1], k[2], okey_bytes(o))
                summed[at] = summed.get(at, 0) + d
            writes.moves = [(*at, d) for at, d in summed.items()]
            writes.moves_insert = self.moves_insert
            writes.rows += len(summed)
            self.moves = []
            self.moves_of = {}
        if self.days:
            totals: dict[tuple[str, str, str], int] = {}
            for (coop, day, area, figure), delta in self.days.items():
                if delta:
                    writes.days.append((day, coop, area, figure, delta))
                    total = (coop, area, figure)
                    totals[total] = totals.get(total, 0) + delta
            writes.totals = [(*k, d) for k, d in totals.items() if d]
            writes.days_insert, writes.totals_insert = self.days_insert, self.totals_insert
            writes.rows += len(writes.days) + len(writes.totals)
            self.days = {}
        return writes
