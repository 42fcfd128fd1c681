"""``kopsync edge sale|credit|price|stock …``: the shop, member credit and stock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge_agent.app import lookup, teller
from edge_agent.app.agent import EdgeAgent
from edge_agent.domain.common import rupiah, tx_key
from kopsync.cli.common import emit_json
from kopsync.cli.edge.teller.common import (
    TellerGroup,
    common_options,
    date,
    money,
    override_option,
    parse_parts,
    parse_payments,
    record,
    view_or_empty,
)
from sync_core.envelope import Envelope
from sync_core.errors import UsageError


@click.group(cls=TellerGroup)
def sale() -> None:
    """Sales at the counter: record, void."""


@sale.command("record")
@click.option(
    "--line",
    "lines",
    multiple=True,
    required=True,
    metavar="SKU:QTY[:PRICE]",
    callback=parse_parts("SKU:QTY:PRICE", "BERAS-5KG:2:72000", optional_last=True),
    help="A sold line; PRICE defaults to the price set here. Repeat per line.",
)
@click.option(
    "--pay",
    "payments",
    multiple=True,
    metavar="METHOD:AMOUNT",
    callback=parse_payments,
    help="cash, khbs or member_credit; repeatable. Default: cash for the total.",
)
@click.option("--location", default=None, help="Stock location (default: main).")
@click.option("--member", "member_id", default=None)
@click.option("--card", "card_uid", default=None, help="KHBS card uid.")
@override_option
@click.option(
    "--override-price",
    "override_price",
    default=None,
    metavar="REASON",
    help="Sell at a PRICE other than the price set here, for this reason (kept with the event).",
)
@click.option("--id", "sale_id", default=None, help="Sale id (default: SL-<8 hex>).")
@common_options
def sale_record(
    data_dir: Path,
    as_json: bool,
    lines: list[tuple[str, int, int | None]],
    payments: list[tuple[str, int]],
    **opts: Any,
) -> None:
    """Record a sale (SaleRecorded); stock may not go negative without --override-stock,
    nor a price differ from the price set here without --override-price."""

    def act(agent: EdgeAgent) -> Envelope:
        priced = [(sku, qty, _price(agent, sku, p)) for sku, qty, p in lines]
        return teller.record_sale(agent, priced, payments or None, **opts)

    record(data_dir, as_json, act, "sale_id")


def _price(agent: EdgeAgent, sku: str, given: int | None) -> int:
    if given is not None:
        return given
    known = view_or_empty(agent, f"price:{sku}").get("unit_price")
    if known is None:
        raise UsageError(
            f"no price is set for {sku} on this device; give the line as {sku}:QTY:PRICE "
            "or set the price with `kopsync edge price set`"
        )
    return int(known)


@sale.command("void")
@click.argument("sale_id")
@click.option("--reason", required=True)
@common_options
def sale_void(data_dir: Path, as_json: bool, sale_id: str, reason: str) -> None:
    """Void a recorded sale; its goods go back into stock (SaleVoided)."""
    record(data_dir, as_json, lambda a: teller.void_sale(a, sale_id, reason=reason))


@click.group(cls=TellerGroup)
def credit() -> None:
    """Member credit (piutang anggota): what a member owes, and her repayments."""


@credit.command("repay")
@click.argument("member_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@date("--on", "paid_on")
@common_options
def credit_repay(data_dir: Path, as_json: bool, member_id: str, amount: int, **opts: Any) -> None:
    """A member pays back member credit, never more than she owes here (MemberCreditRepaid)."""
    record(data_dir, as_json, lambda a: teller.repay_member_credit(a, member_id, amount, **opts))


@credit.command("reverse")
@click.argument("member_id")
@click.option("--event", "event_id", required=True, help="Event id of the repayment.")
@click.option("--reason", required=True)
@money("--amount", required=False, help="Default: the repayment's.")
@common_options
def credit_reverse(
    data_dir: Path, as_json: bool, member_id: str, event_id: str, reason: str, amount: int | None
) -> None:
    """Reverse a member-credit repayment recorded by mistake; she owes it again
    (MemberCreditRepaymentReversed)."""

    def act(agent: EdgeAgent) -> Envelope:
        n = amount if amount is not None else view_or_empty(agent, tx_key(event_id)).get("amount")
        if n is None:
            raise UsageError(
                f"no member-credit repayment {event_id} on this device; copy the event id "
                "from `kopsync edge log`, or give --amount"
            )
        return teller.reverse_member_credit_repayment(
            agent, member_id, reversed_event_id=event_id, amount=n, reason=reason
        )

    record(data_dir, as_json, act)


@credit.command("show")
@click.argument("member_id")
@common_options
def credit_show(data_dir: Path, as_json: bool, member_id: str) -> None:
    """What a member bought on credit, repaid and owes, as this device knows it."""
    with EdgeAgent(data_dir) as agent:
        if lookup.member(agent, member_id) is None:
            raise UsageError(f"member {member_id} is not registered on this device")
        owed = lookup.member_credit(agent, member_id)
    if as_json:
        emit_json(owed)
    else:
        click.echo(
            f"{member_id}: bought on credit {rupiah(owed['sold'])}, repaid "
            f"{rupiah(owed['repaid'])}, owes {rupiah(owed['owed'])}"
        )


@click.group(cls=TellerGroup)
def price() -> None:
    """Prices of goods."""


@price.command("set")
@click.argument("sku")
@money("--price", help="Rupiah per unit.")
@date("--from", "effective_from", help="From when the price applies.")
@common_options
def price_set(
    data_dir: Path, as_json: bool, sku: str, price: int, effective_from: str | None
) -> None:
    """Set the selling price of an item (PriceSet)."""
    record(
        data_dir, as_json, lambda a: teller.set_price(a, sku, price, effective_from=effective_from)
    )


@click.group(cls=TellerGroup)
def stock() -> None:
    """Stock: goods received, adjustments, counts."""


@stock.command("receive")
@click.argument("sku")
@click.option("--qty", required=True, type=click.INT)
@click.option("--supplier", required=True)
@click.option("--doc", "doc_no", required=True, help="Delivery note number.")
@click.option("--location", default=teller.MAIN, show_default=True)
@money("--unit-cost", required=False, help="Rupiah per unit.")
@common_options
def stock_receive(data_dir: Path, as_json: bool, sku: str, qty: int, **opts: Any) -> None:
    """Record goods arriving into stock (StockReceived)."""
    record(data_dir, as_json, lambda a: teller.receive_stock(a, sku, qty, **opts))


@stock.command("adjust")
@click.argument("sku")
@click.option("--delta", required=True, type=click.INT, help="Signed change, e.g. -3.")
@click.option("--reason", required=True)
@click.option("--location", default=teller.MAIN, show_default=True)
@common_options
def stock_adjust(data_dir: Path, as_json: bool, sku: str, delta: int, **opts: Any) -> None:
    """Correct stock by a signed delta, with a reason (StockAdjusted)."""
    record(data_dir, as_json, lambda a: teller.adjust_stock(a, sku, delta, **opts))


@stock.command("count")
@click.argument("sku")
@click.option("--qty", required=True, type=click.INT, help="What was counted.")
@click.option("--location", default=teller.MAIN, show_default=True)
@common_options
def stock_count(data_dir: Path, as_json: bool, sku: str, qty: int, location: str) -> None:
    """Record a physical count; the on-hand becomes the count (StockCounted)."""
    record(data_dir, as_json, lambda a: teller.count_stock(a, sku, qty, location=location))
