"""The whole projection as one fold: dispatch each event to its area, in total order.

``apply(state, events)`` is the only entry point the projector needs. Within a batch
the events are folded in total order, which only saves work (fewer late arrivals to
re-derive); the result does not depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from central_projector.projection.folds import (
    aid,
    conflicts,
    loans,
    logistics,
    membership,
    savings,
    shop_stock,
    stimulus,
    sync_health,
)
from central_projector.projection.folds.base import Event, Handler, MemoryState, State

HANDLERS: dict[str, Handler] = {
    **membership.HANDLERS,
    **savings.HANDLERS,
    **loans.HANDLERS,
    **shop_stock.HANDLERS,
    **aid.HANDLERS,
    **stimulus.HANDLERS,
    **logistics.HANDLERS,
    **sync_health.HANDLERS,
    "ConflictResolved": conflicts.resolved,
}


def apply(
    state: State,
    events: Iterable[Event],
    handlers: Mapping[str, Handler] = HANDLERS,
    observe: bool = True,
) -> int:
    """Fold ``events`` into ``state``; returns how many were folded.

    ``handlers`` and ``observe`` (sync health sees every event) narrow the fold to some
    areas, for a replay that rebuilds only their rows (:mod:`central_projector.projection.replay`).
    """
    ordered = sorted(events, key=_order)
    for ev in ordered:
        handler = handlers.get(ev.type)
        if handler is not None:
            handler(state, ev)
    if observe:
        sync_health.observe_all(state, ordered)
    return len(ordered)


def _order(ev: Event) -> tuple[int, int, str, int]:
    return ev.key


class MemoryProjector:
    """The projection in memory, with the exactly-once guard of the central store.

    The central store keeps ``(device_id, seq)`` unique, so the SQL projector never sees
    an event twice; here the same guard is a set, so tests can deliver duplicates.
    """

    def __init__(self) -> None:
        self.state = MemoryState()
        self.seen: set[tuple[str, int]] = set()

    def apply(self, events: Iterable[Event]) -> int:
        fresh: dict[tuple[str, int], Event] = {}
        for ev in events:
            k = (ev.device_id, ev.seq)
            if k not in self.seen and k not in fresh:
                fresh[k] = ev
        self.seen.update(fresh)
        return apply(self.state, fresh.values())
