"""What the counter asks: one GET route per question, onto the lookup and statement functions.

Each :class:`Query` answers from :mod:`edge_agent.app.lookup` and
:mod:`edge_agent.app.statement` (rule views and the refs index, never a replay of the
log). ``answer`` runs in a worker thread; ``None`` from it is a 404 ``not_found``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from edge_agent.app import lookup, statement
from edge_agent.app.agent import EdgeAgent
from edge_agent.http.requests import int_param
from schemas.fields import Field, FieldProblem, check_value
from sync_core.errors import UsageError, ValidationError
from sync_core.ids import check_id
from sync_core.localtime import check_date

Answer = Callable[[EdgeAgent, Request], Any]
NIK = Field("nik", "digits", digits=16)


@dataclass(frozen=True)
class Param:
    """A query parameter, for the OpenAPI document."""

    name: str
    doc: str
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Query:
    """``GET path``: ``answer`` returns the JSON body, or None when there is no such thing."""

    path: str
    summary: str
    tag: str
    answer: Answer
    response: str  # the name of the response schema in the OpenAPI document
    params: tuple[Param, ...] = ()


def _id(request: Request, name: str) -> str:
    return check_id(request.path_params[name], name.replace("_", " "))


def _history(request: Request) -> int:
    return int_param(request, "history", statement.HISTORY, 1, statement.MAX_HISTORY)


def _as_of(request: Request) -> str | None:
    value = request.query_params.get("as_of")
    if value is None:
        return None
    try:
        return check_date(value, "as_of")
    except UsageError:
        raise ValidationError(
            "query", "as_of", f"must be a date YYYY-MM-DD, got {value!r}"
        ) from None


def _member_by_nik(agent: EdgeAgent, request: Request) -> Any:
    nik = request.query_params.get("nik")
    if nik is None:
        raise ValidationError("query", "nik", "is required: look a member up by NIK")
    try:
        check_value(NIK, nik, "nik")
    except FieldProblem as exc:
        raise ValidationError("query", "nik", exc.problem) from None
    return lookup.member_by_nik(agent, nik)


def _log(agent: EdgeAgent, request: Request) -> Any:
    since = int_param(request, "since", 0, 0, 2**62)
    limit = int_param(request, "limit", 100, 1, 1000)
    entries = itertools.islice(agent.log(since), limit)
    return {"items": [e.to_json() for e in entries]}


HISTORY = Param(
    "history",
    "newest events to show per account or loan",
    {"type": "integer", "minimum": 1, "maximum": statement.MAX_HISTORY},
)

AS_OF = Param(
    "as_of",
    "business date of the loan figures (default: today in the cooperative's time zone)",
    {"type": "string", "format": "date"},
)

QUERIES: tuple[Query, ...] = (
    Query(
        "/v1/members",
        "Find a member by NIK",
        "members",
        _member_by_nik,
        "Member",
        (Param("nik", "national id, 16 digits", {"type": "string"}, True),),
    ),
    Query(
        "/v1/members/{member_id}",
        "A member",
        "members",
        lambda a, r: lookup.member(a, _id(r, "member_id")),
        "Member",
    ),
    Query(
        "/v1/members/{member_id}/statement",
        "A member's savings by product with history, and loans with schedule and arrears",
        "members",
        lambda a, r: statement.statement(a, _id(r, "member_id"), _history(r), _as_of(r)),
        "Statement",
        (HISTORY, AS_OF),
    ),
    Query(
        "/v1/savings/{account_id}",
        "A savings account and its passbook",
        "savings",
        lambda a, r: statement.passbook(a, _id(r, "account_id"), _history(r)),
        "Passbook",
        (HISTORY,),
    ),
    Query(
        "/v1/loans/{loan_id}",
        "A loan on a date: schedule, paid, outstanding, arrears, history",
        "loans",
        lambda a, r: statement.loan(a, _id(r, "loan_id"), _history(r), _as_of(r)),
        "Loan",
        (HISTORY, AS_OF),
    ),
    Query(
        "/v1/stock",
        "Stock on hand per location",
        "shop",
        lambda a, r: {"items": lookup.stock(a, r.query_params.get("location"))},
        "StockList",
        (Param("location", "only this location", {"type": "string"}),),
    ),
    Query(
        "/v1/prices",
        "The price list",
        "shop",
        lambda a, r: {"items": lookup.price_list(a)},
        "PriceList",
    ),
    Query(
        "/v1/aid/allowances",
        "Redemption allowances and what is left",
        "aid",
        lambda a, r: {"items": lookup.allowances(a)},
        "AllowanceList",
    ),
    Query(
        "/v1/aid/allowances/{allowance_id}",
        "One allowance and what is left",
        "aid",
        lambda a, r: lookup.allowance(a, _id(r, "allowance_id")),
        "Allowance",
    ),
    Query(
        "/v1/aid/cards/{card_uid}",
        "A KHBS card: blocked or not, its entitlements and their value left",
        "aid",
        lambda a, r: lookup.card(a, _id(r, "card_uid")),
        "Card",
    ),
    Query(
        "/v1/aid/entitlements/{entitlement_id}",
        "An entitlement and whether it is redeemed",
        "aid",
        lambda a, r: lookup.entitlement(a, _id(r, "entitlement_id")),
        "Entitlement",
    ),
    Query(
        "/v1/sync/status",
        "Sync status: pending events, last contact, siblings",
        "sync",
        lambda a, r: lookup.sync_status(a),
        "SyncStatus",
    ),
    Query(
        "/v1/events",
        "The device's log, oldest first",
        "events",
        _log,
        "EventList",
        (
            Param("since", "events after this seq", {"type": "integer", "minimum": 0}),
            Param("limit", "at most this many", {"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
    ),
)
