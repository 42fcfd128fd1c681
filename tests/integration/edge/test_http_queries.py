"""What the counter asks over HTTP: members, statements, passbooks, stock, prices, aid, sync."""

from __future__ import annotations

import pytest
from support.edge_http import LiveApi

from edge_agent.app.agent import EdgeAgent

SITI = {
    "nik": "6401051204880001",
    "kk_no": "6401050101090003",
    "name": "Siti Rahmawati",
    "birth_date": "1988-04-12",
    "desa_code": "6401050012",
    "member_id": "M-siti",
}


@pytest.fixture
def siti(api: LiveApi) -> LiveApi:
    """Siti with two accounts (WAJIB, SUKARELA), movements on both, and a disbursed loan."""
    api.ok("/v1/members", SITI)
    api.ok("/v1/members", SITI | {"member_id": "M-budi", "nik": "6401051212800002"})
    api.ok("/v1/savings", {"member_id": "M-siti", "product": "WAJIB", "account_id": "S-w"})
    api.ok("/v1/savings", {"member_id": "M-siti", "product": "SUKARELA", "account_id": "S-s"})
    api.ok("/v1/savings", {"member_id": "M-budi", "product": "SUKARELA", "account_id": "S-b"})
    api.ok(
        "/v1/savings/S-w/deposits", {"amount": 50_000, "receipt_no": "KW-1", "period": "2026-11"}
    )
    api.ok("/v1/savings/S-s/deposits", {"amount": 1_000_000, "receipt_no": "KW-2"})
    out = api.ok("/v1/savings/S-s/withdrawals", {"amount": 250_000, "receipt_no": "KW-3"})
    api.ok(
        "/v1/savings/S-s/reversals",
        {
            "reversed_event_id": out["event_id"],
            "kind": "WITHDRAWAL",
            "amount": 250_000,
            "reason": "salah input",
        },
    )
    api.ok("/v1/savings/S-s/withdrawals", {"amount": 100_000, "receipt_no": "KW-4"})
    api.ok("/v1/savings/S-b/deposits", {"amount": 7_000, "receipt_no": "KW-5"})
    api.ok(
        "/v1/loans",
        {
            "member_id": "M-siti",
            "amount_requested": 1_200_000,
            "loan_id": "L-1",
            "purpose": "modal warung",
            "tenor_months": 12,
        },
    )
    api.ok(
        "/v1/loans/L-1/approval",
        {
            "principal": 1_200_000,
            "rate_bp": 1200,
            "method": "flat",
            "tenor_months": 12,
            "first_due": "2027-01-05",
        },
    )
    api.ok("/v1/loans/L-1/disbursements", {"amount": 1_200_000, "disbursed_on": "2026-12-01"})
    api.ok(
        "/v1/loans/L-1/repayments",
        {"amount": 112_000, "receipt_no": "KW-6", "paid_on": "2026-12-20"},
    )
    return api


def test_member_lookup_by_nik_and_id(siti: LiveApi) -> None:
    """A member is found by NIK or by id; an unknown one is a 404 problem, a bad NIK a 400."""
    by_nik = siti.get(f"/v1/members?nik={SITI['nik']}")
    assert by_nik.status == 200 and by_nik.body["member_id"] == "M-siti"
    assert by_nik.body["profile"]["name"] == "Siti Rahmawati"
    assert siti.get("/v1/members/M-siti").body == by_nik.body
    assert siti.get("/v1/members?nik=6401050000000000").code == "not_found"
    assert siti.get("/v1/members/M-nobody").status == 404
    bad = siti.get("/v1/members?nik=12")
    assert (bad.status, bad.code, bad.body["field"]) == (400, "invalid_field", "nik")
    assert siti.get("/v1/members").body["field"] == "nik"


def test_statement_groups_savings_by_product_with_history_and_loans(siti: LiveApi) -> None:
    """The statement holds only this member's accounts, by product, each with its passbook,
    and her loan with its book; money is integer rupiah."""
    st = siti.get("/v1/members/M-siti/statement?as_of=2026-12-31").body
    assert st["member"]["member_id"] == "M-siti"
    assert st["savings"]["WAJIB"]["total"] == 50_000
    assert st["savings"]["SUKARELA"]["total"] == 900_000
    assert st["savings"]["POKOK"] == {"total": 0, "accounts": []}
    assert st["savings_total"] == 950_000
    [sukarela] = st["savings"]["SUKARELA"]["accounts"]
    assert [h["type"] for h in sukarela["history"]] == [
        "SavingsWithdrawn",
        "SavingsTransactionReversed",
        "SavingsWithdrawn",
        "SavingsDeposited",
        "SavingsAccountOpened",
    ]
    assert [h["balance_after"] for h in sukarela["history"]] == [
        900_000,
        1_000_000,
        750_000,
        1_000_000,
        0,
    ]
    assert sukarela["history"][2]["reversed_by"] == sukarela["history"][1]["event_id"]
    [loan] = st["loans"]
    assert loan["loan_id"] == "L-1" and loan["state"] == "DISBURSED"
    assert loan["terms"]["method"] == "flat" and loan["terms"]["tenor_months"] == 12
    assert (loan["principal_repaid"], loan["interest_repaid"]) == (100_000, 12_000)
    assert loan["outstanding_principal"] == 1_100_000
    assert len(loan["schedule"]) == 12
    assert sum(row["principal"] for row in loan["schedule"]) == 1_200_000
    assert siti.get("/v1/members/M-budi/statement").body["savings_total"] == 7_000
    assert siti.get("/v1/members/M-x/statement").status == 404


def test_loan_schedule_and_arrears_on_a_date(siti: LiveApi) -> None:
    """A loan's schedule and arrears are those of the shared loan book on the date asked:
    the repayment paid the first instalment in advance; by 10 March the next two are late."""
    before = siti.get("/v1/loans/L-1?as_of=2026-12-31").body
    assert before["arrears"] == {"days": 0, "principal": 0, "interest": 0}
    first = before["schedule"][0]
    assert (first["due"], first["principal"], first["interest"], first["status"]) == (
        "2027-01-05",
        100_000,
        12_000,
        "PAID",
    )
    late = siti.get("/v1/loans/L-1?as_of=2027-03-10").body
    assert late["arrears"] == {"days": 33, "principal": 200_000, "interest": 24_000}
    assert [row["status"] for row in late["schedule"][:4]] == ["PAID", "LATE", "LATE", "OPEN"]
    statement = siti.get("/v1/members/M-siti/statement?as_of=2027-03-10").body
    assert statement["as_of"] == "2027-03-10"
    assert statement["loans"][0]["arrears"]["days"] == 33
    bad = siti.get("/v1/loans/L-1?as_of=2027-13-01")
    assert (bad.status, bad.body["field"]) == (400, "as_of")


def test_passbook_and_loan_pages(siti: LiveApi) -> None:
    """A passbook shows the newest movements first, as many as asked; a loan its history."""
    page = siti.get("/v1/savings/S-s?history=2").body
    assert page["balance"] == 900_000 and len(page["history"]) == 2
    assert page["history"][0]["receipt_no"] == "KW-4"
    loan = siti.get("/v1/loans/L-1?history=2").body
    assert [h["type"] for h in loan["history"]] == ["LoanRepaymentReceived", "LoanDisbursed"]
    assert siti.get("/v1/savings/S-x").code == "not_found"
    assert siti.get("/v1/loans/L-x").code == "not_found"
    bad = siti.get("/v1/savings/S-s?history=0")
    assert (bad.status, bad.body["field"]) == (400, "history")
    assert siti.get("/v1/savings/S.s").code == "invalid_id"


def test_stock_per_location_and_price_list(api: LiveApi) -> None:
    """Stock shows each (location, sku) with its price; the price list every price set."""
    api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500})
    api.ok("/v1/prices", {"sku": "MINYAK-1L", "unit_price": 17_000})
    for location, qty in (("main", 20), ("gudang", 50)):
        api.ok(
            "/v1/stock/receipts",
            {
                "sku": "GULA-1KG",
                "qty": qty,
                "location": location,
                "supplier": "UD",
                "doc_no": f"SJ-{location}",
            },
        )
    api.ok("/v1/sales", {"lines": [{"sku": "GULA-1KG", "qty": 3, "unit_price": 18_500}]})
    rows = api.get("/v1/stock").body["items"]
    assert {(r["location"], r["sku"], r["on_hand"], r["unit_price"]) for r in rows} == {
        ("main", "GULA-1KG", 17, 18_500),
        ("gudang", "GULA-1KG", 50, 18_500),
    }
    assert [r["location"] for r in api.get("/v1/stock?location=gudang").body["items"]] == ["gudang"]
    prices = api.get("/v1/prices").body["items"]
    assert {(p["sku"], p["unit_price"]) for p in prices} == {
        ("GULA-1KG", 18_500),
        ("MINYAK-1L", 17_000),
    }


def test_allowance_card_and_entitlement(api: LiveApi, aid: EdgeAgent) -> None:
    """Allowances show what is left, a card its entitlements and value left, an entitlement
    whether it is redeemed; all move with a redemption."""
    assert api.get("/v1/aid/allowances/ALW-1").body["value_left"] == 500_000
    card = api.get("/v1/aid/cards/KHBS-1").body
    assert (card["blocked"], card["available_entitlements"], card["available_value"]) == (
        False,
        3,
        600_000,
    )
    api.ok(
        "/v1/aid/entitlements/ENT-1/redemption",
        {"card_uid": "KHBS-1", "allowance_id": "ALW-1", "value": 300_000},
    )
    left = api.get("/v1/aid/allowances/ALW-1").body
    assert (left["count_left"], left["value_left"]) == (1, 200_000)
    assert api.get("/v1/aid/cards/KHBS-1").body["available_value"] == 300_000
    ent = api.get("/v1/aid/entitlements/ENT-1").body
    assert ent["status"] == "REDEEMED" and ent["redeemed_by"]
    assert api.get("/v1/aid/entitlements/ENT-2").body["status"] == "AVAILABLE"
    blocked = api.get("/v1/aid/cards/KHBS-2").body
    assert blocked["blocked"] is True and blocked["reason"] == "kartu hilang"
    listed = {a["allowance_id"] for a in api.get("/v1/aid/allowances").body["items"]}
    assert listed == {"ALW-1", "ALW-OTHER"}
    for path in ("/v1/aid/cards/KHBS-9", "/v1/aid/entitlements/E-9", "/v1/aid/allowances/A-9"):
        assert api.get(path).code == "not_found"


def test_sync_status_log_and_probes(api: LiveApi, agent: EdgeAgent) -> None:
    """Sync status counts what waits for the central; the log pages; the probes answer."""
    api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500})
    status = api.get("/v1/sync/status").body
    assert (status["device_id"], status["last_seq"], status["pending"]) == ("pb-kasir-1", 1, 1)
    assert status["confirmed_seq"] == 0 and status["last_contact"] is None
    assert status["siblings"] == [] and status["downlink_refused"] == 0
    api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": 19_000})
    log = api.get("/v1/events?since=1").body["items"]
    assert [(e["seq"], e["payload"]["unit_price"]) for e in log] == [(2, 19_000)]
    assert api.get("/healthz").body == {"status": "ok"}
    assert api.get("/readyz").body["status"] == "ready"


def test_readyz_refuses_a_truncated_log(api: LiveApi, agent: EdgeAgent) -> None:
    """A log whose newest events were deleted behind the store's back is not ready (503)."""
    for price in (1000, 2000):
        api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": price})
    with agent.store._writer.transaction() as c:
        c.execute("DELETE FROM device_events WHERE originator_version = 2")
    reply = api.get("/readyz")
    assert (reply.status, reply.code) == (503, "not_ready")
    assert "kopsync edge verify" in reply.body["detail"]
