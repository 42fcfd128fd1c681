"""Savings: balance per account (and so per member and product).

Conflict rules: money is conserved and commutative. The balance is
Σ deposits − Σ withdrawals − Σ reversed deposits + Σ reversed withdrawals, whatever
the order; the account's member and product come from its opening (the first
opening by total order if, oddly, there are several). Balances are never merged
across aliases of one person (a NIK duplicate keeps its own accounts).

Row ``savings`` (coop, account_id) = ``{member_id, product, opened_on, open_okey,
deposits, withdrawals, reversed_deposits, reversed_withdrawals, balance, movements,
by_year}``; ``by_year`` is the net movement per year of the cooperative's local day of
each movement (savings events carry no business date), so the balance at the end of a
fiscal year is the sum of its years up to it (the RAT's jasa modal).
"""

from __future__ import annotations

from central_projector.projection.folds.base import Event, Handler, Row, State
from sync_core.localtime import local_day


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
            "by_year": {},
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


def _by_year(row: Row, ev: Event, delta: int) -> None:
    year = local_day(ev.key[0], ev.coop_id)[:4]
    row["by_year"][year] = row["by_year"].get(year, 0) + delta


def _adds(column: str, sign: int) -> Handler:
    def handler(state: State, ev: Event) -> None:
        row, key = _account(state, ev)
        row[column] += ev.payload["amount"]
        row["movements"] += 1
        _by_year(row, ev, sign * ev.payload["amount"])
        _finish(state, row, key)

    return handler


def reversed_(state: State, ev: Event) -> None:
    row, key = _account(state, ev)
    deposit = ev.payload["kind"] == "DEPOSIT"
    column = "reversed_deposits" if deposit else "reversed_withdrawals"
    row[column] += ev.payload["amount"]
    row["movements"] += 1
    _by_year(row, ev, -ev.payload["amount"] if deposit else ev.payload["amount"])
    _finish(state, row, key)


HANDLERS = {
    "SavingsAccountOpened": opened,
    "SavingsDeposited": _adds("deposits", +1),
    "SavingsWithdrawn": _adds("withdrawals", -1),
    "SavingsTransactionReversed": reversed_,
}
