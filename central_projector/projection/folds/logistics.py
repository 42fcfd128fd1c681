"""Logistics: shipments between stock locations and cooperatives, and discrepancies.

Conflict rules: every figure is a sum or a set, so arrival order does not
matter. Dispatching takes the goods out of stock at the dispatching cooperative's
origin; each receipt adds them at the receiving cooperative's location (a shipment may
arrive in parts, or before its dispatch reaches the central). A discrepancy is a fact
counted on the shipment; stock is corrected by the receipt itself.

Row ``shipment`` (shipment_id) = ``{coop_id (dispatcher, else first receiver),
destination, origin, dispatched_on, dispatched: {sku: qty}, received: {sku: qty},
receipts, receivers, discrepancies: {event_id: [sku, expected, received, reason]},
short: {sku: qty}, status}``.
"""

from __future__ import annotations

from central_projector.projection.folds import shop_stock
from central_projector.projection.folds.base import Event, Row, State, claim_owner


def _shipment(state: State, ev: Event) -> Row:
    return state.get("shipment", (ev.aggregate_id,)) or {
        "shipment_id": ev.aggregate_id,
        "coop_id": None,
        "owner_src": None,
        "origin": None,
        "destination": None,
        "dispatched_on": None,
        "dispatch_okey": None,
        "dispatched": {},
        "received": {},
        "received_on": None,
        "receipts": 0,
        "receivers": [],
        "discrepancies": {},
        "short": {},
        "status": "UNKNOWN",
    }


def _finish(state: State, row: Row) -> None:
    sent, got = row["dispatched"], row["received"]
    row["short"] = {
        sku: sent.get(sku, 0) - got.get(sku, 0)
        for sku in sorted(set(sent) | set(got))
        if sent.get(sku, 0) != got.get(sku, 0)
    }
    row["status"] = (
        "RECEIVED"
        if row["receipts"] and row["dispatch_okey"] and not row["short"]
        else "PARTIAL"
        if row["receipts"] and row["dispatch_okey"]
        else "DISPATCHED"
        if row["dispatch_okey"]
        else "RECEIVED_UNDISPATCHED"
        if row["receipts"]
        else "UNKNOWN"
    )
    state.put("shipment", (row["shipment_id"],), row)


def dispatched(state: State, ev: Event) -> None:
    row = _shipment(state, ev)
    claim_owner(row, ev.okey, ev.coop_id, True)
    p = ev.payload
    if row["dispatch_okey"] is None or ev.okey < row["dispatch_okey"]:
        row["dispatch_okey"] = ev.okey
        row["origin"] = p["origin"]
        row["destination"] = p["destination"]
        row["dispatched_on"] = p["dispatched_on"]
        row["dispatched"] = _qty(p["lines"])
    for line in p["lines"]:
        shop_stock.move(
            state, ev.coop_id, p["origin"], line["sku"], ev.okey, -line["qty"], "shipped_out"
        )
    _finish(state, row)


def received(state: State, ev: Event) -> None:
    row = _shipment(state, ev)
    claim_owner(row, ev.okey, ev.coop_id, False)
    p = ev.payload
    for sku, qty in _qty(p["lines"]).items():
        row["received"][sku] = row["received"].get(sku, 0) + qty
        shop_stock.move(state, ev.coop_id, p["location"], sku, ev.okey, qty, "shipped_in")
    row["receipts"] += 1
    row["receivers"] = sorted({*row["receivers"], ev.coop_id})
    if row["received_on"] is None or p["received_on"] > row["received_on"]:
        row["received_on"] = p["received_on"]
    _finish(state, row)


def discrepancy(state: State, ev: Event) -> None:
    row = _shipment(state, ev)
    claim_owner(row, ev.okey, ev.coop_id, False)
    p = ev.payload
    row["discrepancies"][ev.event_id] = [
        p["sku"],
        p["expected_qty"],
        p["received_qty"],
        p["reason"],
    ]
    _finish(state, row)


def _qty(lines: list[dict[str, int | str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        sku, qty = str(line["sku"]), int(line["qty"])
        out[sku] = out.get(sku, 0) + qty
    return out


HANDLERS = {
    "ShipmentDispatched": dispatched,
    "ShipmentReceived": received,
    "ShipmentDiscrepancyRecorded": discrepancy,
}
