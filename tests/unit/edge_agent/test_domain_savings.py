"""Savings rules: accounts, deposits, withdrawals, reversals, and conservation of money."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from support.members import with_members

from edge_agent.domain.memory import MemoryViews
from sync_core.errors import RuleViolation


def opened(account: str = "S1") -> MemoryViews:
    book = with_members("M1", "M2")
    book.record(
        "SavingsAccountOpened",
        account,
        {"member_id": "M1", "product": "SUKARELA", "opened_on": "2026-01-05"},
    )
    return book


def deposit(book: MemoryViews, amount: int, account: str = "S1") -> str:
    return book.record("SavingsDeposited", account, {"amount": amount, "receipt_no": "R"}).event_id


def withdraw(book: MemoryViews, amount: int, account: str = "S1") -> str:
    return book.record("SavingsWithdrawn", account, {"amount": amount, "receipt_no": "R"}).event_id


def reversal(event_id: str, kind: str, amount: int) -> dict[str, object]:
    return {"reversed_event_id": event_id, "kind": kind, "amount": amount, "reason": "typo"}


def balance(book: MemoryViews, account: str = "S1") -> int:
    view = book.view(f"savings:{account}")
    assert view is not None
    return int(view["balance"])


def test_deposit_and_withdraw_move_the_balance() -> None:
    """Deposits add to the balance and withdrawals take from it."""
    book = opened()
    deposit(book, 100_000)
    withdraw(book, 30_000)
    assert balance(book) == 70_000
    assert book.view("savings:S1") == {"member_id": "M1", "product": "SUKARELA", "balance": 70_000}


def test_open_twice_is_refused() -> None:
    """An account number already open on this device cannot be opened again."""
    book = opened()
    payload = {"member_id": "M2", "product": "WAJIB", "opened_on": "2026-01-06"}
    assert book.refusal("SavingsAccountOpened", "S1", payload).rule == "duplicate_account"


def test_money_on_an_unknown_account_is_refused() -> None:
    """Deposits, withdrawals and reversals on an account not opened here are refused."""
    book = opened()
    deposited = deposit(book, 10_000)
    payloads = {
        "SavingsDeposited": {"amount": 1, "receipt_no": "R"},
        "SavingsWithdrawn": {"amount": 1, "receipt_no": "R"},
        "SavingsTransactionReversed": reversal(deposited, "DEPOSIT", 10_000),
    }
    for event_type, payload in payloads.items():
        assert book.refusal(event_type, "S9", payload).rule == "unknown_account"


def test_withdrawal_beyond_balance_is_refused_with_both_amounts() -> None:
    """A withdrawal above the balance is refused, and the message shows both in rupiah."""
    book = opened()
    deposit(book, 30_000)
    refusal = book.refusal("SavingsWithdrawn", "S1", {"amount": 50_000, "receipt_no": "R"})
    assert refusal.rule == "insufficient_balance"
    assert "Rp50.000" in str(refusal) and "Rp30.000" in str(refusal)
    withdraw(book, 30_000)
    assert balance(book) == 0


def test_reversing_a_deposit_and_a_withdrawal() -> None:
    """A reversal undoes its transaction's effect on the balance and marks it reversed."""
    book = opened()
    d = deposit(book, 100_000)
    w = withdraw(book, 40_000)
    book.record("SavingsTransactionReversed", "S1", reversal(w, "WITHDRAWAL", 40_000))
    assert balance(book) == 100_000
    r = book.record("SavingsTransactionReversed", "S1", reversal(d, "DEPOSIT", 100_000))
    assert balance(book) == 0
    assert book[f"tx:{d}"]["reversed_by"] == r.event_id


def test_reversal_of_an_unknown_transaction_is_refused() -> None:
    """A reversal must name a transaction of this very account."""
    book = opened()
    book.record(
        "SavingsAccountOpened",
        "S2",
        {"member_id": "M1", "product": "POKOK", "opened_on": "2026-01-05"},
    )
    other = deposit(book, 10_000, account="S2")
    for target in ("ev-nothing", other):
        refusal = book.refusal(
            "SavingsTransactionReversed", "S1", reversal(target, "DEPOSIT", 10_000)
        )
        assert refusal.rule == "unknown_transaction"


def test_reversal_with_wrong_kind_or_amount_is_refused() -> None:
    """A reversal must repeat its transaction's kind and amount."""
    book = opened()
    d = deposit(book, 10_000)
    for kind, amount in (("WITHDRAWAL", 10_000), ("DEPOSIT", 9_000)):
        refusal = book.refusal("SavingsTransactionReversed", "S1", reversal(d, kind, amount))
        assert refusal.rule == "unknown_transaction"


def test_reversing_twice_is_refused() -> None:
    """A transaction is reversed at most once."""
    book = opened()
    d = deposit(book, 10_000)
    book.record("SavingsTransactionReversed", "S1", reversal(d, "DEPOSIT", 10_000))
    refusal = book.refusal("SavingsTransactionReversed", "S1", reversal(d, "DEPOSIT", 10_000))
    assert refusal.rule == "already_reversed"


def test_reversing_a_spent_deposit_is_refused() -> None:
    """Reversing a deposit that was already withdrawn would make the balance negative."""
    book = opened()
    d = deposit(book, 10_000)
    withdraw(book, 8_000)
    refusal = book.refusal("SavingsTransactionReversed", "S1", reversal(d, "DEPOSIT", 10_000))
    assert refusal.rule == "insufficient_balance"


commands = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(1, 200_000)),
        st.tuples(st.just("withdraw"), st.integers(1, 200_000)),
        st.tuples(st.just("reverse"), st.integers(0, 30)),
    ),
    max_size=40,
)


@given(commands)
def test_balance_is_never_negative_and_equals_accepted_movements(
    steps: list[tuple[str, int]],
) -> None:
    """For any command sequence, the balance stays ≥ 0 and equals the sum of accepted movements."""
    book = opened()
    accepted: list[tuple[str, str, int]] = []  # (event id, kind, signed effect)
    effect = 0
    for action, n in steps:
        try:
            if action == "deposit":
                accepted.append((deposit(book, n), "DEPOSIT", n))
                effect += n
            elif action == "withdraw":
                accepted.append((withdraw(book, n), "WITHDRAWAL", -n))
                effect -= n
            elif accepted:
                event_id, kind, signed = accepted[n % len(accepted)]
                book.record(
                    "SavingsTransactionReversed", "S1", reversal(event_id, kind, abs(signed))
                )
                effect -= signed
        except RuleViolation:
            pass
        assert balance(book) == effect
        assert effect >= 0
