"""A member's statement: savings by product with their history, loans with their schedule.

Accounts and loans are found through the log's ``refs`` index (the events that name the
member), balances in the rule views, histories as the newest events about each account
or loan: no request replays the log. A loan's schedule, what was paid of each instalment
and its arrears on a business date come from its view through the loan book the central
keeps too (:func:`edge_agent.domain.loans.statement`), so the counter shows offline what
the province will show. The business date defaults to today in the cooperative's own
time zone.
"""

from __future__ import annotations

from typing import Any

from edge_agent.adapters.refs import aggregate_ref, field_ref
from edge_agent.app import lookup
from edge_agent.app.agent import EdgeAgent
from edge_agent.domain import loans
from edge_agent.domain.common import tx_key
from edge_agent.domain.loans import loan_key
from edge_agent.domain.savings import movement
from schemas import REGISTRY
from schemas.catalog import PRODUCTS
from sync_core import localtime
from sync_core.envelope import Envelope
from sync_core.localtime import check_date

HISTORY = 50
MAX_HISTORY = 500


def business_day(agent: EdgeAgent, as_of: str | None = None) -> str:
    """``as_of``, checked, or today in the cooperative's time zone (from its region code)."""
    if as_of is not None:
        return check_date(as_of, "as_of")
    return localtime.today(agent.coop_id, agent.clock())


def statement(
    agent: EdgeAgent, member_id: str, history: int = HISTORY, as_of: str | None = None
) -> dict[str, Any] | None:
    """Everything the counter shows a member about her money, or None for an unknown member."""
    person = lookup.member(agent, member_id)
    if person is None:
        return None
    by_product: dict[str, dict[str, Any]] = {p: {"total": 0, "accounts": []} for p in PRODUCTS}
    for account_id in _named_by(agent, "SavingsAccount", member_id):
        account = passbook(agent, account_id, history)
        if account is None:
            continue
        group = by_product.setdefault(account["product"], {"total": 0, "accounts": []})
        group["accounts"].append(account)
        group["total"] += account["balance"]
    day = business_day(agent, as_of)
    loan_ids = _named_by(agent, "Loan", member_id)
    loans = [loan(agent, loan_id, history, day) for loan_id in loan_ids]
    return {
        "member": person,
        "as_of": day,
        "savings": by_product,
        "savings_total": sum(g["total"] for g in by_product.values()),
        "loans": [x for x in loans if x is not None],
        "member_credit": {
            k: v for k, v in lookup.member_credit(agent, member_id).items() if k != "member_id"
        },
    }


def _named_by(agent: EdgeAgent, aggregate: str, member_id: str) -> list[str]:
    """Ids of the ``aggregate``s whose events name ``member_id``, oldest first."""
    events = agent.store.events_about(
        field_ref(aggregate, "member_id", member_id), limit=MAX_HISTORY
    )
    return list(dict.fromkeys(e.aggregate_id for e in reversed(events)))


def passbook(agent: EdgeAgent, account_id: str, history: int = HISTORY) -> dict[str, Any] | None:
    """An account with its newest ``history`` movements, newest first, each with the balance
    after it (walked back from the current balance)."""
    account = lookup.savings_account(agent, account_id)
    if account is None:
        return None
    balance: int = account["balance"]
    lines = []
    for env in _about(agent, "SavingsAccount", account_id, history):
        payload = _payload(env)
        line = _line(env, payload)
        line["balance_after"] = balance
        if env.type in ("SavingsDeposited", "SavingsWithdrawn"):
            line["reversed_by"] = (agent.view(tx_key(env.event_id)) or {}).get("reversed_by")
        balance -= movement(env.type, payload)
        lines.append(line)
    return {**account, "history": lines}


def loan(
    agent: EdgeAgent, loan_id: str, history: int = HISTORY, as_of: str | None = None
) -> dict[str, Any] | None:
    """A loan on a business date: its book (schedule, paid, outstanding, arrears) and its
    newest events."""
    view = agent.view(loan_key(loan_id))
    if view is None:
        return None
    book = loans.statement(view, business_day(agent, as_of))
    events = _about(agent, "Loan", loan_id, history)
    return {
        "loan_id": loan_id,
        "requested": view["requested"],
        "principal": view["principal"],
        **book,
        "history": [_line(e, _payload(e)) for e in events],
    }


def _about(agent: EdgeAgent, aggregate: str, aggregate_id: str, limit: int) -> list[Envelope]:
    limit = max(1, min(limit, MAX_HISTORY))
    return agent.store.events_about(aggregate_ref(aggregate, aggregate_id), limit=limit)


def _payload(env: Envelope) -> dict[str, Any]:
    return REGISTRY.upcast(env.type, env.version, env.payload)[1]


def _line(env: Envelope, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": env.seq,
        "event_id": env.event_id,
        "type": env.type,
        "recorded_at_ms": env.hlc.wall,
        **payload,
    }
