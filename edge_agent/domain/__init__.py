"""The edge's local business rules: one pure :class:`Rule` per event type.

``RULES`` covers every event type of the catalog, recorded here (checked, then applied)
or received from the central (applied only). See :mod:`edge_agent.domain.base` for the
shape and each area's module header for its rules and views.
"""

from __future__ import annotations

from edge_agent.domain import (
    aid,
    credit,
    devices,
    loans,
    logistics,
    membership,
    savings,
    shop,
    stimulus,
)
from edge_agent.domain.base import FREE, Proposed, Rule, View, Views, load_for
from sync_core.errors import UnknownEventType

RULES: dict[str, Rule] = {
    **membership.RULES,
    **savings.RULES,
    **loans.RULES,
    **shop.RULES,
    **credit.RULES,
    **aid.RULES,
    **stimulus.RULES,
    **logistics.RULES,
    **devices.RULES,
}


def rule_for(event_type: str) -> Rule:
    """The local rule of ``event_type``; :class:`UnknownEventType` if there is none."""
    try:
        return RULES[event_type]
    except KeyError:
        raise UnknownEventType(
            f"no local rule for event type '{event_type}'; "
            "`kopsync schemas list` shows the known types"
        ) from None


__all__ = ["FREE", "RULES", "Proposed", "Rule", "View", "Views", "load_for", "rule_for"]
