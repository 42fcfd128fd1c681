"""What a replay rebuilds: areas own disjoint rows, and a scoped fold writes exactly its scope."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import histories as H
from support.projection import project, snapshot

from central_projector.projection.folds import HANDLERS, MemoryProjector, MemoryState
from central_projector.projection.folds.conflicts import KINDS
from central_projector.projection.readmodels.tables import SPEC
from central_projector.projection.replay.scope import (
    AREAS,
    Scope,
    close_coops,
    in_scope,
    projections,
    scoped_fold,
    shared_keys,
)
from sync_core.errors import UsageError

SEPARABLE = (
    frozenset(AREAS),
    frozenset({"membership"}),
    frozenset({"savings", "loans"}),
    frozenset({"shop", "aid", "logistics"}),
    frozenset({"sync_health"}),
    frozenset({"resolutions", "stimulus", "sync_health"}),
)


def test_areas_own_every_table_kind_and_handler_exactly_once() -> None:
    """Each read-model table, conflict kind and event handler belongs to exactly one area."""
    tables = [t for a in AREAS.values() for t in a.tables]
    kinds = [k for a in AREAS.values() for k in a.kinds]
    handlers = [t for a in AREAS.values() for t in a.handlers]
    assert sorted(tables) == sorted([*(set(SPEC) - {"conflict"}), "stock_moves"])
    assert sorted(kinds) == sorted(KINDS)
    assert sorted(handlers) == sorted(HANDLERS)


def test_projection_names_are_checked_and_tied_areas_must_come_together() -> None:
    """An unknown name lists the valid ones; shop without aid and logistics is refused."""
    assert projections([]) == frozenset(AREAS)
    assert projections(["shop", "aid", "logistics"]) == {"shop", "aid", "logistics"}
    with pytest.raises(UsageError, match="valid: aid, loans, logistics, membership"):
        projections(["sales"])
    with pytest.raises(
        UsageError, match="--projection aid --projection logistics --projection shop"
    ):
        projections(["shop"])
    with pytest.raises(UsageError, match="without shop"):
        projections(["aid"])


def test_cooperatives_sharing_a_row_are_closed_over_transitively() -> None:
    """A card links two cooperatives, an entitlement a third to the second; a fourth stays out."""
    links = [("A", "card:K1"), ("B", "card:K1"), ("B", "ent:E1"), ("C", "ent:E1"), ("D", "ent:E9")]
    assert close_coops({"A"}, links) == {"A", "B", "C"}
    assert close_coops({"D"}, links) == {"D"}
    assert close_coops({"Z"}, links) == {"Z"}


def _links(events_: list[Any]) -> list[tuple[str, str]]:
    return [(e.coop_id, k) for e in events_ for k in shared_keys(e.type, e.aggregate_id, e.payload)]


def _restricted(p: MemoryProjector, scope: Scope) -> dict[str, Any]:
    snap = snapshot(p)
    out = {}
    for table, rows in snap.items():
        if table == "coop_day":  # the dated figures: by area and cooperative, like shadow.where
            kept = {
                k: r
                for k, r in rows.items()
                if k[2] in scope.areas and (scope.coops is None or k[0] in scope.coops)
            }
        else:
            kept = {
                k: r for k, r in rows.items() if in_scope(scope, table, k, p.state.tables[table][k])
            }
        if kept:
            out[table] = kept
    return out


def _moves(state: MemoryState, scope: Scope) -> dict[Any, list[Any]]:
    if "shop" not in scope.areas:
        return {}
    return {
        k: sorted(v)
        for k, v in state.moves.items()
        if v and (scope.coops is None or k[0] in scope.coops)
    }


@given(events_=H.histories(max_per_device=6), data=st.data())
@settings(max_examples=60, deadline=None)
def test_a_scoped_fold_writes_exactly_the_full_folds_rows_of_its_scope(
    events_: list[Any], data: st.DataObject
) -> None:
    """For any separable areas and closed cooperatives, folding every event (in any batches)
    with the scope's fold gives the full fold's rows of that scope, and no other row."""
    areas = data.draw(st.sampled_from(SEPARABLE), label="areas")
    scope = Scope(areas)
    if data.draw(st.booleans(), label="since"):
        coops = sorted({e.coop_id for e in events_})
        start = data.draw(st.sets(st.sampled_from(coops), min_size=1), label="start")
        closed = close_coops(start, _links(events_))
        devices = frozenset(e.device_id for e in events_ if e.coop_id in closed)
        scope = Scope(areas, closed, devices)
    full = project(events_)
    partial = MemoryProjector()
    fold = scoped_fold(scope)
    seen: set[tuple[str, int]] = set()
    for batch in H.deliveries(data.draw, events_):
        fresh = [e for e in batch if (e.device_id, e.seq) not in seen]
        seen.update((e.device_id, e.seq) for e in fresh)
        fold(partial.state, list({(e.device_id, e.seq): e for e in fresh}.values()))
    assert snapshot(partial) == _restricted(full, scope)
    assert _moves(partial.state, scope) == _moves(full.state, scope)


def _cross_coop_history() -> list[Any]:
    """The province grants E1 to one cooperative; a device of another redeems it, as does
    one of its own (a double redemption across cooperatives), and each sells from stock."""
    from central_projector.projection.folds import Event

    walls = iter(range(H.T0, H.T0 + 100_000, 1000))
    out = []
    for seq, (t, agg, payload) in enumerate(H.central_facts(), start=1):
        out.append(Event((next(walls), 0, H.CENTRAL, seq), f"c-{seq}", H.COOP, t, agg, payload))
    redeem = {"card_uid": "CARD1", "allowance_id": "A1", "value": 100_000, "verification": "CHIP"}
    sale = {"lines": [{"sku": "BERAS-5KG", "qty": 1, "unit_price": 1000}],
            "payments": [{"method": "cash", "amount": 1000}]}  # fmt: skip
    for device, coop in (("d1", H.COOP), ("e1", H.COOP2)):
        for seq, (t, agg, payload) in enumerate(
            [("AidRedeemed", "E1", redeem), ("SaleRecorded", f"S-{device}", sale)], start=1
        ):
            key = (next(walls), 0, device, seq)
            out.append(Event(key, f"{device}-{seq}", coop, t, agg, payload, key[0] + 10))
    return out


def test_a_redemption_at_another_cooperative_ties_the_two_together() -> None:
    """Replaying the second cooperative alone would misplace the shared entitlement: its
    closure takes in the first, and the scoped fold then equals the full fold's rows."""
    events_ = _cross_coop_history()
    links = [
        (e.coop_id, k) for e in events_ for k in shared_keys(e.type, e.aggregate_id, e.payload)
    ]
    closed = close_coops({H.COOP2}, links)
    assert closed == {H.COOP, H.COOP2}
    for coops in ({H.COOP2}, closed):
        devices = frozenset(e.device_id for e in events_ if e.coop_id in coops)
        scope = Scope(frozenset(AREAS), frozenset(coops), devices)
        partial = MemoryProjector()
        scoped_fold(scope)(partial.state, events_)
        same = snapshot(partial) == _restricted(project(events_), scope)
        assert same is (coops == closed)
