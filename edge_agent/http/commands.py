"""The teller operations over HTTP: one POST route per edge event, onto the teller API.

Each :class:`Command` names its event type, its path and the teller function it calls
(:mod:`edge_agent.app.teller`, the same functions the CLI calls). Its request body is
derived, not written: the event's payload fields from the catalog, less those the path
carries, each required only if the teller function needs it (a date it defaults to today
is optional), plus the optional id of a new aggregate. The body is checked with the
catalog's own field checks before anything runs, and the store checks the payload again
as it records, so the API cannot accept what the store would refuse, nor drift from it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

from edge_agent.app import teller
from schemas import REGISTRY
from schemas.fields import Field, FieldProblem, check_fields, check_value
from sync_core.envelope import Envelope
from sync_core.errors import ValidationError


def _lines(lines: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [(x["sku"], x["qty"], x["unit_price"]) for x in lines]


def _payments(payments: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(x["method"], x["amount"]) for x in payments]


def _items(lines: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(x["sku"], x["qty"]) for x in lines]


@dataclass(frozen=True)
class Command:
    """One teller operation: ``POST path`` records ``event_type`` through ``call``."""

    event_type: str
    path: str
    call: Callable[..., Envelope]
    summary: str
    tag: str
    new_id: str | None = None  # body field for the id of a new aggregate (made when absent)
    renames: Mapping[str, str] = field(default_factory=dict)  # body field → teller argument
    converts: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)  # by argument

    @cached_property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def name(self) -> str:
        return self.call.__name__

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """The request body's fields, derived from the catalog and the teller function."""
        params = inspect.signature(self.call).parameters
        out = []
        for f in REGISTRY.get(self.event_type).fields:
            if f.name in self.path_params:
                continue
            param = params[self.renames.get(f.name, f.name)]
            defaulted = param.default is not inspect.Parameter.empty
            out.append(replace(f, required=f.required and not defaulted))
        if self.new_id is not None:
            doc = "id of the new record; made (PREFIX-8 hex) when left out"
            out.append(Field(self.new_id, "id", False, doc))
        return tuple(out)

    def arguments(self, body: Any, path: Mapping[str, str]) -> dict[str, Any]:
        """The teller function's keyword arguments for a request; bad fields are refused
        with :class:`ValidationError` naming the field."""
        try:
            checked = check_fields(self.fields, body)
        except FieldProblem as exc:
            raise ValidationError(self.event_type, exc.path, exc.problem) from None
        kwargs: dict[str, Any] = dict(path)
        for name, value in checked.items():
            arg = self.renames.get(name, name)
            convert = self.converts.get(arg)
            kwargs[arg] = value if convert is None else convert(value)
        return kwargs


def _c(event_type: str, path: str, call: Callable[..., Envelope], summary: str, tag: str,
       **kw: Any) -> Command:  # fmt: skip
    return Command(event_type, path, call, summary, tag, **kw)


T = teller
COMMANDS: tuple[Command, ...] = (
    _c(
        "MemberRegistered",
        "/v1/members",
        T.register_member,
        "Register a member",
        "members",
        new_id="member_id",
    ),
    _c(
        "MembershipApproved",
        "/v1/members/{member_id}/approval",
        T.approve_member,
        "Approve a member",
        "members",
    ),
    _c(
        "MemberProfileFieldChanged",
        "/v1/members/{member_id}/profile",
        T.change_member_field,
        "Change one profile field",
        "members",
    ),
    _c(
        "MemberResigned",
        "/v1/members/{member_id}/resignation",
        T.resign_member,
        "A member resigns",
        "members",
    ),
    _c(
        "SavingsAccountOpened",
        "/v1/savings",
        T.open_savings,
        "Open a savings account",
        "savings",
        new_id="account_id",
    ),
    _c("SavingsDeposited", "/v1/savings/{account_id}/deposits", T.deposit, "Deposit", "savings"),
    _c(
        "SavingsWithdrawn",
        "/v1/savings/{account_id}/withdrawals",
        T.withdraw,
        "Withdraw",
        "savings",
    ),
    _c(
        "SavingsTransactionReversed",
        "/v1/savings/{account_id}/reversals",
        T.reverse_savings,
        "Reverse a deposit or withdrawal",
        "savings",
    ),
    _c("LoanApplied", "/v1/loans", T.apply_loan, "Apply for a loan", "loans", new_id="loan_id"),
    _c("LoanApproved", "/v1/loans/{loan_id}/approval", T.approve_loan, "Approve a loan", "loans"),
    _c(
        "LoanDisbursed",
        "/v1/loans/{loan_id}/disbursements",
        T.disburse_loan,
        "Pay out a loan (or part of it)",
        "loans",
    ),
    _c(
        "LoanRepaymentReceived",
        "/v1/loans/{loan_id}/repayments",
        T.repay_loan,
        "Receive a repayment",
        "loans",
    ),
    _c(
        "LoanRepaymentReversed",
        "/v1/loans/{loan_id}/repayment-reversals",
        T.reverse_repayment,
        "Reverse a repayment",
        "loans",
    ),
    _c("PriceSet", "/v1/prices", T.set_price, "Set an item's price", "shop"),
    _c(
        "SaleRecorded",
        "/v1/sales",
        T.record_sale,
        "Record a sale",
        "shop",
        new_id="sale_id",
        renames={
            "stock_override_reason": "override_stock",
            "price_override_reason": "override_price",
        },
        converts={"lines": _lines, "payments": _payments},
    ),
    _c("SaleVoided", "/v1/sales/{sale_id}/void", T.void_sale, "Void a sale", "shop"),
    _c(
        "MemberCreditRepaid",
        "/v1/members/{member_id}/credit-repayments",
        T.repay_member_credit,
        "A member pays back member credit",
        "shop",
    ),
    _c(
        "MemberCreditRepaymentReversed",
        "/v1/members/{member_id}/credit-repayment-reversals",
        T.reverse_member_credit_repayment,
        "Reverse a member-credit repayment",
        "shop",
    ),
    _c("StockReceived", "/v1/stock/receipts", T.receive_stock, "Goods received", "shop"),
    _c("StockAdjusted", "/v1/stock/adjustments", T.adjust_stock, "Correct stock", "shop"),
    _c("StockCounted", "/v1/stock/counts", T.count_stock, "Record a stock count", "shop"),
    _c(
        "AidRedeemed",
        "/v1/aid/entitlements/{entitlement_id}/redemption",
        T.redeem_aid,
        "Redeem a KHBS entitlement",
        "aid",
    ),
    _c(
        "AidRedemptionVoided",
        "/v1/aid/entitlements/{entitlement_id}/redemption-void",
        T.void_redemption,
        "Void a redemption",
        "aid",
    ),
    _c(
        "StimulusFundUtilized",
        "/v1/funds/{fund_id}/utilizations",
        T.utilize_fund,
        "Use the stimulus fund",
        "fund",
    ),
    _c(
        "StimulusRevolvingRepaymentMade",
        "/v1/funds/{fund_id}/repayments",
        T.repay_fund,
        "Repay into the revolving fund",
        "fund",
    ),
    _c(
        "ShipmentDispatched",
        "/v1/shipments",
        T.dispatch_shipment,
        "Dispatch a shipment",
        "logistics",
        new_id="shipment_id",
        renames={"lines": "items", "stock_override_reason": "override_stock"},
        converts={"items": _items},
    ),
    _c(
        "ShipmentReceived",
        "/v1/shipments/{shipment_id}/receipts",
        T.receive_shipment,
        "Receive a shipment",
        "logistics",
        renames={"lines": "items"},
        converts={"items": _items},
    ),
    _c(
        "ShipmentDiscrepancyRecorded",
        "/v1/shipments/{shipment_id}/discrepancies",
        T.record_discrepancy,
        "Record a discrepancy",
        "logistics",
    ),
)
"""Every teller operation (a test checks it covers :data:`teller.COMMANDS`)."""


# --- any edge event: POST /v1/events/{type} ---------------------------------------------

GENERIC_FIELDS = (
    Field("aggregate_id", "id", doc="id of the aggregate the event is about"),
    Field("version", "int", False, "schema version of the payload (default: latest)", minimum=1),
)


def generic_arguments(event_type: str, body: Any) -> dict[str, Any]:
    """The arguments of :func:`record_any` from a body ``{aggregate_id, payload, version?}``."""
    if not isinstance(body, dict):
        raise ValidationError(event_type, "(body)", "must be a JSON object")
    kwargs: dict[str, Any] = {"event_type": event_type}
    for name in body:
        if name not in ("aggregate_id", "payload", "version"):
            raise ValidationError(event_type, name, "is not a field of this request")
    for f in GENERIC_FIELDS:
        if f.name in body:
            try:
                kwargs[f.name] = check_value(f, body[f.name], f.name)
            except FieldProblem as exc:
                raise ValidationError(event_type, exc.path, exc.problem) from None
    if "aggregate_id" not in kwargs:
        raise ValidationError(event_type, "aggregate_id", "is required")
    if not isinstance(body.get("payload"), dict):
        raise ValidationError(event_type, "payload", "must be a JSON object of the event's fields")
    kwargs["payload"] = body["payload"]
    return kwargs


class AnyRecorder(Protocol):
    """A recorder that takes a schema version (an EdgeAgent, a OnceRecorder)."""

    def record(
        self,
        event_type: str,
        payload: dict[str, Any],
        aggregate_id: str,
        *,
        version: int | None = None,
    ) -> Envelope: ...


def record_any(
    recorder: AnyRecorder,
    *,
    event_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
    version: int | None = None,
) -> Envelope:
    """Record any edge event type (what ``kopsync edge record`` does), through ``recorder``."""
    return recorder.record(event_type, payload, aggregate_id, version=version)
