"""Logistics: shipments of goods between stock locations and cooperatives.

Rules:
- A shipment id is dispatched once from this device (``duplicate_shipment``).
- Dispatching takes the goods out of stock at ``origin``, with the same rule as a sale:
  no negative stock unless the operator overrides with a reason (``negative_stock``,
  ``stock_override_reason``).
- Receiving adds the goods to stock at ``location``; a shipment may arrive in parts.
- A discrepancy (what arrived differs from what was sent) is a fact: never refused,
  counted on the shipment. Stock is corrected by the receipt itself or an adjustment.

Views:
- ``shipment:{shipment_id}`` = ``{dispatched, origin, destination, receipts,
  discrepancies}`` (``dispatched`` True once sent from this device; the others counts);
- ``stock:{location}:{sku}`` = ``{on_hand}`` (see :mod:`edge_agent.domain.common`).
"""

from __future__ import annotations

from edge_agent.domain.base import Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import (
    get_or_add,
    loaded,
    refuse_negative_stock,
    return_stock,
    stock_keys,
    take_stock,
)
from sync_core.errors import RuleViolation


def shipment_key(shipment_id: str) -> str:
    return f"shipment:{shipment_id}"


def _shipment(views: Views, ev: Proposed) -> View:
    default: View = {
        "dispatched": False,
        "origin": None,
        "destination": None,
        "receipts": 0,
        "discrepancies": 0,
    }
    return get_or_add(views, shipment_key(ev.aggregate_id), default)


def _dispatch_keys(ev: Proposed) -> list[str]:
    return [shipment_key(ev.aggregate_id), *stock_keys(ev.payload["lines"], ev.payload["origin"])]


def _check_dispatch(views: Views, ev: Proposed) -> None:
    shipment = loaded(views, shipment_key(ev.aggregate_id))
    if shipment is not None and shipment["dispatched"]:
        raise RuleViolation(
            "duplicate_shipment",
            f"shipment {ev.aggregate_id} was already dispatched from this device; "
            "use a new shipment number",
        )
    refuse_negative_stock(
        views, ev.payload["lines"], ev.payload["origin"], ev.payload.get("stock_override_reason")
    )


def _apply_dispatch(views: Views, ev: Proposed) -> None:
    shipment = _shipment(views, ev)
    shipment["dispatched"] = True
    shipment["origin"] = ev.payload["origin"]
    shipment["destination"] = ev.payload["destination"]
    take_stock(views, ev.payload["lines"], ev.payload["origin"])


def _receive_keys(ev: Proposed) -> list[str]:
    return [
        shipment_key(ev.aggregate_id),
        *stock_keys(ev.payload["lines"], ev.payload["location"]),
    ]


def _apply_receive(views: Views, ev: Proposed) -> None:
    _shipment(views, ev)["receipts"] += 1
    return_stock(views, ev.payload["lines"], ev.payload["location"])


def _shipment_keys(ev: Proposed) -> list[str]:
    return [shipment_key(ev.aggregate_id)]


def _apply_discrepancy(views: Views, ev: Proposed) -> None:
    _shipment(views, ev)["discrepancies"] += 1


RULES: dict[str, Rule] = {
    "ShipmentDispatched": Rule(_dispatch_keys, _check_dispatch, _apply_dispatch),
    "ShipmentReceived": Rule(_receive_keys, no_check, _apply_receive),
    "ShipmentDiscrepancyRecorded": Rule(_shipment_keys, no_check, _apply_discrepancy),
}
