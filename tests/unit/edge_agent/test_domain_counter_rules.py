"""Counter rules across areas: who a member is, simpanan pokok, prices, member credit."""

from __future__ import annotations

from typing import Any

from support.members import with_members

from edge_agent.domain.memory import MemoryViews

OPEN_POKOK = {"member_id": "M1", "product": "POKOK", "opened_on": "2026-01-05"}
APPLY = {"member_id": "M1", "amount_requested": 1_000_000, "purpose": "modal", "tenor_months": 6}
APPROVE = {
    "principal": 1_000_000,
    "rate_bp": 1200,
    "method": "flat",
    "tenor_months": 6,
    "first_due": "2026-02-05",
}


def pay(book: MemoryViews, account: str, amount: int) -> None:
    book.record("SavingsDeposited", account, {"amount": amount, "receipt_no": "KW-1"})


def resign(book: MemoryViews, member: str = "M1") -> None:
    book.record("MemberResigned", member, {"resigned_on": "2026-06-30", "reason": "pindah"})


def sale(price: int, **extra: Any) -> dict[str, Any]:
    lines = [{"sku": "BERAS-5KG", "qty": 2, "unit_price": price}]
    method = "member_credit" if extra.get("member_id") else "cash"
    payments = extra.pop("payments", [{"method": method, "amount": 2 * price}])
    return {"lines": lines, "payments": payments, "stock_override_reason": "rak", **extra}


def test_a_mistyped_member_is_refused_when_opening_savings() -> None:
    """`savings open --member M-ffffffff`: a member not registered here opens no account."""
    book = with_members("M1")
    payload = {**OPEN_POKOK, "member_id": "M-ffffffff"}
    assert book.refusal("SavingsAccountOpened", "S1", payload).rule == "unknown_member"
    book.record("SavingsAccountOpened", "S1", OPEN_POKOK)


def test_simpanan_pokok_is_one_account_paid_once() -> None:
    """A second POKOK account or a second POKOK payment is refused; a reversed payment may be
    paid again."""
    book = with_members("M1")
    book.record("SavingsAccountOpened", "S1", OPEN_POKOK)
    assert book.refusal("SavingsAccountOpened", "S2", OPEN_POKOK).rule == "pokok_exists"
    book.record("SavingsAccountOpened", "S3", {**OPEN_POKOK, "product": "WAJIB"})
    deposit = book.record("SavingsDeposited", "S1", {"amount": 100_000, "receipt_no": "KW-1"})
    refused = book.refusal("SavingsDeposited", "S1", {"amount": 100_000, "receipt_no": "KW-2"})
    assert refused.rule == "pokok_paid"
    reversal = {"reversed_event_id": deposit.event_id, "kind": "DEPOSIT", "amount": 100_000,
                "reason": "salah rekening"}  # fmt: skip
    book.record("SavingsTransactionReversed", "S1", reversal)
    pay(book, "S1", 100_000)


def test_simpanan_pokok_is_withdrawn_only_after_resigning() -> None:
    """While a member, the POKOK balance stays; once resigned it is paid back."""
    book = with_members("M1")
    book.record("SavingsAccountOpened", "S1", OPEN_POKOK)
    pay(book, "S1", 100_000)
    out = {"amount": 100_000, "receipt_no": "KW-9"}
    assert book.refusal("SavingsWithdrawn", "S1", out).rule == "pokok_locked"
    resign(book)
    book.record("SavingsWithdrawn", "S1", out)
    assert book.refusal("SavingsAccountOpened", "S2", OPEN_POKOK).rule == "member_resigned"


def test_a_resigned_member_cannot_borrow_nor_be_paid_out() -> None:
    """A loan is not applied for by, nor disbursed to, a member who has resigned."""
    book = with_members("M1", "M2")
    book.record("LoanApplied", "L1", APPLY)
    book.record("LoanApproved", "L1", APPROVE)
    resign(book)
    disburse = {"amount": 1_000_000, "disbursed_on": "2026-01-06"}
    assert book.refusal("LoanDisbursed", "L1", disburse).rule == "member_resigned"
    assert book.refusal("LoanApplied", "L2", APPLY).rule == "member_resigned"
    assert book.refusal("LoanApplied", "L3", {**APPLY, "member_id": "M9"}).rule == "unknown_member"
    book.record("LoanApplied", "L4", {**APPLY, "member_id": "M2"})


def test_a_sale_names_a_known_member_and_member_credit_needs_one() -> None:
    """`sale --member M-nobody` is refused; member credit without a member, or for a resigned
    member, is refused; a resigned member may still buy for cash."""
    book = with_members("M1")
    assert book.refusal("SaleRecorded", "SL1", sale(70_000, member_id="M-nobody")).rule == (
        "unknown_member"
    )
    credit = [{"method": "member_credit", "amount": 140_000}]
    assert book.refusal("SaleRecorded", "SL2", sale(70_000, payments=credit)).rule == (
        "member_missing"
    )
    book.record("SaleRecorded", "SL3", sale(70_000, member_id="M1"))
    resign(book)
    assert book.refusal("SaleRecorded", "SL4", sale(70_000, member_id="M1")).rule == (
        "member_resigned"
    )
    cash = [{"method": "cash", "amount": 140_000}]
    book.record("SaleRecorded", "SL5", sale(70_000, member_id="M1", payments=cash))


def test_a_price_other_than_the_price_set_needs_a_recorded_reason() -> None:
    """Selling at another price than PriceSet is refused unless the reason is given, and the
    reason is kept in the recorded event."""
    book = MemoryViews()
    book.record("PriceSet", "BERAS-5KG", {"sku": "BERAS-5KG", "unit_price": 72_000})
    refused = book.refusal("SaleRecorded", "SL1", sale(70_000))
    assert refused.rule == "price_mismatch" and "Rp72.000" in str(refused)
    book.record("SaleRecorded", "SL2", sale(72_000))
    ev = book.record(
        "SaleRecorded", "SL3", sale(70_000, price_override_reason="beras sedikit rusak")
    )
    assert ev.payload["price_override_reason"] == "beras sedikit rusak"
    book.record("SaleRecorded", "SL4", {**sale(9_000), "lines": [
        {"sku": "GULA-1KG", "qty": 2, "unit_price": 9_000}]})  # fmt: skip


def repay(book: MemoryViews, member: str, amount: int) -> Any:
    payload = {"amount": amount, "paid_on": "2026-02-01", "receipt_no": "KW-7"}
    return book.record("MemberCreditRepaid", member, payload)


def test_member_credit_is_a_receivable_paid_back_at_most_in_full() -> None:
    """A sale on member credit makes the member owe it; she repays part, then the rest;
    a repayment beyond what is owed is refused as `credit_overpaid`, saying what is owed."""
    book = with_members("M1", "M2")
    book.record("SaleRecorded", "SL1", sale(70_000, member_id="M1"))  # Rp140.000 on credit
    assert book["credit:M1"] == {"sold": 140_000, "repaid": 0, "owed": 140_000}
    repay(book, "M1", 40_000)
    refused = book.refusal(
        "MemberCreditRepaid", "M1", {"amount": 100_001, "paid_on": "2026-02-02", "receipt_no": "K"}
    )
    assert refused.rule == "credit_overpaid" and "Rp100.000" in str(refused)
    repay(book, "M1", 100_000)
    assert book["credit:M1"]["owed"] == 0
    assert (
        book.refusal(
            "MemberCreditRepaid", "M2", {"amount": 1, "paid_on": "2026-02-02", "receipt_no": "K"}
        ).rule
        == "credit_overpaid"
    )


def test_member_credit_repayment_names_a_known_member_who_may_have_resigned() -> None:
    """`credit repay M-nobody` is refused as `unknown_member`; a member who resigned still
    pays back what she owes."""
    book = with_members("M1")
    payload = {"amount": 1_000, "paid_on": "2026-02-01", "receipt_no": "KW-7"}
    assert book.refusal("MemberCreditRepaid", "M-nobody", payload).rule == "unknown_member"
    book.record("SaleRecorded", "SL1", sale(70_000, member_id="M1"))
    resign(book)
    repay(book, "M1", 140_000)
    assert book["credit:M1"] == {"sold": 140_000, "repaid": 140_000, "owed": 0}


def test_a_voided_credit_sale_is_no_longer_owed() -> None:
    """Voiding a sale on member credit takes it off what the member owes; a split payment
    owes only its member-credit part."""
    book = with_members("M1")
    book.record("SaleRecorded", "SL1", sale(70_000, member_id="M1"))
    split = [{"method": "cash", "amount": 100_000}, {"method": "member_credit", "amount": 40_000}]
    book.record("SaleRecorded", "SL2", sale(70_000, member_id="M1", payments=split))
    assert book["credit:M1"]["owed"] == 180_000
    book.record("SaleVoided", "SL1", {"reason": "batal"})
    assert book["credit:M1"] == {"sold": 40_000, "repaid": 0, "owed": 40_000}
    assert (
        book.refusal(
            "MemberCreditRepaid",
            "M1",
            {"amount": 40_001, "paid_on": "2026-02-01", "receipt_no": "K"},
        ).rule
        == "credit_overpaid"
    )
