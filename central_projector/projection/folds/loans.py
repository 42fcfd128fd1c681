"""Loans: the portfolio, replayed in business-date order with core-banking semantics.

Conflict rules (after Apache Fineract's backdated-transaction replay):
- Terms come from the application and the approval (last by total order wins).
- Money events (disbursements, repayments, the write-off) are replayed in
  *business-date* order (``disbursed_on``, ``paid_on``, ``written_off_on``; ties by total
  order) through :mod:`sync_core.loanbook`, so an earlier-dated late arrival recomputes
  everything after it: the schedule is that of what was disbursed, on the approved terms
  (flat or declining balance, :mod:`sync_core.loanschedule`); a repayment pays interest
  due first, then principal, then instalments in advance, the rest is an overpayment.
- The first write-off in that order ends the loan: its amount is *recomputed* as the
  principal outstanding at that point (interest never earned is never a loss); every
  later repayment is a recovery (RECOVERY_AFTER_WRITE_OFF).
- A repayment dated before the write-off but recorded after it (a larger order key) is a
  late repayment: LATE_REPAYMENT, with the written-off amount as recorded and as
  recomputed.
- A reversal cancels the repayment it names, wherever it falls.
- Arrears, buckets and PAR30 are computed on principal *as of a chosen date*
  (:func:`as_of`, :func:`portfolio`): the book replayed from the movements dated by then.

Row ``loan`` (coop, loan_id) = terms, ``log`` (money events ``[date, okey, kind, amount,
event_id, ref]``, bounded by the tenor), the book's figures, ``alloc`` (what was paid of
each instalment: ``[interest…], [principal…]``) and ``by_year`` (per calendar year of
the business date: disbursed, principal, interest, overpaid, recovered, written off);
``plain`` (no write-off, no reversal) lets the latest repayment be allocated without a
replay.
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds.base import Event, Handler, Row, State
from central_projector.projection.folds.conflicts import found, report
from sync_core import loanbook as lb
from sync_core import loanschedule as ls

DISBURSE, REPAY, WRITE_OFF, REVERSE = lb.DISBURSE, lb.REPAY, lb.WRITE_OFF, "X"
FIGURES = ("disbursed", "principal_repaid", "interest_repaid", "overpaid", "written_off",
           "recovered", "recoveries")  # fmt: skip


def _loan(state: State, ev: Event) -> tuple[Row, tuple[str, str]]:
    key = (ev.coop_id, ev.aggregate_id)
    row = state.get("loan", key)
    if row is None:
        row = {
            "coop_id": key[0],
            "loan_id": key[1],
            "member_id": None,
            "requested": 0,
            "purpose": None,
            "applied_okey": None,
            "terms": None,
            "terms_okey": None,
            "log": [],
            "status": "UNKNOWN",
            "principal": 0,
            "method": None,
            "installment": 0,
            "first_due": None,
            "tenor_months": 0,
            "repaid": 0,
            "outstanding_principal": 0,
            "interest_charged": 0,
            "interest_outstanding": 0,
            "written_off_recorded": 0,
            "written_off_on": None,
            "alloc": None,
            "by_year": {},
            "plain": True,
            "conflicts": {},
            "dues": None,
            "unpaid_since": None,
            "last_day": None,
            **dict.fromkeys(FIGURES, 0),
        }
    return row, key


def applied(state: State, ev: Event) -> None:
    row, key = _loan(state, ev)
    if row["applied_okey"] is None or ev.okey > row["applied_okey"]:
        row["applied_okey"] = ev.okey
        row["member_id"] = ev.payload["member_id"]
        row["requested"] = ev.payload["amount_requested"]
        row["purpose"] = ev.payload["purpose"]
        if row["terms"] is None:
            row["tenor_months"] = ev.payload["tenor_months"]
    _derive(state, row, key)


def approved(state: State, ev: Event) -> None:
    row, key = _loan(state, ev)
    if row["terms_okey"] is None or ev.okey > row["terms_okey"]:
        row["terms_okey"] = ev.okey
        p = ev.payload
        row["terms"] = {
            "principal": p["principal"],
            "rate_bp": p["rate_bp"],
            "method": p["method"],
            "tenor_months": p["tenor_months"],
            "first_due": p["first_due"],
        }
    _derive(state, row, key)


def _money(kind: str, date_field: str | None) -> Handler:
    def handler(state: State, ev: Event) -> None:
        row, key = _loan(state, ev)
        if any(e[1] == ev.okey for e in row["log"]):
            return
        p = ev.payload
        ref = p.get("reversed_event_id")
        date = p[date_field] if date_field else ""
        entry = [date, ev.okey, kind, p["amount"], ev.event_id, ref]
        log = row["log"]
        if kind == REPAY and row["plain"] and (not log or log[-1][:2] < entry[:2]):
            # The usual case: the latest repayment of a loan with no write-off and no
            # reversal; the replay would only allocate it after all the others.
            log.append(entry)
            book = _restore(row)
            book.apply(lb.Movement(date, ev.okey, REPAY, p["amount"], ev.event_id))
            _store(row, book)
            _finish(state, row, key)
            return
        log.append(entry)
        log.sort()
        _derive(state, row, key)

    return handler


def terms_of(row: Row) -> lb.Terms | None:
    t = row["terms"]
    if t is None:
        return None
    return lb.Terms(t["rate_bp"], t["method"], t["tenor_months"], t["first_due"])


def movements(row: Row) -> list[lb.Movement]:
    """The loan's money movements, reversed repayments and reversals left out."""
    reversed_ids = {e[5] for e in row["log"] if e[2] == REVERSE}
    return [
        lb.Movement(date, okey, kind, amount, event_id)
        for date, okey, kind, amount, event_id, _ref in row["log"]
        if kind != REVERSE and event_id not in reversed_ids
    ]


def as_of(row: Row, day: str | None) -> lb.Book:
    """The loan's book replayed from the movements dated by ``day`` (all, without one)."""
    return lb.replay(terms_of(row), movements(row), day)


def _restore(row: Row) -> lb.Book:
    """The book as the row holds it (for allocating one more repayment at its end)."""
    sched = lb.schedule_of(terms_of(row), row["disbursed"])
    interest, principal = row["alloc"] or ([0] * len(sched), [0] * len(sched))
    book = lb.Book(sched, ls.Position(list(interest), list(principal), row["overpaid"]))
    for name in FIGURES:
        setattr(book, name, row[name])
    book.by_year = {y: list(v) for y, v in row["by_year"].items()}
    return book


def _store(row: Row, book: lb.Book) -> None:
    for name in FIGURES:
        row[name] = getattr(book, name)
    row["written_off_on"] = book.written_off_on
    row["repaid"] = book.principal_repaid + book.interest_repaid + book.overpaid
    row["outstanding_principal"] = book.outstanding_principal
    row["interest_charged"] = book.interest_charged
    row["interest_outstanding"] = book.interest_outstanding
    row["alloc"] = [book.position.interest, book.position.principal] if book.disbursed else None
    row["installment"] = book.schedule[0].total if row["terms"] and book.disbursed else 0
    row["by_year"] = book.by_year
    _store_dues(row, book)


def _store_dues(row: Row, book: lb.Book) -> None:
    """What the loan owes by instalment, for its arrears on any day after its last
    movement without a replay (:mod:`central_projector.reporting.loanbook`): ``dues``, the
    instalments not fully paid as ``[due, principal, interest]`` left, ``unpaid_since``
    the first one's due date, ``last_day`` the date of the latest movement."""
    dues: list[list[Any]] = []
    if not book.closed:
        pos = book.position
        for i, ins in enumerate(book.schedule):
            principal, interest = ins.principal - pos.principal[i], ins.interest - pos.interest[i]
            if principal > 0 or interest > 0:
                dues.append([ins.due, principal, interest])
    row["dues"] = dues or None
    row["unpaid_since"] = dues[0][0] if dues else None
    log = row["log"]  # in (date, order) order; a reversal's empty date sorts first
    row["last_day"] = log[-1][0] if log and log[-1][0] else None


def _derive(state: State, row: Row, key: tuple[str, str]) -> None:
    reversed_ids = {e[5] for e in row["log"] if e[2] == REVERSE}
    book = as_of(row, None)
    _store(row, book)
    recorded = next(
        (e[3] for e in row["log"] if e[2] == WRITE_OFF and [e[0], e[1]] ==
         [book.written_off_on, book.write_off_order]), 0
    )  # fmt: skip
    late: list[list[Any]] = []
    if book.closed:
        # Dated before the write-off but recorded after it: replayed before the
        # write-off above, so it lowered the recomputed amount.
        late = [
            [event_id, amount, date]
            for date, okey, kind, amount, event_id, _ref in row["log"]
            if kind == REPAY
            and event_id not in reversed_ids
            and date < book.written_off_on
            and okey > book.write_off_order
        ]
    row["plain"] = not book.closed and not reversed_ids
    row["written_off_recorded"] = recorded
    terms = row["terms"]
    if terms:
        row["principal"] = terms["principal"]
        row["method"] = terms["method"]
        row["tenor_months"] = terms["tenor_months"]
        row["first_due"] = terms["first_due"]
    items = []
    subject = f"loan:{row['coop_id']}:{row['loan_id']}"
    if late:
        detail = {
            "loan_id": row["loan_id"],
            "written_off_on": row["written_off_on"],
            "written_off_recorded": recorded,
            "written_off_recomputed": book.written_off,
            "late_repayments": sorted(late),
        }
        items.append(("LATE_REPAYMENT", subject, row["coop_id"], detail))
    if book.recovered:
        detail = {
            "loan_id": row["loan_id"],
            "recovered": book.recovered,
            "recoveries": book.recoveries,
        }
        items.append(("RECOVERY_AFTER_WRITE_OFF", subject, row["coop_id"], detail))
    report(state, row, found(*items))
    _finish(state, row, key)


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    status = _status(row)
    row["status"] = status
    state.put("loan", key, row)


def _status(row: Row) -> str:
    if row["written_off_on"] is not None:
        return "WRITTEN_OFF"
    if row["disbursed"]:
        if row["outstanding_principal"] or row["interest_outstanding"]:
            return "DISBURSED"
        return "OVERPAID" if row["overpaid"] else "PAID"
    if row["terms"]:
        return "APPROVED"
    return "APPLIED" if row["applied_okey"] else "UNKNOWN"


HANDLERS = {
    "LoanApplied": applied,
    "LoanApproved": approved,
    "LoanDisbursed": _money(DISBURSE, "disbursed_on"),
    "LoanRepaymentReceived": _money(REPAY, "paid_on"),
    "LoanRepaymentReversed": _money(REVERSE, None),
    "LoanWrittenOff": _money(WRITE_OFF, "written_off_on"),
}
