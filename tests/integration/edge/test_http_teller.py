"""The members, savings and loan operations of the teller over the agent's HTTP API: each
happy path and its refusals (shop, aid, fund and shipments: ``test_http_teller_goods.py``)."""

from __future__ import annotations

from support.edge_http import LiveApi, last_event

from edge_agent.app.agent import EdgeAgent

SITI = {
    "nik": "6401051204880001",
    "kk_no": "6401050101090003",
    "name": "Siti Rahmawati",
    "birth_date": "1988-04-12",
    "desa_code": "6401050012",
    "phone": "+6281234567890",
}


def test_members_register_approve_change_resign(api: LiveApi, agent: EdgeAgent) -> None:
    """Register (id made or given), approve, change a field and resign; each is one event."""
    made = api.ok("/v1/members", SITI)
    assert made["member_id"].startswith("M-") and made["type"] == "MemberRegistered"
    assert made["seq"] == 1 and last_event(agent).payload["nik"] == SITI["nik"]
    other = SITI | {"nik": "6401051212800002", "member_id": "M-budi"}
    assert api.ok("/v1/members", other)["member_id"] == "M-budi"
    m = made["member_id"]
    assert api.ok(f"/v1/members/{m}/approval", {"approved_by": "Ketua"})["type"] == (
        "MembershipApproved"
    )
    api.ok(f"/v1/members/{m}/profile", {"field": "phone", "value": "+6285212345678"})
    api.ok("/v1/members/M-budi/resignation", {"reason": "pindah domisili"})
    assert agent.view(f"member:{m}")["profile"]["phone"] == "+6285212345678"  # type: ignore[index]
    assert agent.view("member:M-budi")["status"] == "RESIGNED"  # type: ignore[index]


def test_member_refusals(api: LiveApi) -> None:
    """A NIK registered twice, a bad NIK, an unknown or resigned member are refused."""
    api.ok("/v1/members", SITI | {"member_id": "M-1"})
    dup = api.refused("/v1/members", SITI | {"member_id": "M-2"}, 409, "duplicate_nik")
    assert dup.body["rule"] == "duplicate_nik" and "M-1" in dup.body["detail"]
    api.refused("/v1/members", SITI | {"member_id": "M-1"}, 409, "duplicate_member")
    bad = api.refused("/v1/members", SITI | {"nik": "12345"}, 400, "invalid_field")
    assert bad.body["field"] == "nik"
    api.refused("/v1/members/M-404/approval", {}, 409, "unknown_member")
    wrong = api.refused(
        "/v1/members/M-1/profile", {"field": "nik", "value": "1"}, 400, "invalid_field"
    )
    assert wrong.body["field"] == "value"
    api.ok("/v1/members/M-1/resignation", {})
    api.refused("/v1/members/M-1/approval", {}, 409, "member_resigned")


def test_savings_open_deposit_withdraw_reverse(
    members: EdgeAgent, api: LiveApi, agent: EdgeAgent
) -> None:
    """Open an account, deposit, withdraw and reverse; the balance follows."""
    acc = api.ok("/v1/savings", {"member_id": "M-1", "product": "WAJIB"})["account_id"]
    api.ok(
        f"/v1/savings/{acc}/deposits",
        {"amount": 150_000, "receipt_no": "KW-1", "period": "2026-11"},
    )
    out = api.ok(f"/v1/savings/{acc}/withdrawals", {"amount": 50_000, "receipt_no": "KW-2"})
    api.ok(
        f"/v1/savings/{acc}/reversals",
        {
            "reversed_event_id": out["event_id"],
            "kind": "WITHDRAWAL",
            "amount": 50_000,
            "reason": "salah input",
        },
    )
    assert agent.view(f"savings:{acc}")["balance"] == 150_000  # type: ignore[index]


def test_savings_refusals(members: EdgeAgent, api: LiveApi) -> None:
    """Overdrawing, an unknown account, a second opening, a double reversal are refused."""
    api.ok("/v1/savings", {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"})
    api.refused(
        "/v1/savings",
        {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"},
        409,
        "duplicate_account",
    )
    bad = api.refused("/v1/savings", {"member_id": "M-1", "product": "EMAS"}, 400, "invalid_field")
    assert bad.body["field"] == "product"
    dep = api.ok("/v1/savings/S-1/deposits", {"amount": 50_000, "receipt_no": "KW-1"})
    over = api.refused(
        "/v1/savings/S-1/withdrawals",
        {"amount": 50_001, "receipt_no": "KW-2"},
        409,
        "insufficient_balance",
    )
    assert "Rp50.000" in over.body["detail"]
    api.refused(
        "/v1/savings/S-9/deposits", {"amount": 1, "receipt_no": "KW-3"}, 409, "unknown_account"
    )
    reversal = {
        "reversed_event_id": dep["event_id"],
        "kind": "DEPOSIT",
        "amount": 50_000,
        "reason": "salah akun",
    }
    api.ok("/v1/savings/S-1/reversals", reversal)
    api.refused("/v1/savings/S-1/reversals", reversal, 409, "already_reversed")
    api.refused(
        "/v1/savings/S-1/reversals",
        reversal | {"reversed_event_id": "nope"},
        409,
        "unknown_transaction",
    )


def test_loans_apply_approve_disburse_repay_reverse(
    members: EdgeAgent, api: LiveApi, agent: EdgeAgent
) -> None:
    """A loan goes through its life over HTTP; the view holds its totals."""
    loan = api.ok(
        "/v1/loans",
        {
            "member_id": "M-1",
            "amount_requested": 2_000_000,
            "purpose": "modal warung",
            "tenor_months": 10,
        },
    )["loan_id"]
    api.ok(
        f"/v1/loans/{loan}/approval",
        {
            "principal": 2_000_000,
            "rate_bp": 1200,
            "method": "flat",
            "tenor_months": 10,
            "first_due": "2026-12-05",
        },
    )
    api.ok(f"/v1/loans/{loan}/disbursements", {"amount": 2_000_000})
    rep = api.ok(f"/v1/loans/{loan}/repayments", {"amount": 220_000, "receipt_no": "KW-3"})
    api.ok(
        f"/v1/loans/{loan}/repayment-reversals",
        {"reversed_event_id": rep["event_id"], "amount": 220_000, "reason": "tercatat dua kali"},
    )
    view = agent.view(f"loan:{loan}")
    assert view is not None and (view["disbursed"], view["repaid"]) == (2_000_000, 0)


def test_loan_refusals(members: EdgeAgent, api: LiveApi) -> None:
    """An unknown loan, a second approval, over-disbursement, an unknown repayment: refused."""
    api.refused(
        "/v1/loans/L-404/repayments", {"amount": 1000, "receipt_no": "KW-1"}, 409, "unknown_loan"
    )
    body = {
        "member_id": "M-1",
        "amount_requested": 1_000_000,
        "purpose": "pupuk",
        "tenor_months": 6,
        "loan_id": "L-1",
    }
    api.ok("/v1/loans", body)
    api.refused("/v1/loans", body, 409, "duplicate_loan")
    api.refused("/v1/loans/L-1/disbursements", {"amount": 1}, 409, "loan_not_approved")
    terms = {
        "principal": 1_000_000,
        "rate_bp": 1200,
        "method": "declining",
        "tenor_months": 6,
        "first_due": "2027-01-05",
    }
    api.ok("/v1/loans/L-1/approval", terms)
    api.refused("/v1/loans/L-1/approval", terms, 409, "loan_not_applied")
    api.refused("/v1/loans/L-1/disbursements", {"amount": 1_000_001}, 409, "over_disbursement")
    api.refused(
        "/v1/loans/L-1/repayment-reversals",
        {"reversed_event_id": "x", "amount": 5, "reason": "r"},
        409,
        "unknown_repayment",
    )
    bad = api.refused("/v1/loans/L-1/approval", terms | {"method": "bunga"}, 400, "invalid_field")
    assert bad.body["field"] == "method"


def test_text_with_a_bidi_override_is_refused_naming_the_field(api: LiveApi) -> None:
    """A name holding U+202E (right-to-left override) is a 400 invalid_field on ``name``."""
    bad = api.refused("/v1/members", SITI | {"name": "Siti\u202eRahmawati"}, 400, "invalid_field")
    assert bad.body["field"] == "name" and "U+202E" in bad.body["detail"]
