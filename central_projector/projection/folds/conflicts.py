"""Conflict items: detected by the area folds, closed by ``ConflictResolved``.

Rules:
- Facts are never rejected: a conflict is *derived* from the events, so the set of
  items is a pure function of the set of events. An item is active while its
  condition holds (a void can clear a double redemption, a receipt a negative stock).
- The id is a hash of kind and subject, so the same case has the same id whatever the
  order of arrival, on every replay and on every projector.
- A human decision is a new central event, ``ConflictResolved`` (aggregate id = the
  conflict id, payload decision and note). Several decisions on one item: the last by
  total order stands. A resolved item stays resolved whatever arrives afterwards.
- Listing: an item is OPEN when active and unresolved, RESOLVED when a decision exists
  (kind and subject then shown only while the condition holds, so the listing too is
  independent of the order in which the condition came and went). A cleared item's row
  is deleted; its decision, if any, stays.

Kinds: DUPLICATE_REDEMPTION, OVERSPEND, NEGATIVE_STOCK, QUOTA_EXCEEDED, CREDIT_OVERPAID,
PROFILE_CONFLICT, DUPLICATE_NIK, NIK_COLLISION, LATE_REPAYMENT, RECOVERY_AFTER_WRITE_OFF,
CLOCK_SKEW, GAP.

Rows:
- ``conflict`` (conflict_id) = ``{kind, coop_id, subject, active, detail}``, only while
  active;
- ``resolution`` (conflict_id) = ``{coop_id, decision, note, resolved_by, okey, event_id}``.
An aggregate row that can raise items keeps ``conflicts`` = ``{id: [kind, subject, coop,
detail]}``, what it last reported, so only changes are written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from central_projector.projection.folds.base import Event, Row, State

KINDS = (
    "DUPLICATE_REDEMPTION",
    "OVERSPEND",
    "NEGATIVE_STOCK",
    "QUOTA_EXCEEDED",
    "CREDIT_OVERPAID",
    "PROFILE_CONFLICT",
    "DUPLICATE_NIK",
    "NIK_COLLISION",
    "LATE_REPAYMENT",
    "RECOVERY_AFTER_WRITE_OFF",
    "CLOCK_SKEW",
    "GAP",
)

Found = dict[str, list[Any]]  # conflict id -> [kind, subject, coop_id, detail]


def conflict_id(kind: str, subject: str) -> str:
    """The deterministic id of the item of ``kind`` about ``subject`` (a valid event id)."""
    return "C-" + hashlib.sha256(f"{kind}|{subject}".encode()).hexdigest()[:20]


def found(*items: tuple[str, str, str, Any]) -> Found:
    """Build the ``Found`` map from (kind, subject, coop_id, detail) tuples."""
    return {conflict_id(k, s): [k, s, c, d] for k, s, c, d in items}


def report(state: State, row: Row, now: Found) -> None:
    """Write the conflict rows whose state changed since ``row`` last reported."""
    before: Found = row.get("conflicts") or {}
    if before == now:
        return
    for cid, (kind, subject, coop, detail) in now.items():
        if before.get(cid) != [kind, subject, coop, detail]:
            state.put("conflict", (cid,), _row(cid, kind, subject, coop, True, detail))
    for cid in before:
        if cid not in now:
            state.delete("conflict", (cid,))
    row["conflicts"] = now


def _row(cid: str, kind: str, subject: str, coop: str, active: bool, detail: Any) -> Row:
    return {
        "conflict_id": cid,
        "kind": kind,
        "coop_id": coop,
        "subject": subject,
        "active": active,
        "detail": detail,
    }


def resolved(state: State, ev: Event) -> None:
    """``ConflictResolved``: the last decision by total order stands."""
    key = (ev.aggregate_id,)
    row = state.get("resolution", key)
    if row is not None and row["okey"] > ev.okey:
        return
    p = ev.payload
    state.put(
        "resolution",
        key,
        {
            "conflict_id": ev.aggregate_id,
            "coop_id": ev.coop_id,
            "decision": p["decision"],
            "note": p["note"],
            "resolved_by": p.get("resolved_by"),
            "okey": ev.okey,
            "event_id": ev.event_id,
        },
    )


def listing(conflicts: Iterable[Row], resolutions: Iterable[Row]) -> list[dict[str, Any]]:
    """The conflict queue: active items and decided ones, sorted by id (deterministic)."""
    by_id: dict[str, dict[str, Any]] = {}
    for c in conflicts:
        if c["active"]:
            by_id[c["conflict_id"]] = {
                "id": c["conflict_id"],
                "kind": c["kind"],
                "coop_id": c["coop_id"],
                "subject": c["subject"],
                "active": True,
                "detail": c["detail"],
                "status": "OPEN",
                "resolution": None,
            }
    for r in resolutions:
        item = by_id.setdefault(
            r["conflict_id"],
            {
                "id": r["conflict_id"],
                "kind": None,
                "coop_id": r["coop_id"],
                "subject": None,
                "active": False,
                "detail": None,
            },
        )
        item["status"] = "RESOLVED"
        item["resolution"] = {
            "decision": r["decision"],
            "note": r["note"],
            "resolved_by": r["resolved_by"],
            "event_id": r["event_id"],
        }
    return [by_id[k] for k in sorted(by_id)]
