"""Aid (KHBS): redemption allowances, per device or cooperative and cycle.

Conflict rule: an allowance overspent. Its debits (the non-voided redemptions naming it)
are applied in total order against its max count and value; the debit that crosses zero
is split covered/uncovered (OVERSPEND with the overspend and the devices involved). The
allowance keeps its own debits and re-derives from them, so a late arrival with a smaller
key re-resolves the split; a debit newer than every one applied so far (``walked``, the
usual case) is applied on the totals.

Rows: ``allowance`` (id). Shared across cooperatives: ``coop_id`` is the owner (see
:func:`central_projector.projection.folds.base.claim_owner`). The redemptions that debit it:
:mod:`central_projector.projection.folds.aid`.
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds.base import Event, Row, State, claim_owner
from central_projector.projection.folds.conflicts import found, report


def _allowance(state: State, allowance_id: str) -> Row:
    return state.get("allowance", (allowance_id,)) or {
        "allowance_id": allowance_id,
        "coop_id": None,
        "owner_src": None,
        "scope": None,
        "device_id": None,
        "program": None,
        "cycle": None,
        "max_count": 0,
        "max_value": 0,
        "alloc_okey": None,
        "debits": {},
        "used_count": 0,
        "used_value": 0,
        "over_count": 0,
        "over_value": 0,
        "available_count": 0,
        "available_value": 0,
        "devices_over": [],
        "walked": None,
        "conflicts": {},
    }


def allocated(state: State, ev: Event) -> None:
    row = _allowance(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, True)
    if row["alloc_okey"] is None or row["alloc_okey"] < ev.okey:
        p = ev.payload
        row["alloc_okey"] = ev.okey
        row["scope"] = p["scope"]
        row["device_id"] = p.get("device_id")
        row["program"] = p["program"]
        row["cycle"] = p["cycle"]
        row["max_count"] = p["max_count"]
        row["max_value"] = p["max_value"]
    _walk_allowance(state, row)


def allowance_debit(
    state: State, redemption_id: str, redemption: list[Any], entitlement_id: str, live: bool
) -> None:
    """Add (``live``) or take back a redemption's debit; ownership as the redemption says."""
    okey, coop, device, value, allowance_id, _card_uid = redemption
    row = _allowance(state, allowance_id)
    claim_owner(row, okey, coop, False)
    appended = (
        live
        and redemption_id not in row["debits"]
        and (row["walked"] is None or okey > row["walked"])
    )
    if live:
        row["debits"][redemption_id] = [okey, device, value, entitlement_id]
    else:
        row["debits"].pop(redemption_id, None)
    if appended:  # the usual case: the newest debit, applied on the totals
        row["walked"] = okey
        _allowance_step(row, value, device)
        _allowance_finish(state, row)
    else:
        _walk_allowance(state, row)


def _walk_allowance(state: State, row: Row) -> None:
    """Re-derive the allowance's use from its own debits in total order."""
    row.update(used_count=0, used_value=0, over_count=0, over_value=0, devices_over=[])
    row["walked"] = None
    for okey, device, amount, _entitlement in sorted(row["debits"].values()):
        _allowance_step(row, amount, device)
        row["walked"] = okey
    _allowance_finish(state, row)


def _allowance_step(row: Row, amount: int, device: str) -> None:
    """Apply one debit against max count and value; the crossing one is split."""
    over = False
    if row["used_count"] >= row["max_count"]:
        row["over_count"] += 1
        row["over_value"] += amount
        over = True
    else:
        covered = min(amount, row["max_value"] - row["used_value"])
        row["used_count"] += 1
        row["used_value"] += covered
        if covered < amount:
            row["over_value"] += amount - covered
            over = True
    if over and device not in row["devices_over"]:
        row["devices_over"] = sorted([*row["devices_over"], device])


def _allowance_finish(state: State, row: Row) -> None:
    row["available_count"] = row["max_count"] - row["used_count"]
    row["available_value"] = row["max_value"] - row["used_value"]
    items = []
    if row["over_count"] or row["over_value"]:
        detail = {
            "allowance_id": row["allowance_id"],
            "overspend_count": row["over_count"],
            "overspend_value": row["over_value"],
            "devices": row["devices_over"],
        }
        items.append(("OVERSPEND", f"allowance:{row['allowance_id']}", row["coop_id"], detail))
    report(state, row, found(*items))
    state.put("allowance", (row["allowance_id"],), row)
