"""Logistics: shipments dispatched, received, discrepancies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge_agent.app.teller.base import MAIN, Item, R_co, Recorder, given_id, present, today
from sync_core.ids import check_id


def _items(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [{"sku": s, "qty": q} for s, q in items]


def dispatch_shipment(
    recorder: Recorder[R_co],
    *,
    origin: str,
    destination: str,
    items: Sequence[Item],
    dispatched_on: str | None = None,
    override_stock: str | None = None,
    shipment_id: str | None = None,
) -> R_co:
    payload = present(
        origin=origin,
        destination=destination,
        lines=_items(items),
        dispatched_on=dispatched_on or today(recorder),
        stock_override_reason=override_stock,
    )
    return recorder.record(
        "ShipmentDispatched", payload, given_id(shipment_id, "SH", "shipment id")
    )


def receive_shipment(
    recorder: Recorder[R_co],
    shipment_id: str,
    *,
    items: Sequence[Item],
    location: str = MAIN,
    received_on: str | None = None,
) -> R_co:
    payload = {
        "lines": _items(items),
        "location": location,
        "received_on": received_on or today(recorder),
    }
    return recorder.record("ShipmentReceived", payload, check_id(shipment_id, "shipment id"))


def record_discrepancy(
    recorder: Recorder[R_co],
    shipment_id: str,
    *,
    sku: str,
    expected_qty: int,
    received_qty: int,
    reason: str,
) -> R_co:
    payload = {
        "sku": sku,
        "expected_qty": expected_qty,
        "received_qty": received_qty,
        "reason": reason,
    }
    return recorder.record(
        "ShipmentDiscrepancyRecorded", payload, check_id(shipment_id, "shipment id")
    )
