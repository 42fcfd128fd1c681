"""``kopsync edge member|savings|loan|sale|price|stock|aid|fund|shipment …``: the counter.

One command per edge event, over :mod:`edge_agent.teller`. Every command takes
``--data DIR`` and ``--json``; money and quantities are integers (rupiah, units).
Whatever goes wrong (a malformed option, a payload the schema refuses, a local rule)
ends in ONE line ``error: …`` on stderr and a non-zero exit, never a traceback:
:class:`TellerCommand` turns click's usage errors into that line, ``friendly`` the rest.

Option names match the teller functions' keyword arguments, so most commands pass
their options straight through (the teller functions are the typed API).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from edge_agent import teller
from edge_agent.agent import EdgeAgent
from edge_agent.domain.common import tx_key
from kopsync.clikit import data_option, emit_json, friendly, json_option
from schemas.catalog import PAYMENT_METHODS, PRODUCTS, PROFILE_FIELDS, VERIFICATIONS
from sync_core.envelope import Envelope
from sync_core.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

PURPOSES = ("WORKING_CAPITAL", "MEMBER_LOANS", "EQUIPMENT", "STOCK", "OTHER")


class OneLineError(click.ClickException):
    """A usage error shown as one ``error:`` line, like every other kopsync error."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class TellerCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise OneLineError(f"{ctx.command_path}: {exc.format_message()}") from None


class TellerGroup(click.Group):
    command_class = TellerCommand


# --- option parsing (callbacks raise BadParameter, which TellerCommand shows in one line) ---


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def _parts(shape: str, example: str, *, optional_last: bool = False) -> Any:
    """A callback parsing repeated ``A:B[:C]`` values whose parts after the first are integers."""
    labels = shape.split(":")

    def parse_one(text: str) -> tuple[Any, ...]:
        parts = text.split(":")
        least = len(labels) - 1 if optional_last else len(labels)
        if not least <= len(parts) <= len(labels) or not parts[0]:
            raise click.BadParameter(f"{text!r} is not {shape} (e.g. {example})")
        numbers: list[int | None] = []
        for label, part in zip(labels[1:], parts[1:], strict=False):
            try:
                numbers.append(int(part))
            except ValueError:
                raise click.BadParameter(
                    f"{text!r}: {label} must be a whole number (rupiah and quantities are "
                    f"integers), got {part!r}"
                ) from None
        numbers += [None] * (len(labels) - len(parts))
        return (parts[0], *numbers)

    def callback(
        ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
    ) -> list[tuple[Any, ...]]:
        return [parse_one(v) for v in values]

    return callback


def _payments(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    pays: list[tuple[Any, ...]] = _parts("METHOD:AMOUNT", "cash:50000")(ctx, param, values)
    for method, _ in pays:
        if method not in PAYMENT_METHODS:
            raise click.BadParameter(
                f"method must be one of {', '.join(PAYMENT_METHODS)}, got {method!r}"
            )
    return pays


def money(name: str, *, required: bool = True, help: str = "Rupiah (integer).") -> Callable[[F], F]:
    dest = name.lstrip("-").replace("-", "_")
    return click.option(name, dest, required=required, type=click.INT, default=None, help=help)


def date(
    name: str, dest: str, help: str = "Default: today.", *, required: bool = False
) -> Callable[[F], F]:
    return click.option(
        name, dest, callback=_date, required=required, metavar="YYYY-MM-DD", help=help
    )


def override_option(func: F) -> F:
    return click.option(
        "--override-stock", "override_stock", default=None, metavar="REASON",
        help="Let stock go below zero, for this reason (kept with the event).",
    )(func)  # fmt: skip


def items_option(func: F) -> F:
    return click.option(
        "--item", "items", multiple=True, required=True, metavar="SKU:QTY",
        callback=_parts("SKU:QTY", "LPG-3KG:20"), help="Goods; repeat per sku.",
    )(func)  # fmt: skip


def _common(func: F) -> F:
    return data_option(json_option(friendly(func)))


def _run(
    data_dir: Path, as_json: bool, act: Callable[[EdgeAgent], Envelope], id_name: str | None = None
) -> None:
    with EdgeAgent(data_dir) as agent:
        env = act(agent)
    out: dict[str, Any] = {
        "seq": env.seq,
        "type": env.type,
        "aggregate_id": env.aggregate_id,
        "event_id": env.event_id,
    }
    if id_name is not None:
        out[id_name] = env.aggregate_id
    if as_json:
        emit_json(out)
    else:
        click.echo(f"recorded seq {env.seq}: {env.type} {env.aggregate_id} (event {env.event_id})")


def _view(agent: EdgeAgent, key: str) -> dict[str, Any]:
    return agent.view(key) or {}


def _next_month(day: dt.date) -> str:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(year=year, month=month, day=min(day.day, 28)).isoformat()


# --- member --------------------------------------------------------------------------


@click.group(cls=TellerGroup)
def member() -> None:
    """Members: register, approve, change a profile field, resign."""


@member.command("register")
@click.option("--nik", required=True, help="National id (NIK), 16 digits.")
@click.option("--kk", "kk_no", required=True, help="Family card number (KK), 16 digits.")
@click.option("--name", required=True, help="Full name.")
@date("--birth-date", "birth_date", help="Date of birth.", required=True)
@click.option("--desa", "desa_code", required=True, help="Village code, 10 digits, no dots.")
@click.option("--phone", default=None, help="Phone, e.g. +6281234567890.")
@click.option("--id", "member_id", default=None, help="Member id (default: M-<8 hex>).")
@_common
def member_register(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Register a person as a member (MemberRegistered)."""
    _run(data_dir, as_json, lambda a: teller.register_member(a, **opts), "member_id")


@member.command("approve")
@click.argument("member_id")
@date("--on", "approved_on")
@click.option("--by", "approved_by", default=None, help="Who approved (board member).")
@_common
def member_approve(data_dir: Path, as_json: bool, member_id: str, **opts: Any) -> None:
    """Approve a registered member (MembershipApproved)."""
    _run(data_dir, as_json, lambda a: teller.approve_member(a, member_id, **opts))


@member.command("change")
@click.argument("member_id")
@click.option("--field", required=True, type=click.Choice(PROFILE_FIELDS))
@click.option("--value", required=True, help="The new value.")
@_common
def member_change(data_dir: Path, as_json: bool, member_id: str, field: str, value: str) -> None:
    """Change one profile field of a member (MemberProfileFieldChanged)."""
    _run(data_dir, as_json, lambda a: teller.change_member_field(a, member_id, field, value))


@member.command("resign")
@click.argument("member_id")
@date("--on", "resigned_on")
@click.option("--reason", default=None)
@_common
def member_resign(data_dir: Path, as_json: bool, member_id: str, **opts: Any) -> None:
    """Record that a member leaves the cooperative (MemberResigned)."""
    _run(data_dir, as_json, lambda a: teller.resign_member(a, member_id, **opts))


# --- savings -------------------------------------------------------------------------


@click.group(cls=TellerGroup)
def savings() -> None:
    """Savings: open an account, deposit, withdraw, reverse a transaction."""


@savings.command("open")
@click.option("--member", "member_id", required=True)
@click.option("--product", required=True, type=click.Choice(PRODUCTS))
@date("--on", "opened_on")
@click.option("--id", "account_id", default=None, help="Account id (default: S-<8 hex>).")
@_common
def savings_open(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Open a POKOK, WAJIB or SUKARELA account (SavingsAccountOpened)."""
    _run(data_dir, as_json, lambda a: teller.open_savings(a, **opts), "account_id")


@savings.command("deposit")
@click.argument("account_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@click.option("--period", default=None, help="WAJIB month paid, YYYY-MM.")
@_common
def savings_deposit(
    data_dir: Path, as_json: bool, account_id: str, amount: int, **opts: Any
) -> None:
    """Pay money into a savings account (SavingsDeposited)."""
    _run(data_dir, as_json, lambda a: teller.deposit(a, account_id, amount, **opts))


@savings.command("withdraw")
@click.argument("account_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@_common
def savings_withdraw(
    data_dir: Path, as_json: bool, account_id: str, amount: int, receipt_no: str
) -> None:
    """Take money out of a savings account, never beyond its balance (SavingsWithdrawn)."""
    _run(data_dir, as_json, lambda a: teller.withdraw(a, account_id, amount, receipt_no=receipt_no))


@savings.command("reverse")
@click.argument("account_id")
@click.option("--event", "event_id", required=True, help="Event id of the deposit/withdrawal.")
@click.option("--reason", required=True)
@click.option("--kind", type=click.Choice(("DEPOSIT", "WITHDRAWAL")), default=None,
              help="Default: the transaction's.")  # fmt: skip
@money("--amount", required=False, help="Default: the transaction's.")
@_common
def savings_reverse(
    data_dir: Path,
    as_json: bool,
    account_id: str,
    event_id: str,
    reason: str,
    kind: str | None,
    amount: int | None,
) -> None:
    """Reverse an earlier deposit or withdrawal (SavingsTransactionReversed)."""

    def act(agent: EdgeAgent) -> Envelope:
        tx = _view(agent, tx_key(event_id))
        k = kind or tx.get("kind")
        n = amount if amount is not None else tx.get("amount")
        if k is None or n is None:
            raise UsageError(
                f"no deposit or withdrawal {event_id} on this device; "
                "copy the event id from `kopsync edge log`, or give --kind and --amount"
            )
        return teller.reverse_savings(
            agent, account_id, reversed_event_id=event_id, kind=k, amount=n, reason=reason
        )

    _run(data_dir, as_json, act)


# --- loan ----------------------------------------------------------------------------


@click.group(cls=TellerGroup)
def loan() -> None:
    """Loans: apply, approve, disburse, repay, reverse a repayment."""


@loan.command("apply")
@click.option("--member", "member_id", required=True)
@click.option("--amount", "amount_requested", required=True, type=click.INT, help="Rupiah.")
@click.option("--purpose", required=True)
@click.option("--tenor", "tenor_months", required=True, type=click.INT, help="Months.")
@click.option("--id", "loan_id", default=None, help="Loan id (default: L-<8 hex>).")
@_common
def loan_apply(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Record a member's loan application (LoanApplied)."""
    _run(data_dir, as_json, lambda a: teller.apply_loan(a, **opts), "loan_id")


@loan.command("approve")
@click.argument("loan_id")
@money("--principal")
@click.option("--rate-bp", required=True, type=click.INT, help="Yearly rate, 1250 = 12.5 %.")
@click.option("--tenor", "tenor_months", required=True, type=click.INT, help="Months.")
@click.option("--method", type=click.Choice(("flat", "declining")), default="flat",
              show_default=True)  # fmt: skip
@date("--first-due", "first_due", help="Default: a month from today.")
@_common
def loan_approve(
    data_dir: Path, as_json: bool, loan_id: str, first_due: str | None, **opts: Any
) -> None:
    """Approve an applied loan (LoanApproved)."""
    due = first_due or _next_month(dt.date.today())
    _run(data_dir, as_json, lambda a: teller.approve_loan(a, loan_id, first_due=due, **opts))


@loan.command("disburse")
@click.argument("loan_id")
@money("--amount", required=False, help="Rupiah. Default: what is left to pay out.")
@date("--on", "disbursed_on")
@_common
def loan_disburse(
    data_dir: Path, as_json: bool, loan_id: str, amount: int | None, disbursed_on: str | None
) -> None:
    """Pay out an approved loan (LoanDisbursed)."""

    def act(agent: EdgeAgent) -> Envelope:
        n = amount
        if n is None:
            known = _view(agent, f"loan:{loan_id}")
            n = int(known.get("principal", 0)) - int(known.get("disbursed", 0))
            if n <= 0:
                raise UsageError(f"loan {loan_id} has nothing approved left to pay out")
        return teller.disburse_loan(agent, loan_id, n, disbursed_on=disbursed_on)

    _run(data_dir, as_json, act)


@loan.command("repay")
@click.argument("loan_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@date("--on", "paid_on")
@_common
def loan_repay(data_dir: Path, as_json: bool, loan_id: str, amount: int, **opts: Any) -> None:
    """Receive a repayment on a loan known here (LoanRepaymentReceived)."""
    _run(data_dir, as_json, lambda a: teller.repay_loan(a, loan_id, amount, **opts))


@loan.command("reverse")
@click.argument("loan_id")
@click.option("--event", "event_id", required=True, help="Event id of the repayment.")
@click.option("--reason", required=True)
@money("--amount", required=False, help="Default: the repayment's.")
@_common
def loan_reverse(
    data_dir: Path, as_json: bool, loan_id: str, event_id: str, reason: str, amount: int | None
) -> None:
    """Reverse a recorded repayment (LoanRepaymentReversed)."""

    def act(agent: EdgeAgent) -> Envelope:
        n = amount if amount is not None else _view(agent, tx_key(event_id)).get("amount")
        if n is None:
            raise UsageError(f"no repayment {event_id} on this device; give --amount")
        return teller.reverse_repayment(
            agent, loan_id, reversed_event_id=event_id, amount=n, reason=reason
        )

    _run(data_dir, as_json, act)


# --- sale, price, stock --------------------------------------------------------------


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
    callback=_parts("SKU:QTY:PRICE", "BERAS-5KG:2:72000", optional_last=True),
    help="A sold line; PRICE defaults to the price set here. Repeat per line.",
)
@click.option(
    "--pay",
    "payments",
    multiple=True,
    metavar="METHOD:AMOUNT",
    callback=_payments,
    help="cash, khbs or member_credit; repeatable. Default: cash for the total.",
)
@click.option("--location", default=None, help="Stock location (default: main).")
@click.option("--member", "member_id", default=None)
@click.option("--card", "card_uid", default=None, help="KHBS card uid.")
@override_option
@click.option("--id", "sale_id", default=None, help="Sale id (default: SL-<8 hex>).")
@_common  # fmt: skip
def sale_record(
    data_dir: Path,
    as_json: bool,
    lines: list[tuple[str, int, int | None]],
    payments: list[tuple[str, int]],
    **opts: Any,
) -> None:
    """Record a sale (SaleRecorded); stock may not go negative without --override-stock."""

    def act(agent: EdgeAgent) -> Envelope:
        priced = [(sku, qty, _price(agent, sku, p)) for sku, qty, p in lines]
        return teller.record_sale(agent, priced, payments or None, **opts)

    _run(data_dir, as_json, act, "sale_id")


def _price(agent: EdgeAgent, sku: str, given: int | None) -> int:
    if given is not None:
        return given
    known = _view(agent, f"price:{sku}").get("unit_price")
    if known is None:
        raise UsageError(
            f"no price is set for {sku} on this device; give the line as {sku}:QTY:PRICE "
            "or set the price with `kopsync edge price set`"
        )
    return int(known)


@sale.command("void")
@click.argument("sale_id")
@click.option("--reason", required=True)
@_common
def sale_void(data_dir: Path, as_json: bool, sale_id: str, reason: str) -> None:
    """Void a recorded sale; its goods go back into stock (SaleVoided)."""
    _run(data_dir, as_json, lambda a: teller.void_sale(a, sale_id, reason=reason))


@click.group(cls=TellerGroup)
def price() -> None:
    """Prices of goods."""


@price.command("set")
@click.argument("sku")
@money("--price", help="Rupiah per unit.")
@date("--from", "effective_from", help="From when the price applies.")
@_common
def price_set(
    data_dir: Path, as_json: bool, sku: str, price: int, effective_from: str | None
) -> None:
    """Set the selling price of an item (PriceSet)."""
    _run(
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
@_common
def stock_receive(data_dir: Path, as_json: bool, sku: str, qty: int, **opts: Any) -> None:
    """Record goods arriving into stock (StockReceived)."""
    _run(data_dir, as_json, lambda a: teller.receive_stock(a, sku, qty, **opts))


@stock.command("adjust")
@click.argument("sku")
@click.option("--delta", required=True, type=click.INT, help="Signed change, e.g. -3.")
@click.option("--reason", required=True)
@click.option("--location", default=teller.MAIN, show_default=True)
@_common
def stock_adjust(data_dir: Path, as_json: bool, sku: str, delta: int, **opts: Any) -> None:
    """Correct stock by a signed delta, with a reason (StockAdjusted)."""
    _run(data_dir, as_json, lambda a: teller.adjust_stock(a, sku, delta, **opts))


@stock.command("count")
@click.argument("sku")
@click.option("--qty", required=True, type=click.INT, help="What was counted.")
@click.option("--location", default=teller.MAIN, show_default=True)
@_common
def stock_count(data_dir: Path, as_json: bool, sku: str, qty: int, location: str) -> None:
    """Record a physical count; the on-hand becomes the count (StockCounted)."""
    _run(data_dir, as_json, lambda a: teller.count_stock(a, sku, qty, location=location))


# --- aid -----------------------------------------------------------------------------


@click.group(cls=TellerGroup)
def aid() -> None:
    """KHBS aid: redeem an entitlement, void a redemption."""


@aid.command("redeem")
@click.argument("entitlement_id")
@click.option("--card", "card_uid", required=True, help="The KHBS card presented.")
@click.option(
    "--allowance",
    "allowance_id",
    default=None,
    help="Default: an allowance known here for the entitlement's program and cycle.",
)
@money("--value", required=False, help="Rupiah. Default: the entitlement's value (0 for goods).")
@click.option(
    "--verification", type=click.Choice(VERIFICATIONS), default="CHIP_PIN", show_default=True
)
@_common  # fmt: skip
def aid_redeem(
    data_dir: Path,
    as_json: bool,
    entitlement_id: str,
    allowance_id: str | None,
    value: int | None,
    **opts: Any,
) -> None:
    """Redeem an entitlement with the family's card (AidRedeemed)."""

    def act(agent: EdgeAgent) -> Envelope:
        ent = _view(agent, f"entitlement:{entitlement_id}")
        worth = value if value is not None else int(ent.get("value") or 0)
        allowance = allowance_id or _allowance_for(agent, ent, entitlement_id)
        return teller.redeem_aid(agent, entitlement_id, allowance_id=allowance, value=worth, **opts)

    _run(data_dir, as_json, act)


def _allowance_for(agent: EdgeAgent, ent: dict[str, Any], entitlement_id: str) -> str:
    if not ent:
        raise UsageError(
            f"entitlement {entitlement_id} is not known on this device; sync to receive it"
        )
    for key, a in agent.store.views("allowance:"):
        ours = a["scope"] == "COOP" or a["device_id"] == agent.device_id
        if ours and (a["program"], a["cycle"]) == (ent["program"], ent["cycle"]):
            return key.split(":", 1)[1]
    raise UsageError(
        f"no allowance for {ent['program']} {ent['cycle']} is known on this device; "
        "sync to receive one, or give --allowance"
    )


@aid.command("void")
@click.argument("entitlement_id")
@click.option("--reason", required=True)
@click.option(
    "--event",
    "redemption_event_id",
    default=None,
    help="Event id of the redemption (default: the entitlement's current one).",
)
@_common  # fmt: skip
def aid_void(
    data_dir: Path,
    as_json: bool,
    entitlement_id: str,
    reason: str,
    redemption_event_id: str | None,
) -> None:
    """Void a redemption (AidRedemptionVoided)."""

    def act(agent: EdgeAgent) -> Envelope:
        target = redemption_event_id
        if target is None:
            target = _view(agent, f"entitlement:{entitlement_id}").get("redeemed_by")
        if target is None:
            raise UsageError(f"entitlement {entitlement_id} is not redeemed on this device")
        return teller.void_redemption(
            agent, entitlement_id, redemption_event_id=target, reason=reason
        )

    _run(data_dir, as_json, act)


# --- fund ----------------------------------------------------------------------------


@click.group(cls=TellerGroup)
def fund() -> None:
    """The revolving stimulus fund: utilisations and repayments into it."""


@fund.command("utilize")
@click.argument("fund_id")
@money("--amount")
@click.option("--purpose", required=True, type=click.Choice(PURPOSES))
@click.option("--doc", "doc_no", required=True, help="Voucher number.")
@date("--on", "used_on")
@_common
def fund_utilize(data_dir: Path, as_json: bool, fund_id: str, amount: int, **opts: Any) -> None:
    """Spend part of the fund (StimulusFundUtilized)."""
    _run(data_dir, as_json, lambda a: teller.utilize_fund(a, fund_id, amount, **opts))


@fund.command("repay")
@click.argument("fund_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True)
@date("--on", "paid_on")
@click.option("--member", "member_id", default=None)
@click.option("--loan", "loan_id", default=None)
@_common
def fund_repay(data_dir: Path, as_json: bool, fund_id: str, amount: int, **opts: Any) -> None:
    """Money lent out of the fund comes back (StimulusRevolvingRepaymentMade)."""
    _run(data_dir, as_json, lambda a: teller.repay_fund(a, fund_id, amount, **opts))


# --- shipment ------------------------------------------------------------------------


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
@_common
def shipment_dispatch(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Send goods out of a stock location (ShipmentDispatched)."""
    _run(data_dir, as_json, lambda a: teller.dispatch_shipment(a, **opts), "shipment_id")


@shipment.command("receive")
@click.argument("shipment_id")
@items_option
@click.option("--location", default=teller.MAIN, show_default=True)
@date("--on", "received_on")
@_common
def shipment_receive(data_dir: Path, as_json: bool, shipment_id: str, **opts: Any) -> None:
    """Record goods of a shipment arriving into stock (ShipmentReceived)."""
    _run(data_dir, as_json, lambda a: teller.receive_shipment(a, shipment_id, **opts))


@shipment.command("discrepancy")
@click.argument("shipment_id")
@click.option("--sku", required=True)
@click.option("--expected", "expected_qty", required=True, type=click.INT)
@click.option("--received", "received_qty", required=True, type=click.INT)
@click.option("--reason", required=True)
@_common
def shipment_discrepancy(data_dir: Path, as_json: bool, shipment_id: str, **opts: Any) -> None:
    """Record that what arrived differs from what was sent (ShipmentDiscrepancyRecorded)."""
    _run(data_dir, as_json, lambda a: teller.record_discrepancy(a, shipment_id, **opts))


# --- simulate ------------------------------------------------------------------------


@click.command("simulate", cls=TellerCommand)
@click.option(
    "--events",
    "count",
    required=True,
    type=click.IntRange(min=1),
    help="How many events to record.",
)
@click.option(
    "--seed",
    type=click.INT,
    default=1,
    show_default=True,
    help="Devices of one cooperative with the same seed share members, cards, goods.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Events per transaction (1 = one transaction per event).",
)
@_common  # fmt: skip
def simulate_command(data_dir: Path, as_json: bool, count: int, seed: int, batch: int) -> None:
    """Record N realistic, valid events of every edge area through the teller API.

    Running it again on the same device continues where the last run stopped.
    """
    from edge_agent.simulate import simulate

    with EdgeAgent(data_dir) as agent:
        result = simulate(agent, count, seed=seed, batch=batch)
    if as_json:
        emit_json(result.to_json())
        return
    click.echo(
        f"installed {result.reference_events} simulated central reference events "
        "(as if received over the downlink)"
    )
    click.echo(
        f"recorded {result.recorded} events (seq {result.first_seq}..{result.last_seq}) "
        f"in {result.seconds:.2f} s ({result.rate:,.0f} events/s)"
    )
    for event_type, n in sorted(result.by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {n:>7}  {event_type}")


GROUPS = (member, savings, loan, sale, price, stock, aid, fund, shipment)


def register(edge: click.Group) -> None:
    """Add the teller groups and ``simulate`` to the ``kopsync edge`` group."""
    for group in GROUPS:
        edge.add_command(group)
    edge.add_command(simulate_command)
