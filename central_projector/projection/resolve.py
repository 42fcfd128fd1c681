"""Deciding a conflict item: the one application function the CLI and the console call.

A decision is a central ``ConflictResolved`` event (aggregate id = the conflict id) with
the decision, a note and who decided; the fold then keeps the last decision by total
order. Authorisation is by region: an operator of province 62 may decide only items of
cooperatives whose id begins with one of their region codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds.conflicts import listing
from central_projector.projection.readmodels.tables import TABLES, decode_row
from central_projector.record.store import CentralStore
from sync_core.errors import NotAuthorised, UnknownItem, UsageError
from sync_core.ids import check_id

MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class Decision:
    """What was recorded: the item as it was before, and the event that decided it."""

    conflict_id: str
    kind: str | None
    coop_id: str
    decision: str
    event_id: str
    decided_before: bool


def find_item(conn: sa.Connection, conflict_id: str) -> dict[str, Any] | None:
    """One item of the queue (as ``central conflicts`` lists it), or ``None``."""
    c, r = TABLES["conflict"], TABLES["resolution"]
    rows = [
        decode_row("conflict", dict(m))
        for m in conn.execute(sa.select(c).where(c.c.conflict_id == conflict_id)).mappings()
    ]
    decided = [
        decode_row("resolution", dict(m))
        for m in conn.execute(sa.select(r).where(r.c.conflict_id == conflict_id)).mappings()
    ]
    items = listing(rows, decided)
    return items[0] if items else None


def may_decide(regions: tuple[str, ...] | None, coop_id: str) -> bool:
    """Whether an operator of ``regions`` (``None``: the store's own administrator) may."""
    return regions is None or any(coop_id.startswith(code) for code in regions)


def resolve_conflict(
    store: CentralStore,
    conflict_id: str,
    decision: str,
    note: str,
    *,
    resolved_by: str | None = None,
    regions: tuple[str, ...] | None = None,
) -> Decision:
    """Record ``decision`` on ``conflict_id``; raise when it is unknown or not the operator's."""
    check_id(conflict_id, "conflict id")
    check_id(decision, "decision")
    note = note.strip()
    if not note:
        raise UsageError("a decision needs a note saying why, in a sentence")
    if len(note) > MAX_NOTE:
        raise UsageError(f"the note is longer than {MAX_NOTE} characters")
    with store.engine.execution_options(kopsync_read=True).connect() as conn:
        item = find_item(conn, conflict_id)
    if item is None:
        raise UnknownItem(
            f"no conflict {conflict_id}; `kopsync central conflicts --open` lists the open ones"
        )
    if not may_decide(regions, item["coop_id"]):
        raise NotAuthorised(
            f"conflict {conflict_id} is of cooperative {item['coop_id']}, outside your "
            f"region{'s' if regions and len(regions) > 1 else ''} {', '.join(regions or ())}"
        )
    payload: dict[str, Any] = {"decision": decision, "note": note}
    if resolved_by:
        payload["resolved_by"] = resolved_by
    env = store.issue("ConflictResolved", item["coop_id"], payload, conflict_id)
    return Decision(
        conflict_id,
        item["kind"],
        item["coop_id"],
        decision,
        env.event_id,
        item["resolution"] is not None,
    )
