"""Signed events folded into rule views: the one fold the store records with and replays.

The store folds each event into its views as it records or receives it
(:func:`apply_event`, checking the local rule first when the device records it); ``kopsync
edge verify`` and ``kopsync edge repair`` fold every signed log the store holds, merged in
the total order (:func:`in_total_order`), with the same function, and compare or replace.
Pure: no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator

from edge_agent.domain import rule_for
from edge_agent.domain.base import Proposed, View, Views, load_for
from schemas import REGISTRY
from sync_core.envelope import Envelope


def as_proposed(env: Envelope) -> Proposed:
    """A signed event as the rules see it: its payload upcast to the latest version."""
    _, payload = REGISTRY.upcast(env.type, env.version, env.payload)
    return Proposed(env.type, env.aggregate_id, payload, env.event_id, env.device_id, env.coop_id)


def apply_event(
    views: Views, ev: Proposed, load: Callable[[list[str]], None], *, check: bool = False
) -> None:
    """Load what ``ev``'s rule reads, check it when ``check`` (raising ``RuleViolation``),
    and fold it into ``views``."""
    rule = rule_for(ev.type)
    load_for(rule, ev, views, load)
    if check:
        rule.check(views, ev)
    rule.apply(views, ev)


def in_total_order(streams: Iterable[Iterable[Envelope]]) -> Iterator[Envelope]:
    """The events of ``streams`` merged by the total order.

    Each stream must already be in that order (one device's or issuer's events by seq
    are: its clock only moves forward); the merge holds one event per stream in memory.
    """
    return heapq.merge(*streams, key=lambda e: e.order_key)


def fold(events: Iterable[Envelope]) -> dict[str, View]:
    """The views that ``events`` (in the order given) leave, absent views left out."""
    views: Views = {}

    def load(keys: list[str]) -> None:
        for k in keys:
            views.setdefault(k, None)

    for env in events:
        apply_event(views, as_proposed(env), load)
    return {k: v for k, v in views.items() if v is not None}
