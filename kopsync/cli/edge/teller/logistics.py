"""``kopsync edge shipment …``: dispatch, receive, record a discrepancy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge_agent.app import teller
from kopsync.cli.edge.teller.common import (
    TellerGroup,
    common_options,
    date,
    items_option,
    override_option,
    record,
)


@click.group(cls=TellerGroup)
def shipment() -> None:
    """Shipments: dispatch, receive, record a discrepancy."""


@shipment.command("dispatch")
@click.option("--origin", required=True, help="Stock location the goods leave.")
@click.option("--to", "destination", required=True, help="Destination cooperative id.")
@items_option
@date("--on", "dispatched_on")
@override_option
@click.option("--id", "shipment_id", default=None, help="Shipment id (default: SH-<8 hex>).")
@common_options
def shipment_dispatch(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Send goods out of a stock location (ShipmentDispatched)."""
    record(data_dir, as_json, lambda a: teller.dispatch_shipment(a, **opts), "shipment_id")


@shipment.command("receive")
@click.argument("shipment_id")
@items_option
@click.option("--location", default=teller.MAIN, show_default=True)
@date("--on", "received_on")
@common_options
def shipment_receive(data_dir: Path, as_json: bool, shipment_id: str, **opts: Any) -> None:
    """Record goods of a shipment arriving into stock (ShipmentReceived)."""
    record(data_dir, as_json, lambda a: teller.receive_shipment(a, shipment_id, **opts))


@shipment.command("discrepancy")
@click.argument("shipment_id")
@click.option("--sku", required=True)
@click.option("--expected", "expected_qty", required=True, type=click.INT)
@click.option("--received", "received_qty", required=True, type=click.INT)
@click.option("--reason", required=True)
@common_options
def shipment_discrepancy(data_dir: Path, as_json: bool, shipment_id: str, **opts: Any) -> None:
    """Record that what arrived differs from what was sent (ShipmentDiscrepancyRecorded)."""
    record(data_dir, as_json, lambda a: teller.record_discrepancy(a, shipment_id, **opts))
