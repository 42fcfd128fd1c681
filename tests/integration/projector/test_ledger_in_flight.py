"""A late stock count asks the ledger while an earlier batch may still be committing.

The pipelined projector does not wait for that batch: it reads the position and the sum
in one statement, and adds the batch's own movements only if the position shows it has
not committed. Both outcomes, on the real databases.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds.base import Key
from central_projector.projection.projector import NAME, Projector
from central_projector.projection.readmodels.sqlstate import SqlState, okey_bytes
from central_projector.projection.readmodels.tables import LIVE
from central_projector.record.store import CentralStore

STOCK: Key = ("6472010001", "main", "BERAS-5KG")
EARLY, MIDDLE, COUNT = [1, 0, "d1", 1], [2, 0, "d1", 2], [3, 0, "d2", 1]


class Flight:
    """A batch written by another connection that moves the position to ``lands_at``."""

    def __init__(self, lands_at: int, moves: list[tuple[bytes, int]]) -> None:
        self.lands_at, self._moves = lands_at, moves

    def settle(self, keep: Mapping[str, Collection[Key]]) -> None:
        raise AssertionError("a late count must not wait for the batch in flight")

    def moves(self, stock: Key) -> tuple[str, int, list[tuple[bytes, int]]] | None:
        return NAME, self.lands_at, self._moves if stock == STOCK else []


def _store(url: str) -> Projector:
    CentralStore(url).close()
    projector = Projector(url)
    with projector.engine.begin() as conn:
        conn.execute(sa.delete(LIVE.stock_moves))
        conn.execute(sa.delete(LIVE.position))
        conn.execute(sa.insert(LIVE.stock_moves), [_move(EARLY, 5)])
        conn.execute(sa.insert(LIVE.position), [{"name": NAME, "position": 10, "events": 1,
                                                 "updated_at": 0}])  # fmt: skip
    return projector


def _move(okey: list[object], delta: int) -> dict[str, object]:
    coop, location, sku = STOCK
    return {"coop_id": coop, "location": location, "sku": sku, "okey": okey_bytes(okey),
            "delta": delta}  # fmt: skip


def _before(projector: Projector, flight: Flight) -> int:
    with projector.engine.connect() as conn:
        state = SqlState(conn, flight=flight)
        return state.moves_before(STOCK, COUNT)


def test_a_batch_not_yet_committed_counts_from_its_own_movements(db_url: str) -> None:
    projector = _store(db_url)
    try:
        flight = Flight(20, [(okey_bytes(MIDDLE), 3)])
        assert _before(projector, flight) == 5 + 3
    finally:
        projector.close()


def test_a_batch_committed_meanwhile_counts_once(db_url: str) -> None:
    projector = _store(db_url)
    try:
        with projector.engine.begin() as conn:  # what the writer committed meanwhile
            conn.execute(sa.insert(LIVE.stock_moves), [_move(MIDDLE, 3)])
            conn.execute(sa.update(LIVE.position).values(position=20))
        flight = Flight(20, [(okey_bytes(MIDDLE), 3)])
        assert _before(projector, flight) == 5 + 3
    finally:
        projector.close()


class Counting:
    """The state's own cursor, counting the statements it runs."""

    def __init__(self, cursor: Any) -> None:
        self.cursor, self.statements = cursor, 0

    def execute(self, *args: Any) -> Any:
        self.statements += 1
        return self.cursor.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


class Settled:
    """No batch in flight (waiting for it returns at once)."""

    def settle(self, keep: Mapping[str, Collection[Key]]) -> None:
        pass

    def moves(self, stock: Key) -> None:
        return None


def test_a_late_count_asks_the_ledger_once(db_url: str) -> None:
    """An item whose newest movement is not known yet: whether a count is late and the
    movements before it come from one statement."""
    projector = _store(db_url)
    try:
        with projector.engine.begin() as conn:
            conn.execute(sa.insert(LIVE.stock_moves), [_move([4, 0, "d1", 3], 2)])
        with projector.engine.connect() as conn:
            state = SqlState(conn, flight=Settled())
            state.cursor = counting = Counting(state.cursor)
            assert state.moves_after(STOCK, COUNT)
            assert state.moves_before(STOCK, COUNT) == 5
            assert counting.statements == 1
    finally:
        projector.close()
