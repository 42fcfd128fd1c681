"""Member-credit repayment reversals on the SQL read models (SQLite, PostgreSQL): the
receivable, the RAT basis, the roll-up and the ministry export count a reversed repayment
nowhere, in any arrival order; a second reversal, one of another member and one naming no
repayment change nothing."""

from __future__ import annotations

from typing import Any

from support import histories as H
from support.projector_db import deliver, sql_snapshot, wipe

from central_projector.projection.folds import Event
from central_projector.projection.projector import Projector
from central_projector.projection.readmodels import queries
from central_projector.record.store import CentralStore
from central_projector.reporting import ministry, rat, rollups
from central_projector.reporting.regions import parse_region

DAY_MS = 86_400_000
SALE = {
    "lines": [{"sku": "BERAS-5KG", "qty": 2, "unit_price": 50_000}],
    "payments": [{"method": "member_credit", "amount": 100_000}],
    "member_id": "M1",
    "stock_override_reason": "rak",
}


def _ev(device: str, seq: int, day: int, type: str, agg: str, payload: dict[str, Any]) -> Event:
    wall = H.T0 + day * DAY_MS + 3_600_000
    return Event((wall, 0, device, seq), f"ev-{device}-{seq}", H.COOP, type, agg, payload, wall)


def _unrepay(target: str, amount: int) -> dict[str, Any]:
    return {"reversed_event_id": target, "amount": amount, "reason": "salah catat"}


def _history() -> list[Event]:
    """Rp100.000 sold on credit to M1 on 10 January 2026, repaid Rp40.000 on 1 February
    and Rp30.000 on 1 March; the first repayment reversed twice (a sibling too), plus a
    reversal naming no repayment and one naming the second repayment under M2."""
    repaid = "MemberCreditRepaid"
    return [
        _ev("d1", 1, 9, "SaleRecorded", "SL-K1", SALE),
        _ev(
            "d1",
            2,
            31,
            repaid,
            "M1",
            {"amount": 40_000, "paid_on": "2026-02-01", "receipt_no": "KW-1"},
        ),
        _ev(
            "d1",
            3,
            59,
            repaid,
            "M1",
            {"amount": 30_000, "paid_on": "2026-03-01", "receipt_no": "KW-2"},
        ),
        _ev("d1", 4, 70, "MemberCreditRepaymentReversed", "M1", _unrepay("ev-d1-2", 40_000)),
        _ev("d2", 1, 71, "MemberCreditRepaymentReversed", "M1", _unrepay("ev-d1-2", 40_000)),
        _ev("d2", 2, 72, "MemberCreditRepaymentReversed", "M1", _unrepay("ev-nowhere", 5)),
        _ev("d2", 3, 73, "MemberCreditRepaymentReversed", "M2", _unrepay("ev-d1-3", 30_000)),
    ]


def _project(url: str, events: list[Event]) -> dict[str, Any]:
    CentralStore(url).close()
    projector = Projector(url, batch_size=3)
    try:
        wipe(projector.engine)
        deliver(projector.engine, events, set())
        projector.run_once()
        with projector.engine.connect() as conn:
            region = parse_region(H.COOP)
            snapshot = sql_snapshot(projector.engine)
            return {
                "snapshot": snapshot,
                "receivable": list(snapshot.get("receivable", {}).values()),
                "conflicts": queries.conflicts(conn),
                "rat": {k: v for k, v in rat.coop_rat(conn, H.COOP, 2026).items()
                        if k.startswith("credit") or k == "receivables_outstanding"},
                "member_rat": rat.coop_rat(conn, H.COOP, 2026)["members"],
                "export_feb": ministry.receivables_table(conn, H.COOP, "2026-02-15"),
                "export_end": ministry.receivables_table(conn, H.COOP, "2026-12-31"),
                "shop_feb": rollups.rollup(conn, region, "2026-02-15")["figures"]["shop"],
                "shop_end": rollups.rollup(conn, region, "2026-12-31")["figures"]["shop"],
            }  # fmt: skip
    finally:
        projector.close()


def test_a_reversed_repayment_counts_nowhere_in_any_order(db_url: str) -> None:
    """The first repayment reversed (twice) counts on no day: M1 owes Rp70.000, Rp30.000
    repaid in 2026, nothing repaid by 15 February; the same whatever the arrival order."""
    events = _history()
    got = _project(db_url, events)
    assert _project(db_url, events[::-1]) == got
    moved = [events[i] for i in (4, 5, 6, 3, 0, 2, 1)]  # every reversal before its repayment
    assert _project(db_url, moved) == got
    (row,) = got["receivable"]
    assert row["member_id"] == "M1"
    assert (row["sold"], row["repaid"], row["outstanding"], row["overpaid"]) == (
        100_000, 30_000, 70_000, 0)  # fmt: skip
    assert got["rat"] == {"credit_sold": 100_000, "credit_repaid": 30_000,
                          "receivables_outstanding": 70_000, "credit_overpaid": 0}  # fmt: skip
    (member,) = [m for m in got["member_rat"] if m["member_id"] == "M1"]
    assert (member["credit_bought"], member["credit_outstanding"]) == (100_000, 70_000)
    feb = {"member_id": "M1", "sold": 100_000, "sales": 1, "repaid": 0, "repayments": 0,
           "outstanding": 100_000, "overpaid": 0}  # fmt: skip
    assert got["export_feb"] == [feb]
    assert got["export_end"] == [feb | {"repaid": 30_000, "repayments": 1, "outstanding": 70_000}]
    assert (got["shop_feb"]["credit_repaid"], got["shop_feb"]["credit_outstanding"]) == (
        0, 100_000)  # fmt: skip
    assert (got["shop_end"]["credit_repaid"], got["shop_end"]["credit_outstanding"]) == (
        30_000, 70_000)  # fmt: skip
    assert [c for c in got["conflicts"] if c["kind"] == "CREDIT_OVERPAID"] == []


def test_a_reversal_clears_the_overpaid_item_it_explains(db_url: str) -> None:
    """Two counters took the same Rp100.000 debt offline (CREDIT_OVERPAID of Rp100.000);
    reversing one of the repayments leaves nothing overpaid and the item goes."""
    paid = {"amount": 100_000, "paid_on": "2026-02-01", "receipt_no": "KW-1"}
    events = [
        _ev("d1", 1, 9, "SaleRecorded", "SL-K1", SALE),
        _ev("d1", 2, 31, "MemberCreditRepaid", "M1", paid),
        _ev("d2", 1, 31, "MemberCreditRepaid", "M1", paid | {"receipt_no": "KW-9"}),
    ]
    before = _project(db_url, events)
    items = [c for c in before["conflicts"] if c["kind"] == "CREDIT_OVERPAID"]
    assert [c["detail"]["overpaid"] for c in items] == [100_000]
    after = _project(db_url, [*events, _ev("d2", 2, 33, "MemberCreditRepaymentReversed", "M1",
                                           _unrepay("ev-d2-1", 100_000))])  # fmt: skip
    assert [c for c in after["conflicts"] if c["kind"] == "CREDIT_OVERPAID"] == []
    (row,) = after["receivable"]
    assert (row["repaid"], row["outstanding"], row["overpaid"]) == (100_000, 0, 0)
