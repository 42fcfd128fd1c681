"""Savings: balance per account (and so per member and product).

Conflict rules: money is conserved and commutative. The balance is
Σ deposits − Σ withdrawals − Σ reversed deposits + Σ reversed withdrawals, whatever
the order; the account's member and product come from its opening (the first
opening by total order if, oddly, there are several). Balances are never merged
across aliases of one person (a NIK duplicate keeps its own accounts).

Row ``savings`` (coop, account_id) = ``{member_id, product, opened_on, open_okey,
deposits, withdrawals, reversed_deposits, reversed_withdrawals, balance, movements,
by_year, asof}``; ``by_year`` is the net movement per year of the cooperative's local day of
each movement (savings events carry no business date), so the balance at the end of a
fiscal year is the sum of its years up to it (the RAT's jasa modal).
``asof`` = ``{first, days: {day: [deposits, withdrawals, reversed_deposits,
reversed_withdrawals]}}`` by the local day of each movement (:mod:`.daily`): the
account counts from its first day, its balance moves on each movement's day (under its
product, moved over whole when the opening that names the product arrives late).
"""

from __future__ import annotations

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Event, Handler, Row, State
from sync_core.localtime import local_day

COLUMNS = ("deposits", "withdrawals", "reversed_deposits", "reversed_withdrawals")
SIGNS = (1, -1, -1, 1)


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
            "asof": {},
        }
    return row, key


def _product(row: Row) -> str:
    return f"savings.by_product.{row['product'] or 'UNKNOWN'}"


def _seen(state: State, row: Row, day: str) -> None:
    """The account counts from the first day anything happens to it."""
    doc = daily.asof(row)
    before = doc.get("first")
    if daily.earliest(doc, "first", day):
        coop = row["coop_id"]
        if before is not None:
            state.add_day("savings", coop, before, "savings.accounts", -1)
        state.add_day("savings", coop, day, "savings.accounts", 1)


def _moved(state: State, row: Row, column: str, amount: int, day: str) -> None:
    """One movement of ``amount`` under ``column`` on ``day``."""
    _seen(state, row, day)
    i = COLUMNS.index(column)
    cell = daily.asof(row).setdefault("days", {}).setdefault(day, [0, 0, 0, 0])
    cell[i] += amount
    net, coop = SIGNS[i] * amount, row["coop_id"]
    state.add_day("savings", coop, day, "savings.balance", net)
    state.add_day("savings", coop, day, _product(row), net)


def _reproduct(state: State, row: Row, before: str) -> None:
    """Move the account's every day from the product figure ``before`` to its own."""
    after = _product(row)
    if after == before:
        return
    coop = row["coop_id"]
    for day, cell in daily.asof(row).get("days", {}).items():
        net = sum(s * v for s, v in zip(SIGNS, cell, strict=True))
        if net:
            state.add_day("savings", coop, day, before, -net)
            state.add_day("savings", coop, day, after, net)


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
    _seen(state, row, daily.event_day(ev))
    if row["open_okey"] is None or ev.okey < row["open_okey"]:
        before = _product(row)
        row["open_okey"] = ev.okey
        row["member_id"] = ev.payload["member_id"]
        row["product"] = ev.payload["product"]
        row["opened_on"] = ev.payload["opened_on"]
        _reproduct(state, row, before)
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
        _moved(state, row, column, ev.payload["amount"], daily.event_day(ev))
        _finish(state, row, key)

    return handler


def reversed_(state: State, ev: Event) -> None:
    row, key = _account(state, ev)
    deposit = ev.payload["kind"] == "DEPOSIT"
    column = "reversed_deposits" if deposit else "reversed_withdrawals"
    row[column] += ev.payload["amount"]
    row["movements"] += 1
    _by_year(row, ev, -ev.payload["amount"] if deposit else ev.payload["amount"])
    _moved(state, row, column, ev.payload["amount"], daily.event_day(ev))
    _finish(state, row, key)


def as_of(row: Row, day: str) -> Row | None:
    """The account at the end of ``day`` (its movements dated by then); ``None`` before
    anything happened to it."""
    doc = row.get("asof") or {}
    if doc.get("first") is None or doc["first"] > day:
        return None
    sums = [0, 0, 0, 0]
    for d, cell in doc.get("days", {}).items():
        if d <= day:
            sums = [a + b for a, b in zip(sums, cell, strict=True)]
    out = {**row, **dict(zip(COLUMNS, sums, strict=True))}
    out["balance"] = sum(s * v for s, v in zip(SIGNS, sums, strict=True))
    return out


HANDLERS = {
    "SavingsAccountOpened": opened,
    "SavingsDeposited": _adds("deposits", +1),
    "SavingsWithdrawn": _adds("withdrawals", -1),
    "SavingsTransactionReversed": reversed_,
}
