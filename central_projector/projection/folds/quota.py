"""Quota goods (3 kg LPG, subsidised fertiliser): what a cooperative received and sold of
an item in a month, against the quota allocated to it for that month.

Conflict rule: an item with a quota allocated for a month (any programme) whose receipts
or sales in that month exceed it is QUOTA_EXCEEDED (the received, sold and allocated
quantities in the detail). Facts are never rejected: the goods came and were sold; a
person decides. Receipts fall in the month of the cooperative's local day (a receipt
carries no business date), sales in the month of their day; a voided sale counts nothing.

Row ``quota_use`` (coop, sku, period) = ``{allocated, received, sold, conflicts}``; sums,
so the row is the same whatever the order.
"""

from __future__ import annotations

from central_projector.projection.folds.base import Row, State
from central_projector.projection.folds.conflicts import found, report


def _use(state: State, key: tuple[str, str, str]) -> Row:
    return state.get("quota_use", key) or {
        "coop_id": key[0],
        "sku": key[1],
        "period": key[2],
        "allocated": 0,
        "received": 0,
        "sold": 0,
        "conflicts": {},
    }


def count(state: State, coop: str, sku: str, period: str, column: str, qty: int) -> None:
    """Add ``qty`` (signed) to the month's ``allocated``, ``received`` or ``sold``."""
    key = (coop, sku, period)
    row = _use(state, key)
    row[column] += qty
    items = []
    over = max(row["received"], row["sold"])
    if row["allocated"] and over > row["allocated"]:
        detail = {k: row[k] for k in ("sku", "period", "allocated", "received", "sold")}
        items.append(("QUOTA_EXCEEDED", f"quota:{coop}:{sku}:{period}", coop, detail))
    report(state, row, found(*items))
    if row["allocated"] or row["received"] or row["sold"] or row["conflicts"]:
        state.put("quota_use", key, row)
    else:
        state.delete("quota_use", key)
