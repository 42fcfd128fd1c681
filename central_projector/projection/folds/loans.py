"""Loans: the portfolio, replayed in business-date order.

Conflict rules (BRIEF §5, after Apache Fineract's backdated-transaction replay):
- Terms come from the application and the approval (last by total order wins).
- Money events (disbursements, repayments, the write-off) are replayed in
  *business-date* order (``disbursed_on``, ``paid_on``, ``written_off_on``; ties by total
  order), so an earlier-dated late arrival recomputes everything after it.
- The first write-off in that order ends the loan: its amount is *recomputed* as the
  outstanding at that point; every later repayment is a recovery
  (RECOVERY_AFTER_WRITE_OFF).
- A repayment dated before the write-off but recorded after it (a larger order
  key) is a late repayment: LATE_REPAYMENT, with the written-off amount as recorded and
  as recomputed.
- A reversal cancels the repayment it names, wherever it falls.
- Outstanding = disbursed + flat interest on it − repaid (the simulator's and the
  tellers' schedule: principal × rate × tenor / 12); arrears are computed as of the
  cooperative's latest business date (:func:`arrears`).

Row ``loan`` (coop, loan_id) = terms, ``log`` (money events ``[date, okey, kind, amount,
event_id, ref]``, bounded by the tenor) and the derived portfolio fields; ``plain`` (no
write-off, no reversal) lets the latest repayment be added without a replay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from central_projector.projection.folds.base import Event, Handler, Row, State
from central_projector.projection.folds.conflicts import found, report

DISBURSE, REPAY, WRITE_OFF, REVERSE = "D", "R", "W", "X"


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
            "disbursed": 0,
            "interest": 0,
            "repaid": 0,
            "outstanding": 0,
            "written_off": 0,
            "written_off_recorded": 0,
            "written_off_on": None,
            "recovered": 0,
            "installment": 0,
            "first_due": None,
            "tenor_months": 0,
            "plain": True,
            "conflicts": {},
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
            # reversal; the replay would only add it at the end.
            log.append(entry)
            row["repaid"] += entry[3]
            _finish(state, row, key)
            return
        log.append(entry)
        log.sort()
        _derive(state, row, key)

    return handler


def _derive(state: State, row: Row, key: tuple[str, str]) -> None:
    terms = row["terms"]
    rate, tenor = (terms["rate_bp"], terms["tenor_months"]) if terms else (0, 1)
    reversed_ids = {e[5] for e in row["log"] if e[2] == REVERSE}
    disbursed = repaid = recovered = written_off = recorded = 0
    write_off: list[Any] | None = None
    late: list[list[Any]] = []
    recoveries = 0
    for date, okey, kind, amount, event_id, _ref in row["log"]:
        if kind == REVERSE or event_id in reversed_ids:
            continue
        if kind == DISBURSE:
            disbursed += amount
        elif kind == REPAY:
            if write_off is None:
                repaid += amount
            else:
                recovered += amount
                recoveries += 1
        elif kind == WRITE_OFF and write_off is None:
            write_off = [date, okey]
            recorded = amount
            written_off = max(0, disbursed + _interest(disbursed, rate, tenor) - repaid)
    # Dated before the write-off but recorded after it: replayed before the write-off
    # above, so it lowered the recomputed amount.
    if write_off is not None:
        late = [
            [event_id, amount, date]
            for date, okey, kind, amount, event_id, _ref in row["log"]
            if kind == REPAY
            and event_id not in reversed_ids
            and date < write_off[0]
            and okey > write_off[1]
        ]
    interest = _interest(disbursed, rate, tenor)
    row["plain"] = write_off is None and not reversed_ids
    row["disbursed"] = disbursed
    row["interest"] = interest
    row["repaid"] = repaid
    row["recovered"] = recovered
    row["written_off"] = written_off
    row["written_off_recorded"] = recorded
    row["written_off_on"] = write_off[0] if write_off else None
    if terms:
        row["principal"] = terms["principal"]
        row["tenor_months"] = tenor
        row["first_due"] = terms["first_due"]
        row["installment"] = -(-(disbursed + interest) // tenor)
    items = []
    subject = f"loan:{row['coop_id']}:{row['loan_id']}"
    if late:
        detail = {
            "loan_id": row["loan_id"],
            "written_off_on": row["written_off_on"],
            "written_off_recorded": recorded,
            "written_off_recomputed": written_off,
            "late_repayments": sorted(late),
        }
        items.append(("LATE_REPAYMENT", subject, row["coop_id"], detail))
    if recovered:
        detail = {"loan_id": row["loan_id"], "recovered": recovered, "recoveries": recoveries}
        items.append(("RECOVERY_AFTER_WRITE_OFF", subject, row["coop_id"], detail))
    report(state, row, found(*items))
    _finish(state, row, key)


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    written_off = row["written_off_on"] is not None
    disbursed, interest = row["disbursed"], row["interest"]
    row["outstanding"] = 0 if written_off else max(0, disbursed + interest - row["repaid"])
    row["status"] = (
        "WRITTEN_OFF"
        if written_off
        else "PAID"
        if disbursed and row["outstanding"] == 0
        else "DISBURSED"
        if disbursed
        else "APPROVED"
        if row["terms"]
        else "APPLIED"
        if row["applied_okey"]
        else "UNKNOWN"
    )
    state.put("loan", key, row)


def _interest(amount: int, rate_bp: int, tenor: int) -> int:
    return amount * rate_bp * tenor // 120_000


def arrears(row: Row, as_of: str | None) -> tuple[int, int]:
    """(days past due, amount in arrears) of a running loan on business date ``as_of``."""
    if row["status"] != "DISBURSED" or not row["first_due"] or not as_of:
        return 0, 0
    first = dt.date.fromisoformat(row["first_due"])
    today = dt.date.fromisoformat(as_of)
    installment, tenor = row["installment"], max(1, row["tenor_months"])
    due_count = 0
    while due_count < tenor and _add_months(first, due_count) <= today:
        due_count += 1
    expected = min(row["disbursed"] + row["interest"], installment * due_count)
    behind = expected - row["repaid"]
    if behind <= 0:
        return 0, 0
    # the oldest due date not covered by what was repaid
    covered = row["repaid"] // installment if installment else 0
    oldest_unpaid = _add_months(first, covered)
    return (today - oldest_unpaid).days, behind


def _add_months(day: dt.date, months: int) -> dt.date:
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    return dt.date(year, month, min(day.day, 28))


BUCKETS = (("current", 0, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90))


def portfolio(loans: list[Row], as_of: str | None) -> dict[str, Any]:
    """Outstanding, arrears buckets, PAR30 (basis points), write-offs and recoveries."""
    buckets = {name: 0 for name, _, _ in BUCKETS} | {"90+": 0}
    outstanding = par30 = 0
    for row in loans:
        if row["status"] != "DISBURSED":
            continue
        days, _ = arrears(row, as_of)
        outstanding += row["outstanding"]
        name = next((n for n, lo, hi in BUCKETS if lo <= days <= hi), "90+")
        buckets[name] += row["outstanding"]
        if days > 30:
            par30 += row["outstanding"]
    return {
        "as_of": as_of,
        "loans": len(loans),
        "outstanding": outstanding,
        "arrears_buckets": buckets,
        "par30_bp": par30 * 10_000 // outstanding if outstanding else 0,
        "written_off": sum(r["written_off"] for r in loans),
        "written_off_loans": sum(1 for r in loans if r["status"] == "WRITTEN_OFF"),
        "recovered": sum(r["recovered"] for r in loans),
        "disbursed": sum(r["disbursed"] for r in loans),
        "repaid": sum(r["repaid"] for r in loans),
    }


HANDLERS = {
    "LoanApplied": applied,
    "LoanApproved": approved,
    "LoanDisbursed": _money(DISBURSE, "disbursed_on"),
    "LoanRepaymentReceived": _money(REPAY, "paid_on"),
    "LoanRepaymentReversed": _money(REVERSE, None),
    "LoanWrittenOff": _money(WRITE_OFF, "written_off_on"),
}
