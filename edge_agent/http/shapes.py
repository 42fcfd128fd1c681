"""The JSON Schemas of the API's answers, for the OpenAPI document.

Request bodies are derived from the event catalog (:mod:`edge_agent.http.commands`);
answers are the lookup functions' dicts, described here. Objects stay open
(``additionalProperties`` is not false) so that a field added to a view is no break.
"""

from __future__ import annotations

from typing import Any

INT: dict[str, Any] = {"type": "integer"}
RUPIAH: dict[str, Any] = {"type": "integer", "description": "integer rupiah"}
TEXT: dict[str, Any] = {"type": "string"}
NTEXT: dict[str, Any] = {"type": ["string", "null"]}


def obj(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def items_of(name: str) -> dict[str, Any]:
    return obj(("items",), items={"type": "array", "items": ref(name)})


HISTORY_LINE = obj(
    ("seq", "event_id", "type", "recorded_at_ms"),
    seq=INT,
    event_id=TEXT,
    type=TEXT,
    recorded_at_ms={"type": "integer", "description": "device clock (HLC wall), ms"},
    amount=RUPIAH,
    balance_after=RUPIAH,
    reversed_by=NTEXT,
)

SHAPES: dict[str, dict[str, Any]] = {
    "Receipt": obj(
        ("seq", "event_id", "type", "aggregate_id", "recorded_at_ms"),
        seq={"type": "integer", "description": "position in the device's log"},
        event_id=TEXT,
        type=TEXT,
        aggregate_id=TEXT,
        recorded_at_ms=INT,
    ),
    "Problem": obj(
        ("type", "title", "status", "detail", "code"),
        type={"type": "string", "description": "urn:kopsync:problem:{code}"},
        title=TEXT,
        status=INT,
        detail=TEXT,
        code={"type": "string", "description": "stable: switch on this"},
        instance=TEXT,
        field={"type": "string", "description": "the offending field (invalid_field)"},
        rule={"type": "string", "description": "the refusing rule (409)"},
    ),
    "Member": obj(
        ("member_id", "status", "profile"),
        member_id=TEXT,
        status={"enum": ["REGISTERED", "APPROVED", "RESIGNED"]},
        profile={"type": "object", "additionalProperties": TEXT},
        alias_of=NTEXT,
    ),
    "HistoryLine": HISTORY_LINE,
    "Passbook": obj(
        ("account_id", "product", "balance", "history"),
        account_id=TEXT,
        member_id=NTEXT,
        product=NTEXT,
        balance=RUPIAH,
        history={"type": "array", "items": ref("HistoryLine")},
    ),
    "ScheduleRow": obj(
        ("number", "due", "principal", "interest", "status"),
        number=INT,
        due={"type": "string", "format": "date"},
        principal=RUPIAH,
        interest=RUPIAH,
        principal_paid=RUPIAH,
        interest_paid=RUPIAH,
        status=TEXT,
    ),
    "Loan": obj(
        ("loan_id", "state", "as_of", "disbursed", "outstanding_principal", "schedule"),
        loan_id=TEXT,
        member_id=NTEXT,
        as_of={"type": "string", "format": "date"},
        state={"enum": ["APPLIED", "APPROVED", "DISBURSED", "WRITTEN_OFF"]},
        requested=RUPIAH,
        principal=RUPIAH,
        terms={"type": ["object", "null"], "description": "the approved terms"},
        disbursed=RUPIAH,
        principal_repaid=RUPIAH,
        interest_repaid=RUPIAH,
        overpaid=RUPIAH,
        outstanding_principal=RUPIAH,
        interest_outstanding=RUPIAH,
        written_off=RUPIAH,
        recovered=RUPIAH,
        arrears=obj(("days", "principal", "interest"), days=INT, principal=RUPIAH, interest=RUPIAH),
        schedule={"type": "array", "items": ref("ScheduleRow")},
        history={"type": "array", "items": ref("HistoryLine")},
    ),
    "Statement": obj(
        ("member", "as_of", "savings", "savings_total", "loans", "member_credit"),
        member=ref("Member"),
        as_of={"type": "string", "format": "date"},
        savings={
            "type": "object",
            "description": "by product (POKOK, WAJIB, SUKARELA)",
            "additionalProperties": obj(
                ("total", "accounts"),
                total=RUPIAH,
                accounts={"type": "array", "items": ref("Passbook")},
            ),
        },
        savings_total=RUPIAH,
        loans={"type": "array", "items": ref("Loan")},
        member_credit=obj(
            ("sold", "repaid", "owed"),
            sold=RUPIAH,
            repaid=RUPIAH,
            owed={"type": "integer", "description": "integer rupiah the member owes here"},
        ),
    ),
    "StockRow": obj(
        ("location", "sku", "on_hand"),
        location=TEXT,
        sku=TEXT,
        on_hand=INT,
        unit_price={"type": ["integer", "null"], "description": "integer rupiah, if set"},
    ),
    "StockList": items_of("StockRow"),
    "Price": obj(("sku", "unit_price"), sku=TEXT, unit_price=RUPIAH, effective_from=NTEXT),
    "PriceList": items_of("Price"),
    "Allowance": obj(
        ("allowance_id", "count_left", "value_left"),
        allowance_id=TEXT,
        scope=TEXT,
        device_id=NTEXT,
        program=TEXT,
        cycle=TEXT,
        max_count=INT,
        max_value=RUPIAH,
        used_count=INT,
        used_value=RUPIAH,
        count_left=INT,
        value_left=RUPIAH,
    ),
    "AllowanceList": items_of("Allowance"),
    "Entitlement": obj(
        ("entitlement_id", "status"),
        entitlement_id=TEXT,
        status={"enum": ["AVAILABLE", "REDEEMED"]},
        card_uid=NTEXT,
        program=NTEXT,
        cycle=NTEXT,
        value={"type": ["integer", "null"], "description": "integer rupiah; null: by items"},
        redeemed_by=NTEXT,
    ),
    "Card": obj(
        ("card_uid", "blocked", "entitlements", "available_value"),
        card_uid=TEXT,
        beneficiary_id=NTEXT,
        blocked={"type": "boolean"},
        reason=NTEXT,
        entitlements={"type": "array", "items": ref("Entitlement")},
        available_entitlements=INT,
        available_value=RUPIAH,
    ),
    "SyncStatus": obj(
        ("device_id", "last_seq", "confirmed_seq", "pending"),
        coop_id=TEXT,
        device_id=TEXT,
        last_seq=INT,
        confirmed_seq=INT,
        pending=INT,
        last_contact={"type": ["integer", "null"], "description": "wall ms of the last hello"},
        downlink_position=INT,
        downlink_refused=INT,
        siblings={"type": "array", "items": {"type": "object"}},
    ),
    "LogEntry": obj(
        ("seq", "event_id", "type", "aggregate_id", "payload"),
        seq=INT,
        event_id=TEXT,
        type=TEXT,
        version=INT,
        aggregate_id=TEXT,
        payload={"type": "object"},
    ),
    "EventList": items_of("LogEntry"),
}
