"""A loan's book: its money movements replayed in business-date order (pure).

The edge (a member's statement, shown offline) and the central (the loan portfolio)
both use this, so they agree to the rupiah.

- Movements are disbursements (``D``), repayments (``R``) and write-offs (``W``), each
  with its business date, replayed by ``(date, order)``: ``order`` breaks ties (the
  central's total-order key). Reversed repayments are left out by the caller.
- The schedule is that of everything disbursed among the movements, on the approved
  terms (:mod:`sync_core.loanschedule`). Without terms (the approval not known yet) the
  disbursed principal is one instalment that never falls due: repayments go to
  principal, nothing is in arrears.
- A repayment before the write-off is allocated by the schedule: interest due first,
  then principal, then instalments in advance, the rest an overpayment.
- The first write-off writes off the principal not repaid by then (of everything
  disbursed) and closes the loan. Interest not paid by then is no longer charged: it
  was never earned, so it is never a loss. Repayments after it are recoveries; a later
  write-off changes nothing.

Conservation (checked by the tests from the events alone): disbursed = principal repaid
+ principal written off + outstanding principal; interest charged = interest repaid +
interest outstanding; every repayment = principal + interest + overpaid, or a recovery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sync_core import loanschedule as ls

DISBURSE, REPAY, WRITE_OFF = "D", "R", "W"
NEVER = "9999-12-31"  # the due date of principal lent on terms not known yet
BY_YEAR_FIELDS = ("disbursed", "principal", "interest", "overpaid", "recovered", "written_off")


class Terms(NamedTuple):
    """The approved terms (the amount scheduled is what was disbursed)."""

    rate_bp: int
    method: str
    tenor_months: int
    first_due: str


class Movement(NamedTuple):
    """One money movement of a loan."""

    on: str
    order: Any  # sorts ties on ``on``; the central uses the event's order key
    kind: str
    amount: int
    ref: str = ""


def schedule_of(terms: Terms | None, disbursed: int) -> ls.Schedule:
    if terms is None:
        return (ls.Instalment(1, NEVER, disbursed, 0),)
    return ls.schedule(disbursed, terms.rate_bp, terms.method, terms.tenor_months, terms.first_due)


@dataclass(slots=True)
class Book:
    """A loan's figures after some movements (see the module docstring)."""

    schedule: ls.Schedule
    position: ls.Position
    disbursed: int = 0
    principal_repaid: int = 0
    interest_repaid: int = 0
    overpaid: int = 0
    written_off: int = 0
    written_off_on: str | None = None
    write_off_order: Any = None
    recovered: int = 0
    recoveries: int = 0
    by_year: dict[str, list[int]] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.written_off_on is not None

    @property
    def outstanding_principal(self) -> int:
        """Σ principal of the schedule not yet paid, less what was written off."""
        unpaid = sum(i.principal for i in self.schedule) - sum(self.position.principal)
        return unpaid - self.written_off

    @property
    def interest_charged(self) -> int:
        """The schedule's interest; once written off, only what was paid before."""
        return self.interest_repaid if self.closed else ls.total_interest(self.schedule)

    @property
    def interest_outstanding(self) -> int:
        return self.interest_charged - self.interest_repaid

    @property
    def status(self) -> str:
        """WRITTEN_OFF, OVERPAID, PAID, DISBURSED, or NONE when nothing was paid out."""
        if self.closed:
            return "WRITTEN_OFF"
        if not self.disbursed:
            return "NONE"
        if self.outstanding_principal or self.interest_outstanding:
            return "DISBURSED"
        return "OVERPAID" if self.overpaid else "PAID"

    def _year(self, on: str, column: str, amount: int) -> None:
        if amount:
            row = self.by_year.setdefault(on[:4], [0] * len(BY_YEAR_FIELDS))
            row[BY_YEAR_FIELDS.index(column)] += amount

    def apply(self, m: Movement) -> ls.Split | None:
        """Apply one movement, later than every one applied so far; a repayment's split."""
        if m.kind == DISBURSE:
            self.disbursed += m.amount
            self._year(m.on, "disbursed", m.amount)
        elif m.kind == WRITE_OFF and not self.closed:
            self.written_off = sum(i.principal for i in self.schedule) - sum(
                self.position.principal
            )
            self.written_off_on, self.write_off_order = m.on, m.order
            self._year(m.on, "written_off", self.written_off)
        elif m.kind == REPAY and self.closed:
            self.recovered += m.amount
            self.recoveries += 1
            self._year(m.on, "recovered", m.amount)
        elif m.kind == REPAY:
            split = ls.pay(self.schedule, self.position, m.amount, m.on)
            self.principal_repaid += split.principal
            self.interest_repaid += split.interest
            self.overpaid += split.overpaid
            self._year(m.on, "principal", split.principal)
            self._year(m.on, "interest", split.interest)
            self._year(m.on, "overpaid", split.overpaid)
            return split
        return None

    def arrears(self, as_of: str) -> ls.Arrears:
        """What is overdue on ``as_of`` (nothing once written off)."""
        return ls.Arrears() if self.closed else ls.arrears(self.schedule, self.position, as_of)


def ordered(movements: Iterable[Movement], as_of: str | None = None) -> list[Movement]:
    """The movements dated by ``as_of`` (all without it), in replay order."""
    chosen = [m for m in movements if as_of is None or m.on <= as_of]
    chosen.sort(key=lambda m: (m.on, m.order))
    return chosen


def replay(terms: Terms | None, movements: Iterable[Movement], as_of: str | None = None) -> Book:
    """The book of a loan from its movements dated by ``as_of`` (all of them without it)."""
    moves = ordered(movements, as_of)
    disbursed = sum(m.amount for m in moves if m.kind == DISBURSE)
    sched = schedule_of(terms, disbursed)
    book = Book(sched, ls.Position.empty(sched))
    for m in moves:
        book.apply(m)
    return book
