"""Roll-ups: a region's figures are the sum of its cooperatives', for any delivery (SQLite, PG)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import creditbooks
from support import histories as H
from support.projection import project
from support.projector_db import deliver, wipe

from central_projector.projection.folds import Event, daily, portfolio, stock_dated
from central_projector.projection.projector import Projector
from central_projector.record.store import CentralStore
from central_projector.reporting import rollups
from central_projector.reporting.regions import parse_region
from schemas import REGISTRY

FEW = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOW = H.T0 + 30 * rollups.DAY_MS


def _report(engine: sa.Engine, code: str, as_of: str | None) -> dict[str, Any]:
    """Read on one connection, the areas one after the other (as the CLI reads)."""
    with engine.connect() as conn:
        return rollups.rollup(conn, parse_region(code), as_of, now_ms=NOW)


@given(events_=H.histories(max_per_device=6), data=st.data())
@FEW
def test_province_rollup_is_the_sum_of_its_cooperatives_for_any_delivery(
    db_url: str, events_: list[Event], data: st.DataObject
) -> None:
    """For any arrival order, duplicates and projection cadence, the province's figures
    equal the sum of each cooperative's own roll-up, and regencies sum the same way."""
    CentralStore(db_url).close()
    projector = Projector(db_url, batch_size=data.draw(st.integers(1, 7), label="batch"))
    try:
        wipe(projector.engine)
        seen: set[tuple[str, int]] = set()
        for batch in H.deliveries(data.draw, events_):
            deliver(projector.engine, batch, seen)
            if data.draw(st.booleans(), label="project now"):
                projector.run_once()
        projector.run_once()
        as_of = data.draw(st.sampled_from([None, *H.DATES]), label="as of")
        # the province read as the console reads it: every area at once on its own connection
        province = rollups.rollup(projector.engine, parse_region("64"), as_of, now_ms=NOW)
        assert province == _report(projector.engine, "64", as_of)
        day = province["as_of"]
        coops = [_report(projector.engine, cid, as_of or day) for cid in (H.COOP, H.COOP2)]
        assert province["figures"] == rollups.total(c["figures"] for c in coops)
        assert province["cooperatives"] == sum(c["cooperatives"] for c in coops)
        assert province["figures"] == rollups.total(ch["figures"] for ch in province["children"])
        for child in province["children"]:
            regency = _report(projector.engine, child["region"], as_of or day)
            assert regency["figures"] == child["figures"]
        _matches_the_pure_fold(province["figures"], events_, day, as_of)
    finally:
        projector.close()


def _matches_the_pure_fold(
    fig: dict[str, Any], events_: list[Event], day: str, cut: str | None
) -> None:
    """The summed figures are the pure fold's rows added up (no row lost or counted twice),
    and the dated ones what the events dated by the day add up to, counted here apart."""
    rows = project(events_).state.tables
    _dated_from_the_events(fig, events_, day)
    if day >= max(daily.event_day(e) for e in events_):  # as of after every event: the rows
        savings = rows.get("savings", {}).values()
        assert fig["savings"]["balance"] == sum(r["balance"] for r in savings)
        assert fig["members"]["count"] == len(rows.get("member", {}))
        ents = rows.get("entitlement", {}).values()
        assert fig["aid"]["redeemed_value"] == sum(e["redeemed_value"] for e in ents)
        stock = rows.get("stock", {}).values()
        assert fig["shop"]["stock_negative"] == sum(1 for r in stock if r["on_hand"] < 0)
    # the ledger's stock flags against each item's on-hand evaluated on the day
    items = [i for r in rows.get("stock", {}).values() if (i := stock_dated.as_of(r, day))]
    assert fig["shop"]["stock_items"] == len(items)
    assert fig["shop"]["stock_negative"] == sum(1 for i in items if i["on_hand"] < 0)
    loans = list(rows.get("loan", {}).values())
    book = portfolio.portfolio(loans, day)  # every loan replayed, as the SQL sums must agree
    assert fig["loans"] == {k: v for k, v in book.items() if k in fig["loans"]}
    sales = [r for r in rows.get("sales_day", {}).values() if cut is None or r["day"] <= cut]
    assert fig["shop"]["sales_amount"] == sum(r["amount"] for r in sales)
    sold, repaid = creditbooks.sold_and_repaid_by(events_, day)
    assert (fig["shop"]["credit_sold"], fig["shop"]["credit_repaid"]) == (sold, repaid)
    assert fig["shop"]["credit_outstanding"] == sold - repaid


_SAVINGS_SIGN = {"SavingsDeposited": 1, "SavingsWithdrawn": -1}
_FUND_SIGN = {"StimulusTrancheDisbursed": 1, "StimulusFundUtilized": -1,
              "StimulusRevolvingRepaymentMade": 1}  # fmt: skip


def _dated_from_the_events(fig: dict[str, Any], events_: list[Event], day: str) -> None:
    """Members known, savings and fund balances and aid redeemed as of ``day``, summed
    straight from the events dated by then (each on its business date, else its HLC day)."""
    by = [e for e in events_ if daily.event_day(e) <= day]
    members = {(e.coop_id, e.aggregate_id) for e in by
               if REGISTRY.get(e.type).area == "membership"}  # fmt: skip
    members |= {
        (e.coop_id, alias) for e in by if e.type == "MembersMerged"
        for alias in e.payload["alias_member_ids"]
    }  # fmt: skip
    assert fig["members"]["count"] == len(members)
    balance = 0
    for e in by:
        if e.type in _SAVINGS_SIGN:
            balance += _SAVINGS_SIGN[e.type] * e.payload["amount"]
        elif e.type == "SavingsTransactionReversed":
            balance += (-1 if e.payload["kind"] == "DEPOSIT" else 1) * e.payload["amount"]
    assert fig["savings"]["balance"] == balance
    fund = sum(_FUND_SIGN[e.type] * e.payload["amount"] for e in by if e.type in _FUND_SIGN)
    assert fig["stimulus"]["balance"] == fund
    voided = {e.payload["redemption_event_id"] for e in by if e.type == "AidRedemptionVoided"}
    winners: dict[str, Event] = {}
    for e in sorted(by, key=lambda e: e.key):
        if e.type == "AidRedeemed" and e.event_id not in voided:
            winners.setdefault(e.aggregate_id, e)
    assert fig["aid"]["redeemed_value"] == sum(e.payload["value"] for e in winners.values())
