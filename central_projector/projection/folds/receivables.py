"""Member credit: what each member owes her cooperative for goods bought on credit.

Conflict rules:
- A sale paid (in part) by ``member_credit`` adds that part to the receivable (piutang
  anggota) of the member it names, on the sale's day (the local day of its HLC wall time,
  as in the sale figures). As there (:mod:`.shop_stock`), only the first recording of a
  sale id counts and a voided sale counts nothing. A credit sale naming no member (the
  edge refuses one; only a sale recorded before that rule can) is kept under the member
  id ``""``, so no rupiah of credit is lost.
- ``MemberCreditRepaid`` (aggregate id = the member id) pays it down on its business
  date ``paid_on``; a repayment is never rejected.
- ``MemberCreditRepaymentReversed`` cancels the repayment it names (``reversed_event_id``)
  wherever it falls, as a loan repayment's reversal does: the repayment then counts
  nothing, on no day, so every figure dated by it (by year, as of a day, the roll-up) is
  as if it had never been recorded, and the member owes it again. It cancels only a
  repayment of the same member at the same cooperative, and only once: a reversal
  arriving before its repayment waits for it (the repayment never counts), a second
  reversal of one repayment, or one naming no repayment of that member, changes nothing
  (both are kept in the repayment's row). A reversal is never rejected.
- Repaid beyond what was sold raises CREDIT_OVERPAID (the member, sold, repaid, the
  excess) for as long as it lasts: two counters took the same debt offline, or a sale was
  voided after it had been repaid. The office refunds the excess or keeps it as an
  advance; that decision is a ``ConflictResolved``.
- Every figure is a sum, so the row is a function of the set of events, in any order.

Rows:
- ``receivable`` (coop, member_id) = ``{sold, sales, repaid, repayments, outstanding,
  overpaid, by_year: {YYYY: [sold, repaid]}, asof: {days: {YYYY-MM-DD: [sold, repaid,
  sales, repayments]}}, conflicts}``, where ``sold + overpaid = repaid + outstanding`` and
  at most one of ``outstanding`` and ``overpaid`` is not zero; a row with neither a live
  credit sale nor a repayment is deleted. ``asof`` keeps each day's sums so that
  :func:`as_of` gives the row at the end of any day (the ministry export's date).
- ``credit_repayment`` (coop, event_id of the repayment) = ``{member_id, day, amount,
  seen, reversals: [[okey, event_id, member_id]…]}``: what the repayment was (``seen``
  false until it arrives) and the reversals naming it, in total order; it counts when
  seen and no reversal of its member names it.
- Dated figures (the roll-up's ``shop`` section): ``shop.credit_sold`` on each sale's
  day and ``shop.credit_repaid`` on each repayment's.
"""

from __future__ import annotations

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Event, Row, State
from central_projector.projection.folds.conflicts import found, report

SOLD, REPAID = 0, 1  # places in a by_year entry
NO_MEMBER = ""


def _row(state: State, key: tuple[str, str]) -> Row:
    return state.get("receivable", key) or {
        "coop_id": key[0],
        "member_id": key[1],
        "sold": 0,
        "sales": 0,
        "repaid": 0,
        "repayments": 0,
        "outstanding": 0,
        "overpaid": 0,
        "by_year": {},
        "asof": {"days": {}},
        "conflicts": {},
    }


def _add(state: State, coop: str, member: str, day: str, place: int, amount: int) -> None:
    key = (coop, member)
    row = _row(state, key)
    name, count = ("sold", "sales") if place == SOLD else ("repaid", "repayments")
    row[name] += amount
    row[count] += 1 if amount > 0 else -1
    year = row["by_year"].setdefault(day[:4], [0, 0])
    year[place] += amount
    if not any(year):
        del row["by_year"][day[:4]]
    days = row["asof"]["days"]
    cell = days.setdefault(day, [0, 0, 0, 0])
    cell[place] += amount
    cell[2 + place] += 1 if amount > 0 else -1
    if not any(cell):
        del days[day]
    state.add_day("receivable", coop, day, f"shop.credit_{name}", amount)
    _finish(state, row, key)


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    row["outstanding"] = max(row["sold"] - row["repaid"], 0)
    row["overpaid"] = max(row["repaid"] - row["sold"], 0)
    items = []
    if row["overpaid"]:
        detail = {"member_id": key[1], "sold": row["sold"], "repaid": row["repaid"],
                  "overpaid": row["overpaid"]}  # fmt: skip
        items.append(("CREDIT_OVERPAID", f"credit:{key[0]}:{key[1]}", key[0], detail))
    report(state, row, found(*items))
    if row["sales"] or row["repayments"]:
        state.put("receivable", key, row)
    else:
        state.delete("receivable", key)


def as_of(row: Row, day: str) -> Row | None:
    """The receivable at the end of ``day`` (credit sales on their days and repayments on
    their ``paid_on`` up to it); ``None`` when nothing of it is dated by then."""
    sums = [0, 0, 0, 0]
    for d, cell in (row.get("asof") or {}).get("days", {}).items():
        if d <= day:
            sums = [a + b for a, b in zip(sums, cell, strict=True)]
    sold, repaid, sales, repayments = sums
    if not sales and not repayments:
        return None
    return {**row, "sold": sold, "repaid": repaid, "sales": sales, "repayments": repayments,
            "outstanding": max(sold - repaid, 0), "overpaid": max(repaid - sold, 0)}  # fmt: skip


def sale_credit(state: State, sale: Row, sign: int) -> None:
    """Count a live sale's member credit (``sign`` +1), or take it back (-1)."""
    if sale["credit"]:
        member = sale["member_id"] or NO_MEMBER
        _add(state, sale["coop_id"], member, sale["day"], SOLD, sign * sale["credit"])


def _repayment(state: State, coop: str, event_id: str) -> Row:
    return state.get("credit_repayment", (coop, event_id)) or {
        "coop_id": coop,
        "event_id": event_id,
        "member_id": None,
        "day": None,
        "amount": 0,
        "seen": False,
        "reversals": [],
    }


def _counts(rep: Row) -> bool:
    return bool(rep["seen"]) and not any(r[2] == rep["member_id"] for r in rep["reversals"])


def _count(state: State, rep: Row, sign: int) -> None:
    _add(state, rep["coop_id"], rep["member_id"], rep["day"], REPAID, sign * rep["amount"])


def credit_repaid(state: State, ev: Event) -> None:
    rep = _repayment(state, ev.coop_id, ev.event_id)
    if rep["seen"]:
        return  # the event id is the idempotency key: one repayment per id
    rep.update(member_id=ev.aggregate_id, day=daily.event_day(ev), amount=ev.payload["amount"],
               seen=True)  # fmt: skip
    if _counts(rep):
        _count(state, rep, +1)
    state.put("credit_repayment", (ev.coop_id, ev.event_id), rep)


def repayment_reversed(state: State, ev: Event) -> None:
    target = ev.payload["reversed_event_id"]
    rep = _repayment(state, ev.coop_id, target)
    if any(r[1] == ev.event_id for r in rep["reversals"]):
        return
    before = _counts(rep)
    rep["reversals"] = sorted([*rep["reversals"], [ev.okey, ev.event_id, ev.aggregate_id]])
    if before and not _counts(rep):
        _count(state, rep, -1)
    state.put("credit_repayment", (ev.coop_id, target), rep)


HANDLERS = {
    "MemberCreditRepaid": credit_repaid,
    "MemberCreditRepaymentReversed": repayment_reversed,
}
