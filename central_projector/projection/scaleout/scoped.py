"""A :class:`State` for one projection stage: owned rows pass through, the rest are shadowed.

See :mod:`central_projector.projection.scaleout.routing` for which stage owns what. A shadowed row
is either dropped (its reads then see nothing) or, for the tables in ``KEPT``, kept in
the stage's private ``shadow`` state. Conflict deletions carry no subject: one is routed
to the side that last wrote that id in this stage (the subjects of the two sides never
share an id), else to the owned side.
"""

from __future__ import annotations

from central_projector.projection.folds.base import Key, Okey, Row, State
from central_projector.projection.scaleout.routing import CROSS, KEPT, owns


class ScopedState:
    """Routes each read and write of the folds to the owned state, the shadow, or nowhere."""

    def __init__(self, stage: str, owned: State, shadow: State) -> None:
        self.stage = stage
        self.owned = owned
        self.shadow = shadow
        self.kept = KEPT.get(stage, frozenset())
        self._stock = stage != CROSS
        self._shadow_conflicts: set[Key] = set()

    def _mine(self, table: str, key: Key, row: Row | None) -> bool:
        if table == "conflict" and row is None:
            return key not in self._shadow_conflicts
        return owns(self.stage, table, key, row)

    def get(self, table: str, key: Key) -> Row | None:
        if table == "conflict" or owns(self.stage, table, key, None):
            return self.owned.get(table, key)
        return self.shadow.get(table, key) if table in self.kept else None

    def put(self, table: str, key: Key, row: Row) -> None:
        if self._mine(table, key, row):
            if table == "conflict":
                self._shadow_conflicts.discard(key)
            self.owned.put(table, key, row)
            return
        if table == "conflict":
            self._shadow_conflicts.add(key)
        elif table in self.kept:
            self.shadow.put(table, key, row)

    def delete(self, table: str, key: Key) -> None:
        if self._mine(table, key, None):
            self.owned.delete(table, key)
        elif table in self.kept:
            self.shadow.delete(table, key)

    # Stock rows are per cooperative: their ledger lives with the cooperative stages.
    def add_move(self, stock: Key, okey: Okey, delta: int) -> None:
        if self._stock:
            self.owned.add_move(stock, okey, delta)

    def moves_before(self, stock: Key, okey: Okey) -> int:
        return self.owned.moves_before(stock, okey) if self._stock else 0

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        return self.owned.moves_after(stock, okey) if self._stock else False

    def pseudonym(self, kind: str, value: str) -> str:
        return self.owned.pseudonym(kind, value)

    # A dated figure goes with the row it derives from: written by the stage owning it.
    def add_day(self, table: str, coop: str, day: str, figure: str, delta: int) -> None:
        if owns(self.stage, table, (), None):
            self.owned.add_day(table, coop, day, figure, delta)
