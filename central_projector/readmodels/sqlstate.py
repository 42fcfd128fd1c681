"""The SQL adapter of the read-model port: a per-batch cache over the ``rm_`` tables.

``prefetch`` loads the rows a batch will read with one ``IN`` query per table and chunk;
the pure folds then read and write the cache; ``flush`` writes every changed row with
one ``executemany`` upsert (``INSERT … ON CONFLICT DO UPDATE``, the same text on SQLite
and PostgreSQL) and one delete per table, and appends the stock movements, all in the
caller's transaction. Rows missed by the prefetch are loaded one by one (rare).

The hot path talks to the DB-API cursor of the SQLAlchemy connection (same transaction):
SQLAlchemy's per-row parameter processing cost more than the folds themselves. Document
columns are msgpack (:func:`central_projector.readmodels.tables.pack`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.models.base import Key, Okey, Row
from central_projector.readmodels.tables import PREFIX, SPEC, table_set

CHUNK = 400
_HEAD: Callable[..., bytes] = struct.Struct(">QI").pack
_TAIL: Callable[..., bytes] = struct.Struct(">xQ").pack  # a NUL, then the seq
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


EVICTED: Any = object()  # in a cache: the row exists in the database, load it when needed
_MISSING: Any = object()


class SqlState:
    """Rows of one batch: loaded in bulk, changed in memory, written back in bulk."""

    def __init__(
        self,
        conn: sa.Connection,
        cache: dict[str, dict[Key, Row | None]] | None = None,
        complete: frozenset[str] = frozenset(),
        evict: tuple[str, ...] = (),
        prefix: str = PREFIX,
    ) -> None:
        """``cache``: rows known from earlier steps (the caller vouches they are current);
        ``complete``: tables whose every row is in ``cache``, so a key not there is absent
        (a replay into empty read models), and need not be looked up; ``evict``: tables
        whose written rows are dropped from ``cache`` after the flush, remembered only as
        existing (:data:`EVICTED`); ``prefix``: of the table names (``rm_`` live,
        another for a replay's shadow tables)."""
        self.complete = complete
        self.evict = evict
        self.conn = conn
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self.t = _tables(conn.dialect.name, conn.dialect.paramstyle, prefix)
        self.stock_moves = table_set(prefix).stock_moves
        self.cache = cache if cache is not None else {}
        for kind in SPEC:
            self.cache.setdefault(kind, {})
        self.dirty: dict[str, set[Key]] = {kind: set() for kind in SPEC}
        self.moves: list[tuple[Key, Okey, int]] = []
        self.moves_of: dict[Key, list[tuple[Okey, int]]] = {}  # the same, by item
        self.loads = 0
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.moves_insert = (
            f'INSERT INTO "{prefix}stock_moves" ("coop_id", "location", "sku", "okey", "delta") '
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) "
            'ON CONFLICT ("coop_id", "location", "sku", "okey") '
            f'DO UPDATE SET "delta" = "{prefix}stock_moves"."delta" + excluded."delta"'
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

    def moves_before(self, stock: Key, okey: Okey) -> int:
        m = self.stock_moves.c
        coop, location, sku = stock
        stored = self.conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(m.delta), 0)).where(
                m.coop_id == coop, m.location == location, m.sku == sku, m.okey < okey_bytes(okey)
            )
        ).scalar_one()
        pending = sum(d for o, d in self.moves_of.get(stock, ()) if o < okey)
        return int(stored) + pending

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        if any(o > okey for o, _ in self.moves_of.get(stock, ())):
            return True
        m = self.stock_moves.c
        coop, location, sku = stock
        later = self.conn.execute(
            sa.select(m.delta)
            .where(
                m.coop_id == coop, m.location == location, m.sku == sku, m.okey > okey_bytes(okey)
            )
            .limit(1)
        ).first()
        return later is not None

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
        written = 0
        cur = self.cursor
        for table, keys in self.dirty.items():
            if not keys:
                continue
            t, cache = self.t[table], self.cache[table]
            rows = [t.params(r) for k in keys if (r := cache[k]) is not None]
            gone = [list(k) for k in keys if cache[k] is None]
            if rows:
                cur.executemany(t.upsert, rows)
            if gone:
                cur.executemany(t.delete, gone)
            written += len(keys)
            if table in self.evict:
                for k in keys:
                    if cache[k] is not None:
                        cache[k] = EVICTED
            keys.clear()
        if self.moves:
            summed: dict[tuple[str, str, str, bytes], int] = {}
            for k, o, d in self.moves:
                at = (k[0], k[1], k[2], okey_bytes(o))
                summed[at] = summed.get(at, 0) + d
            cur.executemany(self.moves_insert, [(*at, d) for at, d in summed.items()])
            written += len(summed)
            self.moves.clear()
            self.moves_of.clear()
        return written
