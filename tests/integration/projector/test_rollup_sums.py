"""Roll-ups: a region's figures are the sum of its cooperatives', for any delivery (SQLite, PG)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import histories as H
from support.projection import project
from support.projector_db import deliver, wipe

from central_projector.projection.folds import Event, portfolio
from central_projector.projection.projector import Projector
from central_projector.record.store import CentralStore
from central_projector.reporting import rollups
from central_projector.reporting.regions import parse_region

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
    """The summed figures are the pure fold's rows added up (no row lost or counted twice)."""
    rows = project(events_).state.tables
    savings = rows.get("savings", {}).values()
    assert fig["savings"]["balance"] == sum(r["balance"] for r in savings)
    assert fig["members"]["count"] == len(rows.get("member", {}))
    loans = list(rows.get("loan", {}).values())
    book = portfolio.portfolio(loans, day)
    assert fig["loans"]["outstanding_principal"] == book["outstanding_principal"]
    assert fig["loans"]["par30"] == book["par30"]
    assert fig["loans"]["par30_bp"] == book["par30_bp"]
    ents = rows.get("entitlement", {}).values()
    assert fig["aid"]["redeemed_value"] == sum(e["redeemed_value"] for e in ents)
    sales = [r for r in rows.get("sales_day", {}).values() if cut is None or r["day"] <= cut]
    assert fig["shop"]["sales_amount"] == sum(r["amount"] for r in sales)
