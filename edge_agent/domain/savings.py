"""Savings: accounts (POKOK, WAJIB, SUKARELA) and the money moved in and out of them.

Rules:
- An account is opened once (``duplicate_account``), for a member registered on this
  device (``unknown_member``) who has not resigned (``member_resigned``); deposits,
  withdrawals and reversals need an account opened on this device (``unknown_account``).
- Simpanan pokok is paid once: a member has one POKOK account (``pokok_exists``), paid
  into once (``pokok_paid``; a reversed payment may be paid again), and it is not
  withdrawn while the person is a member (``pokok_locked``: only after resigning).
- No withdrawal beyond the balance (``insufficient_balance``).
- A reversal names an earlier deposit or withdrawal of the same account, with the same
  kind and amount (``unknown_transaction``), not reversed before (``already_reversed``);
  reversing a deposit must not take the balance below zero (``insufficient_balance``).
- Balance = Σ deposits − Σ withdrawals − Σ reversed deposits + Σ reversed withdrawals.

Views:
- ``savings:{account_id}`` = ``{member_id, product, balance}``;
- ``member:{member_id}``'s ``pokok`` = the member's POKOK account (see :mod:`membership`);
- ``tx:{event_id}`` = ``{aggregate, kind: DEPOSIT|WITHDRAWAL, amount, reversed_by}``
  (see :mod:`edge_agent.domain.common`).
"""

from __future__ import annotations

from typing import Any

from edge_agent.domain.base import Proposed, Rule, View, Views
from edge_agent.domain.common import add_tx, get_or_add, loaded, rupiah, tx_key
from edge_agent.domain.membership import RESIGNED, known_member, member_key
from sync_core.errors import RuleViolation

DEPOSIT = "DEPOSIT"
WITHDRAWAL = "WITHDRAWAL"
POKOK = "POKOK"


def account_key(account_id: str) -> str:
    return f"savings:{account_id}"


def movement(event_type: str, payload: dict[str, Any]) -> int:
    """What an event of a savings account adds to its balance (negative: takes out)."""
    amount: int = payload.get("amount", 0)
    if event_type == "SavingsDeposited":
        return amount
    if event_type == "SavingsWithdrawn":
        return -amount
    if event_type == "SavingsTransactionReversed":
        return -amount if payload["kind"] == DEPOSIT else amount
    return 0


def _account(views: Views, ev: Proposed) -> View:
    """The account view; created empty if a fact arrives for an account never opened here."""
    default: View = {"member_id": None, "product": None, "balance": 0}
    return get_or_add(views, account_key(ev.aggregate_id), default)


def _opened_account(views: Views, ev: Proposed) -> View:
    account = loaded(views, account_key(ev.aggregate_id))
    if account is None:
        raise RuleViolation(
            "unknown_account",
            f"savings account {ev.aggregate_id} is not open on this device; "
            "check the account number, or open the account first",
        )
    return account


def _refuse_overdraw(account: View, amount: int, what: str) -> None:
    balance: int = account["balance"]
    if amount > balance:
        raise RuleViolation(
            "insufficient_balance",
            f"{what} of {rupiah(amount)} is more than the balance of {rupiah(balance)}; "
            f"at most {rupiah(balance)} can be taken out",
        )


# --- SavingsAccountOpened ------------------------------------------------------------


def _account_keys(ev: Proposed) -> list[str]:
    return [account_key(ev.aggregate_id), member_key(ev.payload["member_id"])]


def _check_opened(views: Views, ev: Proposed) -> None:
    if loaded(views, account_key(ev.aggregate_id)) is not None:
        raise RuleViolation(
            "duplicate_account",
            f"savings account {ev.aggregate_id} is already open on this device; "
            "use a new account number",
        )
    member_id = ev.payload["member_id"]
    member = known_member(views, member_id)
    if ev.payload["product"] == POKOK and member.get("pokok"):
        raise RuleViolation(
            "pokok_exists",
            f"member {member_id} already has simpanan pokok account {member['pokok']}; "
            "simpanan pokok is paid once, into that account",
        )


def _apply_opened(views: Views, ev: Proposed) -> None:
    account = _account(views, ev)
    account["member_id"] = ev.payload["member_id"]
    account["product"] = ev.payload["product"]
    member = loaded(views, member_key(ev.payload["member_id"]))
    if ev.payload["product"] == POKOK and member is not None and not member.get("pokok"):
        member["pokok"] = ev.aggregate_id


# --- SavingsDeposited, SavingsWithdrawn ----------------------------------------------


def _movement_keys(ev: Proposed) -> list[str]:
    return [account_key(ev.aggregate_id), tx_key(ev.event_id)]


def _check_deposited(views: Views, ev: Proposed) -> None:
    account = _opened_account(views, ev)
    if account["product"] == POKOK and account["balance"] > 0:
        raise RuleViolation(
            "pokok_paid",
            f"simpanan pokok of account {ev.aggregate_id} is already paid "
            f"({rupiah(account['balance'])}); it is paid once: pay into WAJIB or SUKARELA",
        )


def _apply_deposited(views: Views, ev: Proposed) -> None:
    account = _account(views, ev)
    account["balance"] += movement(ev.type, ev.payload)
    add_tx(views, ev, account_key(ev.aggregate_id), DEPOSIT)


def _withdrawal_more_keys(views: Views, ev: Proposed) -> list[str]:
    account = views.get(account_key(ev.aggregate_id))
    if account is None or account["product"] != POKOK or account["member_id"] is None:
        return []
    return [member_key(account["member_id"])]


def _check_withdrawn(views: Views, ev: Proposed) -> None:
    account = _opened_account(views, ev)
    if account["product"] == POKOK:
        member = loaded(views, member_key(account["member_id"]))
        if member is None or member["status"] != RESIGNED:
            raise RuleViolation(
                "pokok_locked",
                f"account {ev.aggregate_id} holds simpanan pokok of member "
                f"{account['member_id']}, who is still a member; it is paid back only "
                "after the member resigns",
            )
    _refuse_overdraw(account, ev.payload["amount"], "a withdrawal")


def _apply_withdrawn(views: Views, ev: Proposed) -> None:
    account = _account(views, ev)
    account["balance"] += movement(ev.type, ev.payload)
    add_tx(views, ev, account_key(ev.aggregate_id), WITHDRAWAL)


# --- SavingsTransactionReversed ------------------------------------------------------


def _reversal_keys(ev: Proposed) -> list[str]:
    return [account_key(ev.aggregate_id), tx_key(ev.payload["reversed_event_id"])]


def _check_reversed(views: Views, ev: Proposed) -> None:
    account = _opened_account(views, ev)
    target: str = ev.payload["reversed_event_id"]
    kind: str = ev.payload["kind"]
    amount: int = ev.payload["amount"]
    tx = loaded(views, tx_key(target))
    if tx is None or tx["aggregate"] != account_key(ev.aggregate_id):
        raise RuleViolation(
            "unknown_transaction",
            f"no deposit or withdrawal {target} of account {ev.aggregate_id} on this device; "
            "copy the event id from the account's history",
        )
    if tx["kind"] != kind or tx["amount"] != amount:
        raise RuleViolation(
            "unknown_transaction",
            f"transaction {target} is a {tx['kind'].lower()} of {rupiah(tx['amount'])}, "
            f"not a {kind.lower()} of {rupiah(amount)}; reverse it with its own kind and amount",
        )
    if tx["reversed_by"] is not None:
        raise RuleViolation(
            "already_reversed",
            f"transaction {target} was already reversed by event {tx['reversed_by']}",
        )
    if kind == DEPOSIT:
        _refuse_overdraw(account, amount, "reversing this deposit")


def _apply_reversed(views: Views, ev: Proposed) -> None:
    account = _account(views, ev)
    account["balance"] += movement(ev.type, ev.payload)
    tx = loaded(views, tx_key(ev.payload["reversed_event_id"]))
    if tx is not None:
        tx["reversed_by"] = ev.event_id


RULES: dict[str, Rule] = {
    "SavingsAccountOpened": Rule(_account_keys, _check_opened, _apply_opened),
    "SavingsDeposited": Rule(_movement_keys, _check_deposited, _apply_deposited),
    "SavingsWithdrawn": Rule(
        _movement_keys, _check_withdrawn, _apply_withdrawn, more_keys=_withdrawal_more_keys
    ),
    "SavingsTransactionReversed": Rule(_reversal_keys, _check_reversed, _apply_reversed),
}
