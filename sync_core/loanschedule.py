"""Loan schedules, repayment allocation and arrears, in integer rupiah (pure).

Core-banking semantics, with Apache Fineract as the reference:

- **flat**: interest is charged on the original principal for the whole tenor,
  ``principal × rate × months / 12``, spread evenly over the instalments;
- **declining** (annuity): each month's interest is charged on the principal still
  outstanding, at ``rate / 12``, and every instalment is the same,
  ``P·r / (1 − (1 + r)^−n)``; a zero rate is repaid like a flat loan without interest.

Rounding, so that the instalments add up *exactly* to the principal and the interest:

- flat: the total interest is rounded down to the rupiah (never more than the contract);
  each instalment's principal and interest are the totals divided by the tenor, rounded
  down, and the last instalment takes what is left (it is never smaller than the others);
- declining: the equal instalment and each month's interest are rounded to the nearest
  rupiah (halves up, as banks' published tables do); principal = instalment − interest,
  and the last instalment repays the balance left, with its interest.

Due dates are ``first_due`` plus whole months, on the same day of the month or the
month's last day when it is shorter (31 January, 28 February, 31 March…).

Allocation of a repayment received on day ``d`` (interest due first, then principal):
first the unpaid interest of every instalment due by ``d``, oldest first; then their
unpaid principal, oldest first; then the instalments not yet due, in order, interest
then principal of each (a payment in advance); what is left after the last instalment
is an overpayment, kept apart (to be refunded, or credited as an advance).

Arrears on a date: the instalments due *before* it (an instalment is overdue from the
day after its due date) that the repayments dated up to that date did not pay in full;
days past due count from the oldest of them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

FLAT, DECLINING = "flat", "declining"
METHODS = (FLAT, DECLINING)
_YEAR_BP = 120_000  # basis points a year × 12 months: rate_bp / _YEAR_BP is the monthly rate


@dataclass(frozen=True, slots=True)
class Instalment:
    """One instalment of a schedule: its number (from 1), due date, principal and interest."""

    number: int
    due: str
    principal: int
    interest: int

    @property
    def total(self) -> int:
        return self.principal + self.interest


Schedule = tuple[Instalment, ...]


def add_months(day: str, months: int) -> str:
    """``day`` plus ``months`` months, clamped to the last day of a shorter month."""
    d = dt.date.fromisoformat(day)
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1])).isoformat()


def _nearest(x: Fraction) -> int:
    """``x`` rounded to the nearest integer, halves up (x is never negative here)."""
    return int(x + Fraction(1, 2)) if x >= 0 else -int(-x + Fraction(1, 2))


@lru_cache(maxsize=4096)
def schedule(amount: int, rate_bp: int, method: str, tenor_months: int, first_due: str) -> Schedule:
    """The repayment schedule of ``amount`` rupiah lent on the given terms."""
    if method not in METHODS:
        raise ValueError(f"unknown loan method {method!r}; one of {', '.join(METHODS)}")
    if tenor_months < 1:
        raise ValueError("a loan has at least one instalment")
    if amount < 0 or rate_bp < 0:
        raise ValueError("amount and rate are never negative")
    n = tenor_months
    dues = [add_months(first_due, k) for k in range(n)]
    if method == FLAT or rate_bp == 0:
        interest = amount * rate_bp * n // _YEAR_BP if method == FLAT else 0
        principals = _even(amount, n)
        interests = _even(interest, n)
        return tuple(Instalment(k + 1, dues[k], principals[k], interests[k]) for k in range(n))
    r = Fraction(rate_bp, _YEAR_BP)
    payment = _nearest(amount * r / (1 - (1 + r) ** -n))
    out: list[Instalment] = []
    balance = amount
    for k in range(n):
        interest = (2 * balance * rate_bp + _YEAR_BP) // (2 * _YEAR_BP)  # balance·r, halves up
        principal = balance if k == n - 1 else max(0, min(balance, payment - interest))
        out.append(Instalment(k + 1, dues[k], principal, interest))
        balance -= principal
    return tuple(out)


def _even(total: int, n: int) -> list[int]:
    """``total`` in ``n`` parts rounded down, the last taking the remainder."""
    part = total // n
    return [part] * (n - 1) + [total - part * (n - 1)]


def total_interest(sched: Schedule) -> int:
    return sum(i.interest for i in sched)


# --- allocation ---------------------------------------------------------------------------


@dataclass(slots=True)
class Position:
    """What has been paid of each instalment, and the overpayment beyond the schedule."""

    interest: list[int]
    principal: list[int]
    overpaid: int = 0

    @classmethod
    def empty(cls, sched: Schedule) -> Position:
        return cls([0] * len(sched), [0] * len(sched))


@dataclass(frozen=True, slots=True)
class Split:
    """How one repayment was allocated."""

    principal: int
    interest: int
    overpaid: int


def due_count(sched: Schedule, on: str) -> int:
    """How many instalments are due by business date ``on`` (due dates ascend)."""
    return bisect_right([i.due for i in sched], on)


def pay(sched: Schedule, pos: Position, amount: int, on: str) -> Split:
    """Allocate a repayment of ``amount`` received on ``on`` (mutates ``pos``)."""
    left = amount
    due = due_count(sched, on)
    got_interest = got_principal = 0
    for i in range(due):
        take = min(left, sched[i].interest - pos.interest[i])
        if take > 0:
            pos.interest[i] += take
            got_interest += take
            left -= take
    for i in range(due):
        take = min(left, sched[i].principal - pos.principal[i])
        if take > 0:
            pos.principal[i] += take
            got_principal += take
            left -= take
    for i in range(due, len(sched)):
        if left <= 0:
            break
        take = min(left, sched[i].interest - pos.interest[i])
        if take > 0:
            pos.interest[i] += take
            got_interest += take
            left -= take
        take = min(left, sched[i].principal - pos.principal[i])
        if take > 0:
            pos.principal[i] += take
            got_principal += take
            left -= take
    pos.overpaid += left
    return Split(got_principal, got_interest, left)


# --- arrears ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrears:
    """What is overdue on a date: days since the oldest unpaid due date, and the amounts."""

    days: int = 0
    principal: int = 0
    interest: int = 0
    oldest_due: str | None = None
    instalments: int = 0

    @property
    def amount(self) -> int:
        return self.principal + self.interest


def arrears(sched: Schedule, pos: Position, as_of: str) -> Arrears:
    """The arrears on ``as_of`` of a loan whose repayments dated by then left ``pos``."""
    oldest: str | None = None
    principal = interest = count = 0
    overdue = bisect_left([i.due for i in sched], as_of)
    for i in range(overdue):
        p = sched[i].principal - pos.principal[i]
        n = sched[i].interest - pos.interest[i]
        if p > 0 or n > 0:
            oldest = oldest or sched[i].due
            principal += p
            interest += n
            count += 1
    if oldest is None:
        return Arrears()
    days = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(oldest)).days
    return Arrears(days, principal, interest, oldest, count)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a schedule as a statement shows it: due, paid and left."""

    number: int
    due: str
    principal: int
    interest: int
    principal_paid: int
    interest_paid: int
    status: str


def statement_rows(sched: Schedule, pos: Position, as_of: str | None) -> list[Row]:
    """The schedule with what was paid of each instalment; status PAID, LATE or OPEN."""
    out = []
    for i, ins in enumerate(sched):
        paid_all = pos.principal[i] >= ins.principal and pos.interest[i] >= ins.interest
        late = not paid_all and as_of is not None and ins.due < as_of
        status = "PAID" if paid_all else "LATE" if late else "OPEN"
        paid = (pos.principal[i], pos.interest[i])
        out.append(Row(ins.number, ins.due, ins.principal, ins.interest, *paid, status))
    return out
