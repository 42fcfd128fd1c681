"""The shop, member credit, aid, stimulus fund and shipment operations of the teller over the
agent's HTTP API: each happy path and its refusals."""

from __future__ import annotations

from typing import Any

import pytest
from support.edge_http import LiveApi, last_event

from edge_agent.app.agent import EdgeAgent


def test_shop_prices_stock_sales(members: EdgeAgent, api: LiveApi, agent: EdgeAgent) -> None:
    """Set a price, receive, sell (cash by default), void, adjust and count stock."""
    api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500})
    api.ok(
        "/v1/stock/receipts",
        {
            "sku": "GULA-1KG",
            "qty": 20,
            "supplier": "UD Sumber Rejeki",
            "doc_no": "SJ-1",
            "unit_cost": 16_000,
        },
    )
    sale = api.ok(
        "/v1/sales",
        {"lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}], "member_id": "M-1"},
    )
    assert last_event(agent).payload["payments"] == [{"method": "cash", "amount": 37_000}]
    assert agent.view("stock:main:GULA-1KG") == {"on_hand": 18}
    api.ok(f"/v1/sales/{sale['sale_id']}/void", {"reason": "pembeli batal"})
    api.ok("/v1/stock/adjustments", {"sku": "GULA-1KG", "delta": -2, "reason": "kemasan sobek"})
    api.ok("/v1/stock/counts", {"sku": "GULA-1KG", "counted_qty": 17})
    assert agent.view("stock:main:GULA-1KG") == {"on_hand": 17}


def test_member_credit_sale_and_repayment(members: EdgeAgent, api: LiveApi) -> None:
    """A sale on member credit is owed by the member (her statement shows it); she repays it
    over the API, never more than she owes, and an unknown member repays nothing."""
    api.ok("/v1/stock/receipts", {"sku": "GULA-1KG", "qty": 5, "supplier": "UD", "doc_no": "S"})
    line = {"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}
    pay = [{"method": "member_credit", "amount": 37_000}]
    api.ok("/v1/sales", {"lines": [line], "payments": pay, "member_id": "M-1"})
    repay = {"amount": 37_001, "receipt_no": "KW-8"}
    over = api.refused("/v1/members/M-1/credit-repayments", repay, 409, "credit_overpaid")
    assert "Rp37.000" in over.body["detail"]
    api.refused("/v1/members/M-404/credit-repayments", repay, 409, "unknown_member")
    made = api.ok("/v1/members/M-1/credit-repayments", repay | {"amount": 30_000})
    assert made["type"] == "MemberCreditRepaid" and made["aggregate_id"] == "M-1"
    owed = api.get("/v1/members/M-1/statement").body["member_credit"]
    assert owed == {"sold": 37_000, "repaid": 30_000, "owed": 7_000}


def test_member_credit_repayment_reversal(members: EdgeAgent, api: LiveApi) -> None:
    """A repayment recorded by mistake is reversed over the API (she owes it again); no such
    repayment, the wrong amount, a second reversal and an unknown member are refused."""
    api.ok("/v1/stock/receipts", {"sku": "GULA-1KG", "qty": 5, "supplier": "UD", "doc_no": "S"})
    line = {"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}
    pay = [{"method": "member_credit", "amount": 37_000}]
    api.ok("/v1/sales", {"lines": [line], "payments": pay, "member_id": "M-1"})
    made = api.ok("/v1/members/M-1/credit-repayments", {"amount": 30_000, "receipt_no": "KW-8"})
    path = "/v1/members/M-1/credit-repayment-reversals"
    body = {"reversed_event_id": made["event_id"], "amount": 30_000, "reason": "salah catat"}
    api.refused(path, body | {"reversed_event_id": "ev-none"}, 409, "unknown_repayment")
    wrong = api.refused(path, body | {"amount": 3_000}, 409, "unknown_repayment")
    assert "Rp30.000" in wrong.body["detail"]
    api.refused("/v1/members/M-404/credit-repayment-reversals", body, 409, "unknown_member")
    bad = api.refused(path, body | {"amount": -1}, 400, "invalid_field")
    assert bad.body["field"] == "amount"
    done = api.ok(path, body)
    assert done["type"] == "MemberCreditRepaymentReversed" and done["aggregate_id"] == "M-1"
    api.refused(path, body, 409, "already_reversed")
    owed = api.get("/v1/members/M-1/statement").body["member_credit"]
    assert owed == {"sold": 37_000, "repaid": 0, "owed": 37_000}


def test_shop_refusals(api: LiveApi, aid: EdgeAgent) -> None:
    """Negative stock (unless overridden with a reason), unmatched payments, a blocked card,
    a second void and bad quantities are refused."""
    line = {"sku": "LPG-3KG", "qty": 1, "unit_price": 20_000}
    short = api.refused("/v1/sales", {"lines": [line]}, 409, "negative_stock")
    assert "on hand 0" in short.body["detail"]
    api.refused(
        "/v1/sales",
        {
            "lines": [line],
            "payments": [{"method": "cash", "amount": 1}],
            "stock_override_reason": "x",
        },
        409,
        "payment_mismatch",
    )
    khbs = {
        "lines": [line],
        "payments": [{"method": "khbs", "amount": 20_000}],
        "card_uid": "KHBS-2",
        "stock_override_reason": "tabung di rak",
    }
    api.refused("/v1/sales", khbs, 409, "card_blocked")
    sale = api.ok("/v1/sales", khbs | {"card_uid": "KHBS-1", "sale_id": "SL-1"})
    assert aid.view("stock:main:LPG-3KG") == {"on_hand": -1}
    api.refused(
        "/v1/sales", khbs | {"card_uid": "KHBS-1", "sale_id": "SL-1"}, 409, "duplicate_sale"
    )
    api.ok(f"/v1/sales/{sale['sale_id']}/void", {"reason": "batal"})
    api.refused("/v1/sales/SL-1/void", {"reason": "lagi"}, 409, "already_voided")
    api.refused("/v1/sales/SL-404/void", {"reason": "x"}, 409, "unknown_sale")
    bad = api.refused(
        "/v1/stock/receipts",
        {"sku": "X", "qty": 0, "supplier": "S", "doc_no": "D"},
        400,
        "invalid_field",
    )
    assert bad.body["field"] == "qty"
    api.refused("/v1/stock/counts", {"sku": "X", "counted_qty": -1}, 400, "invalid_field")
    api.refused("/v1/stock/adjustments", {"sku": "X", "delta": 1}, 400, "invalid_field")
    api.refused("/v1/prices", {"sku": "X", "unit_price": 0}, 400, "invalid_field")
    lines = api.refused("/v1/sales", {"lines": [{"sku": "X", "qty": 1}]}, 400, "invalid_field")
    assert lines.body["field"] == "lines[0].unit_price"


def test_aid_redeem_and_void(api: LiveApi, aid: EdgeAgent) -> None:
    """Redeem an entitlement against the allowance, void it: count and value come back."""
    red = api.ok(
        "/v1/aid/entitlements/ENT-1/redemption",
        {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 300_000},
    )
    assert aid.view("allowance:ALW-1")["used_value"] == 300_000  # type: ignore[index]
    api.ok(
        "/v1/aid/entitlements/ENT-1/redemption-void",
        {"redemption_event_id": red["event_id"], "reason": "tertempel dua kali"},
    )
    assert aid.view("allowance:ALW-1")["used_count"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("entitlement", "body", "code"),
    [
        (
            "ENT-404",
            {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 1},
            "unknown_entitlement",
        ),
        ("ENT-1", {"card_uid": "KHBS-2", "allowance_id": "ALW-1", "value": 300_000}, "wrong_card"),
        (
            "ENT-3",
            {"card_uid": "KHBS-2", "allowance_id": "ALW-1", "value": 300_000},
            "card_blocked",
        ),
        ("ENT-1", {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 1}, "wrong_value"),
        (
            "ENT-1",
            {"card_uid": "KHBS-1", "allowance_id": "ALW-OTHER", "value": 300_000},
            "no_allowance",
        ),
    ],
)
def test_aid_refusals(
    api: LiveApi, aid: EdgeAgent, entitlement: str, body: dict[str, Any], code: str
) -> None:
    """Each aid rule refuses with its own code, and nothing is recorded."""
    reply = api.refused(f"/v1/aid/entitlements/{entitlement}/redemption", body, 409, code)
    assert reply.body["rule"] == code


def test_aid_second_redemption_and_exhausted_allowance(api: LiveApi, aid: EdgeAgent) -> None:
    """The same entitlement twice is refused; so is a third redemption of a two-count
    allowance, and voiding what is not the current redemption."""
    path = "/v1/aid/entitlements/{}/redemption"
    api.ok(path.format("ENT-1"), {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 300_000})
    api.refused(
        path.format("ENT-1"),
        {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 300_000},
        409,
        "already_redeemed",
    )
    api.ok(path.format("ENT-2"), {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 200_000})
    api.refused(
        path.format("ENT-4"),
        {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 100_000},
        409,
        "allowance_exhausted",
    )
    api.refused(
        "/v1/aid/entitlements/ENT-4/redemption-void",
        {"redemption_event_id": "x", "reason": "r"},
        409,
        "unknown_redemption",
    )


def test_fund_and_shipments(api: LiveApi, agent: EdgeAgent) -> None:
    """Use and repay the stimulus fund; dispatch, receive and note a shipment's discrepancy."""
    api.ok(
        "/v1/funds/FUND-1/utilizations",
        {"amount": 5_000_000, "purpose": "MEMBER_LOANS", "doc_no": "BKK-1"},
    )
    api.ok(
        "/v1/funds/FUND-1/repayments", {"amount": 500_000, "receipt_no": "KW-4", "member_id": "M-1"}
    )
    assert agent.view("fund:FUND-1")["repaid"] == 500_000  # type: ignore[index]
    api.ok("/v1/stock/receipts", {"sku": "GULA-1KG", "qty": 5, "supplier": "UD", "doc_no": "SJ-1"})
    ship = api.ok(
        "/v1/shipments",
        {"origin": "main", "destination": "6401050013", "lines": [{"sku": "GULA-1KG", "qty": 5}]},
    )
    sid = ship["shipment_id"]
    api.ok(
        f"/v1/shipments/{sid}/receipts",
        {"lines": [{"sku": "GULA-1KG", "qty": 4}], "location": "gudang"},
    )
    api.ok(
        f"/v1/shipments/{sid}/discrepancies",
        {"sku": "GULA-1KG", "expected_qty": 5, "received_qty": 4, "reason": "satu karung sobek"},
    )
    assert agent.view("stock:gudang:GULA-1KG") == {"on_hand": 4}


def test_fund_and_shipment_refusals(api: LiveApi) -> None:
    """A fund use without a purpose, dispatching what is not in stock, a shipment dispatched
    twice and a receipt with no lines are refused."""
    bad = api.refused(
        "/v1/funds/FUND-1/utilizations", {"amount": 5, "doc_no": "B"}, 400, "invalid_field"
    )
    assert bad.body["field"] == "purpose"
    api.refused(
        "/v1/funds/FUND-1/repayments", {"amount": -5, "receipt_no": "K"}, 400, "invalid_field"
    )
    ship = {
        "origin": "main",
        "destination": "6401050013",
        "shipment_id": "SH-1",
        "lines": [{"sku": "GULA-1KG", "qty": 5}],
    }
    api.refused("/v1/shipments", ship, 409, "negative_stock")
    api.ok("/v1/shipments", ship | {"stock_override_reason": "kiriman dari gudang lain"})
    api.refused("/v1/shipments", ship | {"stock_override_reason": "x"}, 409, "duplicate_shipment")
    api.refused("/v1/shipments/SH-1/receipts", {"lines": []}, 400, "invalid_field")
    api.refused(
        "/v1/shipments/SH-1/discrepancies", {"sku": "G", "expected_qty": 5}, 400, "invalid_field"
    )
