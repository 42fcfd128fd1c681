"""Savings: balance per account (and so per member and product).

Conflict rules: money is conserved and commutative. The balance is
Σ deposits − Σ withdrawals − Σ reversed deposits + Σ reversed withdrawals, whatever
the order; the account's member and product come from its opening (the first
opening by total order if, oddly, there are several). Balances are never merged
across aliases of one person (a NIK duplicate keeps its own accounts).

Row ``savings`` (coop, account_id) = ``{member_id, product, opened_on, open_okey,
deposits, withdrawals, reversed_deposits, reversed_withdrawals, balance, movements}``.
"""

from __future__ import annotations

from central_projector.projection.folds.base import Event, Handler, Row, State


def _account(state: State, ev: Event) -> tuple[Row, tuple[str, str]]:
    key = (ev.coop_id, ev.aggregate_id)
    row = state.get("savings", key)
    if row is None:
        row = {
            "coop_id": key[0],
            "account_id": key[1],
            "member_id": None,
            "product": None,
            "opened_on": None,
            "open_okey": None,
            "deposits": 0,
            "withdrawals": 0,
            "reversed_deposits": 0,
            "reversed_withdrawals": 0,
            "balance": 0,
            "movements": 0,
        }
    return row, key


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    row["balance"] = (
        row["deposits"]
        - row["withdrawals"]
        - row["reversed_deposits"]
        + row["reversed_withdrawals"]
    )
    state.put("savings", key, row)


def opened(state: State, ev: Event) -> None:
    row, key = _account(state, ev)
    if row["open_okey"] is None or ev.okey < row["open_okey"]:
        row["open_okey"] = ev.okey
        row["member_id"] = ev.payload["member_id"]
        row["product"] = ev.payload["product"]
        row["opened_on"] = ev.payload["opened_on"]
    _finish(state, row, key)


def _adds(column: str) -> Handler:
    def handler(state: State, ev: Event) -> None:
        row, key = _account(state, ev)
        row[column] += ev.payload["amount"]
        row["movements"] += 1
        _finish(state, row, key)

    return handler


def reversed_(state: State, ev: Event) -> None:
    row, key = _account(state, ev)
    column = "reversed_deposits" if ev.payload["kind"] == "DEPOSIT" else "reversed_withdrawals"
    row[column] += ev.payload["amount"]
    row["movements"] += 1
    _finish(state, row, key)


HANDLERS = {
    "SavingsAccountOpened": opened,
    "SavingsDeposited": _adds("deposits"),
    "SavingsWithdrawn": _adds("withdrawals"),
    "SavingsTransactionReversed": reversed_,
}
