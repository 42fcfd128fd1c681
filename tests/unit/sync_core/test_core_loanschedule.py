"""Loan schedules, allocation and arrears: worked examples from published tables, and properties.

Published tables used here:

- Declining balance (annuity): Bank Indonesia, *Memahami Bunga Kredit* (consumer
  education leaflet, "Metode Anuitas"; reproduced at
  https://123dok.com/document/zxv8pkoy-produkhukum-bankindonesia.html): Rp24,000,000 over
  24 months at 10 % a year; instalment Rp1,107,478; month 1 interest Rp200,000 and
  principal Rp907,478 (balance Rp23,092,522); month 2 interest Rp192,438 and principal
  Rp915,040.
- Flat: Otoritas Jasa Keuangan, *Mengenal Otoritas Jasa Keuangan dan Industri Keuangan
  Non-Bank* (OJK's school book series, "Ilustrasi Tabel Angsuran Pembiayaan", p. 114;
  https://fliphtml5.com/shto/omyt/Mengenal_Otoritas_Jasa_Keuangan/140): Rp12,000,000 over
  12 months at a flat 17 % a year; interest Rp2,040,000; instalment Rp1,170,000.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_core import loanschedule as ls


def test_annuity_matches_bank_indonesias_published_table() -> None:
    """Rp24,000,000, 24 months, 10 %: instalment and the first two months as BI prints them."""
    s = ls.schedule(24_000_000, 1000, "declining", 24, "2026-02-15")
    assert (s[0].interest, s[0].principal, s[0].total) == (200_000, 907_478, 1_107_478)
    assert 24_000_000 - s[0].principal == 23_092_522
    assert (s[1].interest, s[1].principal, s[1].total) == (192_438, 915_040, 1_107_478)
    assert all(i.total == 1_107_478 for i in s[:-1])
    assert sum(i.principal for i in s) == 24_000_000
    # the last instalment repays the balance left: a few rupiah of rounding, never more
    assert abs(s[-1].total - 1_107_478) <= 24


def test_flat_matches_ojks_published_table() -> None:
    """Rp12,000,000, 12 months, flat 17 %: Rp170,000 interest a month, Rp1,170,000 an instalment."""
    s = ls.schedule(12_000_000, 1700, "flat", 12, "2026-01-31")
    assert ls.total_interest(s) == 2_040_000
    assert {(i.principal, i.interest, i.total) for i in s} == {(1_000_000, 170_000, 1_170_000)}


def test_declining_interest_is_charged_on_the_balance_not_the_principal() -> None:
    """Rp1.2M at 12 % over 12 months: declining interest is Rp79,423, flat would be Rp144,000."""
    declining = ls.schedule(1_200_000, 1200, "declining", 12, "2026-02-01")
    flat = ls.schedule(1_200_000, 1200, "flat", 12, "2026-02-01")
    assert ls.total_interest(flat) == 144_000
    assert ls.total_interest(declining) == 79_423
    assert declining[0].interest == 12_000  # 1 % of the whole principal in month one
    assert declining[-1].interest == 1_056  # 1 % of what is left in the last month


def test_flat_rounding_puts_the_remainder_on_the_last_instalment() -> None:
    """Rp1,000,000 in 12: eleven instalments of Rp83,333 principal and a last of Rp83,337."""
    s = ls.schedule(1_000_000, 1200, "flat", 12, "2026-02-01")
    assert [i.principal for i in s] == [83_333] * 11 + [83_337]
    assert [i.interest for i in s] == [10_000] * 12


def test_due_dates_keep_the_day_or_take_the_months_last() -> None:
    """A first due date on the 31st falls on 28 February, then 31 March again."""
    s = ls.schedule(300_000, 0, "flat", 3, "2026-01-31")
    assert [i.due for i in s] == ["2026-01-31", "2026-02-28", "2026-03-31"]


@given(
    amount=st.integers(1, 10**10),
    rate=st.integers(0, 10_000),
    method=st.sampled_from(ls.METHODS),
    tenor=st.integers(1, 60),
)
def test_instalments_add_up_exactly_and_are_never_negative(
    amount: int, rate: int, method: str, tenor: int
) -> None:
    """Σ principal = the amount; flat Σ interest = the flat formula rounded down; no part < 0."""
    s = ls.schedule(amount, rate, method, tenor, "2026-03-10")
    assert len(s) == tenor
    assert sum(i.principal for i in s) == amount
    assert all(i.principal >= 0 and i.interest >= 0 for i in s)
    assert [i.due for i in s] == sorted(i.due for i in s)
    if method == "flat":
        assert ls.total_interest(s) == amount * rate * tenor // 120_000


def test_a_repayment_pays_interest_due_first_then_principal_then_in_advance() -> None:
    """Two instalments overdue: a partial payment clears both interests before any principal."""
    s = ls.schedule(1_200_000, 1200, "flat", 12, "2026-02-01")  # 100,000 + 12,000 a month
    pos = ls.Position.empty(s)
    split = ls.pay(s, pos, 30_000, "2026-03-05")
    assert split == ls.Split(principal=6_000, interest=24_000, overpaid=0)
    assert pos.interest[:3] == [12_000, 12_000, 0]
    assert pos.principal[:2] == [6_000, 0]
    more = ls.pay(s, pos, 300_000, "2026-03-06")  # the rest of both, then month 3 in advance
    assert more == ls.Split(principal=288_000, interest=12_000, overpaid=0)
    assert pos.principal[:2] == [100_000, 100_000]
    assert (pos.interest[2], pos.principal[2]) == (12_000, 94_000)
    assert pos.interest[3] == 0


def test_an_overpayment_is_kept_apart() -> None:
    """Paying more than the whole schedule leaves the excess as overpaid."""
    s = ls.schedule(100_000, 1200, "flat", 2, "2026-02-01")
    pos = ls.Position.empty(s)
    split = ls.pay(s, pos, 150_000, "2026-01-20")
    assert split == ls.Split(principal=100_000, interest=2_000, overpaid=48_000)
    assert pos.overpaid == 48_000


def test_arrears_count_from_the_day_after_the_oldest_unpaid_due_date() -> None:
    """Due 1 Feb and 1 Mar, only February paid: 30 days late on 31 March, nothing on 1 March."""
    s = ls.schedule(1_200_000, 1200, "flat", 12, "2026-02-01")
    pos = ls.Position.empty(s)
    ls.pay(s, pos, 112_000, "2026-02-01")
    assert ls.arrears(s, pos, "2026-03-01") == ls.Arrears()
    late = ls.arrears(s, pos, "2026-03-31")
    assert (late.days, late.principal, late.interest, late.oldest_due) == (
        30, 100_000, 12_000, "2026-03-01"
    )  # fmt: skip
    rows = ls.statement_rows(s, pos, "2026-03-31")
    assert [r.status for r in rows[:3]] == ["PAID", "LATE", "OPEN"]


@given(
    amount=st.integers(1, 10**9),
    rate=st.integers(0, 3000),
    method=st.sampled_from(ls.METHODS),
    tenor=st.integers(1, 24),
    payments=st.lists(st.tuples(st.integers(0, 800), st.integers(1, 10**8)), max_size=12),
)
def test_allocation_conserves_every_rupiah(
    amount: int, rate: int, method: str, tenor: int, payments: list[tuple[int, int]]
) -> None:
    """Each repayment splits exactly; nothing is paid beyond what an instalment owes."""
    import datetime as dt

    s = ls.schedule(amount, rate, method, tenor, "2026-02-01")
    pos = ls.Position.empty(s)
    for offset, value in sorted(payments):
        on = (dt.date(2026, 1, 1) + dt.timedelta(days=offset)).isoformat()
        split = ls.pay(s, pos, value, on)
        assert split.principal + split.interest + split.overpaid == value
    assert all(0 <= p <= i.principal for p, i in zip(pos.principal, s, strict=True))
    assert all(0 <= n <= i.interest for n, i in zip(pos.interest, s, strict=True))
    paid = sum(pos.principal) + sum(pos.interest) + pos.overpaid
    assert paid == sum(v for _, v in payments)
    if pos.overpaid:
        assert sum(pos.principal) == amount and sum(pos.interest) == ls.total_interest(s)
