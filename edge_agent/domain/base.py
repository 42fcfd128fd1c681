"""The shape of the edge's local rules: pure functions over small per-entity views.

The edge is the only writer of its own aggregates, so it can enforce local
rules before it records. Each event type has a :class:`Rule`:

- ``keys(ev)``: the view keys it reads and writes (e.g. ``"savings:ACC1"``);
- ``more_keys(views, ev)``: keys that can only be known from the views loaded for
  ``keys`` (voiding a sale returns stock at the locations its view remembers);
  loaded second, before ``check`` (:func:`load_for` does both steps); most rules have none;
- ``check(views, ev)``: raise :class:`RuleViolation` if the event must not be recorded;
- ``apply(views, ev)``: fold the event into the views (mutating the given dict).

A view is a small msgpack-able map (or ``None`` when absent). Views are saved
with every append, in the same transaction, so deciding never replays history
and append cost does not grow with the log. Everything here is pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

View = dict[str, Any]
Views = dict[str, View | None]


@dataclass(frozen=True, slots=True)
class Proposed:
    """An event about to be recorded (or received from the central), before or after sealing."""

    type: str
    aggregate_id: str
    payload: dict[str, Any]
    event_id: str
    device_id: str
    coop_id: str


def no_more_keys(views: Views, ev: Proposed) -> list[str]:
    return []


@dataclass(frozen=True, slots=True)
class Rule:
    """The local rule of one event type."""

    keys: Callable[[Proposed], list[str]]
    check: Callable[[Views, Proposed], None]
    apply: Callable[[Views, Proposed], None]
    more_keys: Callable[[Views, Proposed], list[str]] = no_more_keys


def load_for(rule: Rule, ev: Proposed, views: Views, load: Callable[[list[str]], None]) -> None:
    """Load into ``views`` what ``rule`` reads: ``keys`` first, then ``more_keys``.

    ``load(keys)`` must put every key it is given into ``views`` (``None`` when absent);
    keys already in ``views`` (from an earlier event of the same transaction) are skipped.
    """
    load([k for k in rule.keys(ev) if k not in views])
    load([k for k in rule.more_keys(views, ev) if k not in views])


def no_keys(ev: Proposed) -> list[str]:
    return []


def no_check(views: Views, ev: Proposed) -> None:
    return None


def no_apply(views: Views, ev: Proposed) -> None:
    return None


FREE = Rule(no_keys, no_check, no_apply)
