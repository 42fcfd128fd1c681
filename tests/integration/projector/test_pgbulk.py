"""PostgreSQL's COPY-staged flush writes what the executemany flush writes, prefix by prefix."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from support.replay_data import commit, workload_rows

from central_projector.projection.projector import Projector
from central_projector.projection.readmodels import pgbulk
from central_projector.projection.readmodels.sqlstate import SqlState
from central_projector.projection.readmodels.tables import PREFIX, SPEC, TableSet, table_set

SHADOW = "rmx_"
ALWAYS, NEVER = 0, 10**9  # pgbulk.BULK_MIN: COPY every set of rows, or none
# rows deleted from a table by the current transaction (PostgreSQL's own count)
DELETED = sa.text(
    "SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_xact_user_tables WHERE relname = :t"
)


def columns(kind: str) -> list[str]:
    pk, cols = SPEC[kind]
    return [*pk, *(c for c, _ in cols)]


def raw(conn: sa.Connection, ts: TableSet) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table as stored (document bytes, bools, NULLs)."""
    out = {}
    for name, table in [*ts.tables.items(), ("stock_moves", ts.stock_moves)]:
        pk = list(table.primary_key.columns)
        out[name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*pk))]
    return out


def test_copy_staged_projection_equals_executemany_in_one_session(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same events projected both ways, step by step in shared transactions, store
    byte-identical rows: updates of existing rows, deletes and stock moves included (the
    staging tables truncated now and then)."""
    monkeypatch.setattr(pgbulk, "TRUNCATE_ROWS", 2000)
    commit(postgres_url, workload_rows(12, 6000))
    live = Projector(postgres_url, batch_size=400)
    try:
        table_set(SHADOW).metadata.create_all(live.engine)
        shadow = Projector(postgres_url, batch_size=400, engine=live.engine, prefix=SHADOW)
        deleted = {PREFIX: 0, SHADOW: 0}
        with live.engine.connect() as conn:
            while True:
                with conn.begin():
                    monkeypatch.setattr(pgbulk, "BULK_MIN", ALWAYS)
                    copied = live.step(conn=conn)
                    monkeypatch.setattr(pgbulk, "BULK_MIN", NEVER)
                    many = shadow.step(conn=conn)
                    for prefix in deleted:
                        deleted[prefix] += conn.execute(DELETED, {"t": f"{prefix}conflict"}).one()[
                            0
                        ]
                assert copied == many
                if copied.read == 0:
                    break
            staged, plain = raw(conn, table_set(PREFIX)), raw(conn, table_set(SHADOW))
        assert staged == plain
        assert sum(len(rows) for rows in staged.values()) > 6000
        assert staged["stock_moves"] and staged["sales_day"] and staged["member"]
        assert deleted[PREFIX] == deleted[SHADOW] > 0
    finally:
        live.close()


def test_upserts_deletes_and_moves_land_on_existing_rows_of_their_own_prefix(
    postgres_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the stage: an existing row is overwritten, a deleted one is gone, a move
    adds onto the stored delta, and documents, bools and NULLs read back as written; the
    other prefix's tables, written in the same transaction, keep their own rows."""
    monkeypatch.setattr(pgbulk, "BULK_MIN", ALWAYS)
    for prefix in (PREFIX, SHADOW):
        table_set(prefix).metadata.create_all(postgres_engine)
    okey = (1_767_225_600_000, 0, "k1", 7)

    def price(n: int, unit: int, okey_doc: Any) -> dict[str, Any]:
        return {"coop_id": "c1", "sku": f"S{n}", "unit_price": unit, "effective_from": None,
                "okey": okey_doc}  # fmt: skip

    def card(blocked: bool | None) -> dict[str, Any]:
        row: dict[str, Any] = {c: None for c in columns("card")}
        row |= {"card_uid": "K1", "coop_id": "c1", "blocked": blocked,
                "credits": {"a": [1, b"\x00\xff", "x"]}, "spent": -(2**62)}  # fmt: skip
        return row

    with postgres_engine.connect() as conn:
        with conn.begin():
            for prefix, scale in ((PREFIX, 1), (SHADOW, 100)):
                state = SqlState(conn, prefix=prefix)
                for n in range(3):
                    state.put("price", ("c1", f"S{n}"), price(n, n * scale, [n, "o"]))
                state.put("card", ("K1",), card(True))
                state.add_move(("c1", "main", "SKU"), okey, 5 * scale)
                state.flush()
        with conn.begin():
            state = SqlState(conn, prefix=PREFIX)
            state.put("price", ("c1", "S1"), price(1, 11, None))
            state.delete("price", ("c1", "S2"))
            state.put("card", ("K1",), card(False))
            state.add_move(("c1", "main", "SKU"), okey, -2)
            state.add_move(("c1", "main", "SKU"), okey, -1)
            state.flush()
        with conn.begin():
            live, other = SqlState(conn, prefix=PREFIX), SqlState(conn, prefix=SHADOW)
            assert live.get("price", ("c1", "S0")) == price(0, 0, [0, "o"])
            assert live.get("price", ("c1", "S1")) == price(1, 11, None)
            assert live.get("price", ("c1", "S2")) is None
            assert live.get("card", ("K1",)) == card(False)
            assert other.get("price", ("c1", "S2")) == price(2, 200, [2, "o"])
            assert other.get("card", ("K1",)) == card(True)
            delta = {p: table_set(p).stock_moves.c.delta for p in (PREFIX, SHADOW)}
            moves = {p: conn.execute(sa.select(d)).scalars().all() for p, d in delta.items()}
    assert moves == {PREFIX: [2], SHADOW: [500]}


def test_staging_tables_stay_small_over_many_flushes(
    postgres_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staged rows leave dead tuples that no vacuum reaches: the session's truncations
    keep a staging table near the size of one flush's rows, not the sum of all."""
    monkeypatch.setattr(pgbulk, "BULK_MIN", ALWAYS)
    monkeypatch.setattr(pgbulk, "TRUNCATE_ROWS", 1000)
    table_set(PREFIX).metadata.create_all(postgres_engine)
    size = sa.text("SELECT pg_relation_size('pg_temp.\"kopsync_stage_rm_price\"')")
    sizes = []
    with postgres_engine.connect() as conn:
        for n in range(30):
            with conn.begin():
                state = SqlState(conn)
                for i in range(400):
                    row = {"coop_id": "c1", "sku": f"S{i}", "unit_price": n,
                           "effective_from": "2026-01-01", "okey": [n, i]}  # fmt: skip
                    state.put("price", ("c1", f"S{i}"), row)
                state.flush()
                sizes.append(conn.execute(size).scalar_one())
        prices = conn.execute(sa.text('SELECT DISTINCT unit_price FROM "rm_price"')).all()
    assert prices == [(29,)]
    assert max(sizes) <= 4 * sizes[0] < 30 * sizes[0]
