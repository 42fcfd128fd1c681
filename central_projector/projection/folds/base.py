"""The pure core of the central projection: events in, rows out, no I/O.

A projection is a fold over the *set* of committed events. Each area module
(:mod:`membership`, :mod:`savings`, …) has an ``evolve``-style handler per event
type that reads and writes *rows* (plain JSON-able dicts) through the
:class:`State` port; the projector supplies an adapter (SQL with a per-batch
cache, or :class:`MemoryState` in the tests). Every row is a pure function of the
set of events that touched it:

- sums and flags are commutative;
- last-writer-wins compares order keys, never arrival;
- a row whose content goes back to nothing (a cleared conflict item, an emptied NIK
  group) is deleted, so that which rows exist is a function of the set too;
- order-dependent parts (allowance and card debits, loans in business-date order,
  the canonical member of a NIK) keep their aggregate's own small event list in
  the row and re-derive from it in total order, so a late arrival that changes a
  winner re-resolves.

Order keys are stored in rows as lists ``[wall, counter, device_id, seq]`` so that
they survive a JSON round trip and compare the same way before and after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from schemas.personal import pseudonym

OrderKey = tuple[int, int, str, int]
MEMORY_PSEUDONYM_KEY = b"memory-state"  # tests' key; a store has its own (record.meta)
Key = tuple[str, ...]
Row = dict[str, Any]
Okey = list[Any]  # an order key as stored in a row


class Event(NamedTuple):
    """One committed event as the projection sees it: payload upcast to the latest version.

    A named tuple rather than a frozen dataclass: immutable all the same, and built
    several times faster, which counts at tens of thousands of events a second.
    """

    key: OrderKey
    event_id: str
    coop_id: str
    type: str
    aggregate_id: str
    payload: dict[str, Any]
    received_at: int = 0
    flags: str = ""

    @property
    def device_id(self) -> str:
        return self.key[2]

    @property
    def seq(self) -> int:
        return self.key[3]

    @property
    def okey(self) -> Okey:
        return list(self.key)


class State(Protocol):
    """The read-model rows the fold reads and writes (the read-model store port)."""

    def get(self, table: str, key: Key) -> Row | None:
        """The row at ``key``, or ``None``; a returned row may be mutated, then ``put``."""

    def put(self, table: str, key: Key, row: Row) -> None:
        """Store ``row`` (the whole row) at ``key``."""

    def delete(self, table: str, key: Key) -> None:
        """Remove the row at ``key`` (a row whose content went back to nothing)."""

    def add_move(self, stock: Key, okey: Okey, delta: int) -> None:
        """Append one stock movement to the ledger of ``stock``."""

    def moves_before(self, stock: Key, okey: Okey) -> int:
        """Σ deltas of the ledger of ``stock`` whose order key is below ``okey``."""

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        """Whether the ledger of ``stock`` holds a movement with a larger order key."""

    def pseudonym(self, kind: str, value: str) -> str:
        """The store's keyed pseudonym of a personal ``value`` of ``kind`` (``nik``, ``kk``):
        what a conflict about a person is named by, instead of the value."""

    def add_day(self, table: str, coop: str, day: str, figure: str, delta: int) -> None:
        """Add ``delta`` to a cooperative's roll-up ``figure`` from local ``day`` on, on
        behalf of a row of ``table`` (see :mod:`central_projector.projection.folds.daily`)."""


DayKey = tuple[str, str, str, str]  # coop_id, day, area, figure
# The rows whose figures are dated, and the replay area (and ledger ``area``) of each.
AREA_OF = {"member": "membership", "savings": "savings", "fund": "stimulus",
           "entitlement": "aid", "stock": "shop", "receivable": "shop"}  # fmt: skip


class MemoryState:
    """An in-memory :class:`State`: the fake for tests and the reference semantics."""

    def __init__(self, pseudonym_key: bytes = MEMORY_PSEUDONYM_KEY) -> None:
        self.tables: dict[str, dict[Key, Row]] = {}
        self.moves: dict[Key, list[tuple[Okey, int]]] = {}
        self.pseudonym_key = pseudonym_key
        self.days: dict[DayKey, int] = {}  # as the SQL ledger, without its zeros

    def get(self, table: str, key: Key) -> Row | None:
        return self.tables.get(table, {}).get(key)

    def put(self, table: str, key: Key, row: Row) -> None:
        self.tables.setdefault(table, {})[key] = row

    def delete(self, table: str, key: Key) -> None:
        self.tables.get(table, {}).pop(key, None)

    def add_move(self, stock: Key, okey: Okey, delta: int) -> None:
        # one entry per order key, as the SQL ledger sums them; a compensating movement
        # (a superseded recording taken back) that brings it to zero leaves no entry, so
        # the ledger is the same whatever order the recordings arrived in
        moves = self.moves.setdefault(stock, [])
        for i, (k, d) in enumerate(moves):
            if k == okey:
                if d + delta:
                    moves[i] = (k, d + delta)
                else:
                    del moves[i]
                return
        moves.append((okey, delta))

    def moves_before(self, stock: Key, okey: Okey) -> int:
        return sum(d for k, d in self.moves.get(stock, ()) if k < okey)

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        return any(k > okey for k, _ in self.moves.get(stock, ()))

    def pseudonym(self, kind: str, value: str) -> str:
        return pseudonym(self.pseudonym_key, kind, value)

    def add_day(self, table: str, coop: str, day: str, figure: str, delta: int) -> None:
        key = (coop, day, AREA_OF[table], figure)
        value = self.days.get(key, 0) + delta
        if value:
            self.days[key] = value
        else:
            self.days.pop(key, None)

    def rows(self, table: str) -> dict[Key, Row]:
        return self.tables.get(table, {})


Handler = Callable[[State, Event], None]


def claim_owner(row: Row, okey: Okey, coop_id: str, authoritative: bool) -> None:
    """Set ``row['coop_id']`` to the cooperative that owns a shared aggregate.

    The defining event (a grant, an allocation, a dispatch) decides; until it is
    known, the cooperative of the smallest order key seen. A pure function of the set,
    as long as every event that claims is one that touches the row in any order.
    """
    src = [0 if authoritative else 1, okey]
    if row.get("owner_src") is None or src < row["owner_src"]:
        row["owner_src"] = src
        row["coop_id"] = coop_id


def masked(digits: str) -> str:
    """A NIK or KK number by its last four digits (UU PDP: conflict details reach screens)."""
    return f"…{digits[-4:]}" if len(digits) > 4 else digits
