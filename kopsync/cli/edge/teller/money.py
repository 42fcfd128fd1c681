"""``kopsync edge savings|loan|fund …``: the money areas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge_agent.app import teller
from edge_agent.app.agent import EdgeAgent
from edge_agent.domain.common import tx_key
from kopsync.cli.edge.teller.common import (
    TellerGroup,
    common_options,
    date,
    money,
    record,
    view_or_empty,
)
from schemas.catalog import PRODUCTS
from sync_core.envelope import Envelope
from sync_core.errors import UsageError

PURPOSES = ("WORKING_CAPITAL", "MEMBER_LOANS", "EQUIPMENT", "STOCK", "OTHER")


# --- savings -------------------------------------------------------------------------


@click.group(cls=TellerGroup)
def savings() -> None:
    """Savings: open an account, deposit, withdraw, reverse a transaction."""


@savings.command("open")
@click.option("--member", "member_id", required=True)
@click.option("--product", required=True, type=click.Choice(PRODUCTS))
@date("--on", "opened_on")
@click.option("--id", "account_id", default=None, help="Account id (default: S-<8 hex>).")
@common_options
def savings_open(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Open a POKOK, WAJIB or SUKARELA account (SavingsAccountOpened)."""
    record(data_dir, as_json, lambda a: teller.open_savings(a, **opts), "account_id")


@savings.command("deposit")
@click.argument("account_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@click.option("--period", default=None, help="WAJIB month paid, YYYY-MM.")
@common_options
def savings_deposit(
    data_dir: Path, as_json: bool, account_id: str, amount: int, **opts: Any
) -> None:
    """Pay money into a savings account (SavingsDeposited)."""
    record(data_dir, as_json, lambda a: teller.deposit(a, account_id, amount, **opts))


@savings.command("withdraw")
@click.argument("account_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@common_options
def savings_withdraw(
    data_dir: Path, as_json: bool, account_id: str, amount: int, receipt_no: str
) -> None:
    """Take money out of a savings account, never beyond its balance (SavingsWithdrawn)."""
    record(
        data_dir, as_json, lambda a: teller.withdraw(a, account_id, amount, receipt_no=receipt_no)
    )


@savings.command("reverse")
@click.argument("account_id")
@click.option("--event", "event_id", required=True, help="Event id of the deposit/withdrawal.")
@click.option("--reason", required=True)
@click.option(
    "--kind",
    type=click.Choice(("DEPOSIT", "WITHDRAWAL")),
    default=None,
    help="Default: the transaction's.",
)
@money("--amount", required=False, help="Default: the transaction's.")
@common_options
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
        tx = view_or_empty(agent, tx_key(event_id))
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

    record(data_dir, as_json, act)


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
@common_options
def loan_apply(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Record a member's loan application (LoanApplied)."""
    record(data_dir, as_json, lambda a: teller.apply_loan(a, **opts), "loan_id")


@loan.command("approve")
@click.argument("loan_id")
@money("--principal")
@click.option("--rate-bp", required=True, type=click.INT, help="Yearly rate, 1250 = 12.5 %.")
@click.option("--tenor", "tenor_months", required=True, type=click.INT, help="Months.")
@click.option(
    "--method", type=click.Choice(("flat", "declining")), default="flat", show_default=True
)
@date(
    "--first-due",
    "first_due",
    help="Default: a month from today in the cooperative's time zone.",
)
@common_options
def loan_approve(data_dir: Path, as_json: bool, loan_id: str, **opts: Any) -> None:
    """Approve an applied loan (LoanApproved)."""
    record(data_dir, as_json, lambda a: teller.approve_loan(a, loan_id, **opts))


@loan.command("disburse")
@click.argument("loan_id")
@money("--amount", required=False, help="Rupiah. Default: what is left to pay out.")
@date("--on", "disbursed_on")
@common_options
def loan_disburse(
    data_dir: Path, as_json: bool, loan_id: str, amount: int | None, disbursed_on: str | None
) -> None:
    """Pay out an approved loan (LoanDisbursed)."""

    def act(agent: EdgeAgent) -> Envelope:
        n = amount
        if n is None:
            known = view_or_empty(agent, f"loan:{loan_id}")
            n = int(known.get("principal", 0)) - int(known.get("disbursed", 0))
            if n <= 0:
                raise UsageError(f"loan {loan_id} has nothing approved left to pay out")
        return teller.disburse_loan(agent, loan_id, n, disbursed_on=disbursed_on)

    record(data_dir, as_json, act)


@loan.command("repay")
@click.argument("loan_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (kwitansi).")
@date("--on", "paid_on")
@common_options
def loan_repay(data_dir: Path, as_json: bool, loan_id: str, amount: int, **opts: Any) -> None:
    """Receive a repayment on a loan known here (LoanRepaymentReceived)."""
    record(data_dir, as_json, lambda a: teller.repay_loan(a, loan_id, amount, **opts))


@loan.command("reverse")
@click.argument("loan_id")
@click.option("--event", "event_id", required=True, help="Event id of the repayment.")
@click.option("--reason", required=True)
@money("--amount", required=False, help="Default: the repayment's.")
@common_options
def loan_reverse(
    data_dir: Path, as_json: bool, loan_id: str, event_id: str, reason: str, amount: int | None
) -> None:
    """Reverse a recorded repayment (LoanRepaymentReversed)."""

    def act(agent: EdgeAgent) -> Envelope:
        n = amount if amount is not None else view_or_empty(agent, tx_key(event_id)).get("amount")
        if n is None:
            raise UsageError(f"no repayment {event_id} on this device; give --amount")
        return teller.reverse_repayment(
            agent, loan_id, reversed_event_id=event_id, amount=n, reason=reason
        )

    record(data_dir, as_json, act)


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
@common_options
def fund_utilize(data_dir: Path, as_json: bool, fund_id: str, amount: int, **opts: Any) -> None:
    """Spend part of the fund (StimulusFundUtilized)."""
    record(data_dir, as_json, lambda a: teller.utilize_fund(a, fund_id, amount, **opts))


@fund.command("repay")
@click.argument("fund_id")
@money("--amount")
@click.option("--receipt", "receipt_no", required=True)
@date("--on", "paid_on")
@click.option("--member", "member_id", default=None)
@click.option("--loan", "loan_id", default=None)
@common_options
def fund_repay(data_dir: Path, as_json: bool, fund_id: str, amount: int, **opts: Any) -> None:
    """Money lent out of the fund comes back (StimulusRevolvingRepaymentMade)."""
    record(data_dir, as_json, lambda a: teller.repay_fund(a, fund_id, amount, **opts))
