"""The projector's row cache: read-model rows as its last committed step left them.

They stay valid for the next step as long as the position it finds is the one it left
(any other writer of the read models would have moved it) and so is the generation (a
replay's swap moves it, :mod:`central_projector.projection.replay`); a failed step drops
them. A projector that starts from position 0 knows the read models are empty, so while its
cache is whole (:attr:`RowCache.complete`) a row it has not seen does not exist: a full
replay looks nothing up.
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.readmodels.tables import SPEC

COMPLETE = frozenset(SPEC)


class RowCache:
    """At most ``limit`` rows (by kind, then key) kept between steps."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows: dict[str, dict[Any, Any]] = {}
        self.complete: frozenset[str] = frozenset()
        # (position, generation) the rows were committed at; -1: not valid for any step
        self.pos = -1
        self.gen = -1

    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def check(self, pos: int, generation: int) -> None:
        """Keep the rows only if they are the ones at ``pos`` and ``generation``."""
        if pos == 0:
            # Nothing projected yet, so every read model is empty: the cache alone
            # knows every row, and a key not in it needs no lookup (a full replay).
            self.rows, self.complete = {}, COMPLETE
        elif pos != self.pos or generation != self.gen or self.size() > self.limit:
            # another projector moved on, a replay swapped, or the cache grew too big
            self.drop()

    def committed(self, pos: int, generation: int) -> None:
        """The rows are now those at ``pos`` and ``generation``, if not too many."""
        self.pos, self.gen = pos, generation
        self.trim()

    def trim(self) -> None:
        """Never more than ``limit`` rows between steps."""
        if self.size() > self.limit:
            self.drop()

    def drop(self) -> None:
        """Forget every cached row: the next step looks them up again."""
        self.rows, self.complete, self.pos = {}, frozenset(), -1
