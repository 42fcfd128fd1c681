"""Business dates the teller fills in are the cooperative's local day, not the machine's."""

from __future__ import annotations

import time
from typing import Any

from edge_agent.app import teller
from sync_core import localtime


class Drafts:
    """A recorder that keeps what it is asked to record."""

    def __init__(self, coop_id: str) -> None:
        self.coop_id = coop_id
        self.payloads: list[dict[str, Any]] = []

    def record(self, event_type: str, payload: dict[str, Any], aggregate_id: str) -> None:
        self.payloads.append(payload)


def test_default_business_dates_fall_on_the_cooperatives_local_day() -> None:
    """A repayment, a disbursement and an opening recorded without a date carry today in the
    cooperative's zone: WIB in Central Kalimantan, WITA in East Kalimantan, WIT in Papua."""
    for coop in ("6202081007", "6472021005", "9171010001"):
        drafts = Drafts(coop)
        before = localtime.today(coop, time.time_ns() // 1_000_000)
        teller.repay_loan(drafts, "L-1", 100_000, receipt_no="KW-1")
        teller.disburse_loan(drafts, "L-1", 1_000_000)
        teller.open_savings(drafts, member_id="M-1", product="WAJIB")
        teller.approve_loan(drafts, "L-1", principal=1, rate_bp=1, method="flat", tenor_months=1)
        after = localtime.today(coop, time.time_ns() // 1_000_000)
        *opened, approved = drafts.payloads
        dates = [p.get("paid_on") or p.get("disbursed_on") or p["opened_on"]
                 for p in opened]  # fmt: skip
        assert all(d in {before, after} for d in dates), (coop, dates)
        months = {teller.a_month_after(before), teller.a_month_after(after)}
        assert approved["first_due"] in months, (coop, approved)


def test_a_month_after_keeps_the_day_up_to_the_28th() -> None:
    """The default first due date is the same day next month, across a year end, and at
    most the 28th so February has it."""
    assert teller.a_month_after("2026-03-15") == "2026-04-15"
    assert teller.a_month_after("2026-12-05") == "2027-01-05"
    assert teller.a_month_after("2026-01-31") == "2026-02-28"
