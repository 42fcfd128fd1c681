"""The SQL adapter of the read-model port: a per-batch cache over the ``rm_`` tables.

``prefetch`` loads the rows a batch will read with one ``IN`` query per table; the
pure folds then read and write the cache; ``flush`` writes every changed row with one
``executemany`` upsert (``INSERT … ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike)
and one delete per table, and appends the stock movements, all in the caller's
transaction. Rows missed by the prefetch are loaded one by one (rare).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from central_projector.models.base import Key, Okey, Row
from central_projector.readmodels.tables import SPEC, TABLES, stock_moves

CHUNK = 500


def okey_bytes(okey: Okey) -> bytes:
    """An order key as bytes that sort like the key (device ids never contain NUL)."""
    wall, counter, device, seq = okey
    return (
        int(wall).to_bytes(8, "big")
        + int(counter).to_bytes(4, "big")
        + str(device).encode()
        + b"\x00"
        + int(seq).to_bytes(8, "big")
    )


class SqlState:
    """Rows of one batch: loaded in bulk, changed in memory, written back in bulk."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.cache: dict[str, dict[Key, Row | None]] = {kind: {} for kind in SPEC}
        self.dirty: dict[str, set[Key]] = {kind: set() for kind in SPEC}
        self.moves: list[tuple[Key, Okey, int]] = []
        self.loads = 0

    # --- the State port ----------------------------------------------------------------
    def get(self, table: str, key: Key) -> Row | None:
        cache = self.cache[table]
        try:
            return cache[key]
        except KeyError:
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

    def moves_before(self, stock: Key, okey: Okey) -> int:
        m = stock_moves.c
        coop, location, sku = stock
        stored = self.conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(m.delta), 0)).where(
                m.coop_id == coop, m.location == location, m.sku == sku, m.okey < okey_bytes(okey)
            )
        ).scalar_one()
        pending = sum(d for k, o, d in self.moves if k == stock and o < okey)
        return int(stored) + pending

    # --- bulk I/O ------------------------------------------------------------------------
    def prefetch(self, wanted: dict[str, set[Key]]) -> None:
        for table, keys in wanted.items():
            missing = [k for k in keys if k not in self.cache[table]]
            for i in range(0, len(missing), CHUNK):
                self._load(table, missing[i : i + CHUNK])

    def _load(self, table: str, keys: list[Key]) -> None:
        t = TABLES[table]
        pk = [t.c[name] for name in SPEC[table][0]]
        one = len(pk) == 1
        where = pk[0].in_([k[0] for k in keys]) if one else sa.tuple_(*pk).in_(keys)
        cache = self.cache[table]
        for k in keys:
            cache[k] = None
        for row in self.conn.execute(sa.select(t).where(where)).mappings():
            cache[tuple(row[c.name] for c in pk)] = dict(row)

    def flush(self) -> int:
        """Write every changed row and the new stock movements; returns rows written."""
        written = 0
        for table, keys in self.dirty.items():
            if not keys:
                continue
            cache = self.cache[table]
            rows = [cache[k] for k in keys if cache[k] is not None]
            gone = [k for k in keys if cache[k] is None]
            if rows:
                self.conn.execute(_upsert(self.conn, table), rows)  # type: ignore[arg-type]
            if gone:
                self.conn.execute(_delete(table), [_pk_params(table, k) for k in gone])
            written += len(keys)
            keys.clear()
        if self.moves:
            self.conn.execute(
                sa.insert(stock_moves),
                [
                    {
                        "coop_id": k[0],
                        "location": k[1],
                        "sku": k[2],
                        "okey": okey_bytes(o),
                        "delta": d,
                    }
                    for k, o, d in self.moves
                ],
            )
            written += len(self.moves)
            self.moves.clear()
        return written


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(conn: sa.Connection, table: str) -> Any:
    dialect = conn.dialect.name
    stmt = _UPSERTS.get((dialect, table))
    if stmt is None:
        t = TABLES[table]
        pk, cols = SPEC[table]
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t)
        stmt = ins.on_conflict_do_update(
            index_elements=list(pk), set_={name: ins.excluded[name] for name, _ in cols}
        )
        _UPSERTS[(dialect, table)] = stmt
    return stmt


def _delete(table: str) -> Any:
    t = TABLES[table]
    pk = SPEC[table][0]
    return sa.delete(t).where(*[t.c[name] == sa.bindparam(f"k_{name}") for name in pk])


def _pk_params(table: str, key: Iterable[str]) -> dict[str, str]:
    return {f"k_{name}": value for name, value in zip(SPEC[table][0], key, strict=True)}
