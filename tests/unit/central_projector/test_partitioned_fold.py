"""The partitioned projection (cooperative stages plus the cross stage) equals one fold."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support import histories as H
from support.histories import histories
from support.projection import project, snapshot

from central_projector.projection.folds import Event
from central_projector.projection.folds.base import MemoryState
from central_projector.projection.scaleout.partfold import PartitionedMemoryProjector
from central_projector.projection.scaleout.routing import (
    CROSS,
    may_fold,
    partition_of,
    stage_names,
    stages_of,
)


def _moves(state: MemoryState) -> dict[Any, dict[Any, int]]:
    """The stock ledger as the SQL table keeps it: Σ delta per (item, order key), zeros gone.

    A recording superseded in a later batch is taken back by compensating movements at its
    own key, so the raw list depends on the batching; the sums do not.
    """
    out: dict[Any, dict[Any, int]] = {}
    for item, moves in state.moves.items():
        sums: dict[Any, int] = {}
        for okey, delta in moves:
            sums[tuple(okey)] = sums.get(tuple(okey), 0) + delta
        if kept := {k: d for k, d in sums.items() if d}:
            out[item] = kept
    return out


def _partitioned(events: list[Event], partitions: int, data: st.DataObject) -> Any:
    p = PartitionedMemoryProjector(partitions)
    # Stages run independently: any order of stages, each with its own batching.
    for stage in data.draw(st.permutations(stage_names(partitions))):
        for batch in H.deliveries(data.draw, events):
            p.apply_stage(stage, batch)
    return p


@given(histories(), st.integers(1, 4), st.data())
def test_disjoint_partitions_give_the_same_read_models_as_one_fold(
    events: list[Event], partitions: int, data: st.DataObject
) -> None:
    """Any partition count, stage order and batching gives one fold's rows and stock ledger."""
    single = project(events)
    split = _partitioned(events, partitions, data)
    assert snapshot(split) == snapshot(single)
    assert _moves(split.state) == _moves(single.state)


def test_the_two_cooperatives_of_the_histories_fall_in_different_partitions() -> None:
    """With two partitions the histories' two cooperatives are split (cross-coop rules run)."""
    assert partition_of(H.COOP, 2) != partition_of(H.COOP2, 2)


def test_a_redemption_is_folded_by_its_cooperative_and_by_the_cross_stage() -> None:
    """A redemption goes to its cooperative's stage (health rows) and to ``cross`` (shared)."""
    ev = Event((1, 0, "d1", 1), "ev-d1-1", H.COOP, "AidRedeemed", "E1", {"card_uid": "CARD1"})
    assert stages_of(ev, 2) == [f"p{partition_of(H.COOP, 2)}of2", CROSS]
    count = Event((1, 0, "d1", 2), "ev-d1-2", H.COOP, "StockCounted", "SKU", {"sku": "SKU"})
    assert stages_of(count, 2) == [f"p{partition_of(H.COOP, 2)}of2"]


def test_the_void_of_a_card_sale_in_a_later_batch_refunds_the_card_in_the_cross_stage() -> None:
    """The cross stage keeps its copy of card sales: a void folded later still refunds the card."""
    sale = Event(
        (H.T0, 0, "d1", 1),
        "ev-d1-1",
        H.COOP,
        "SaleRecorded",
        "SL1",
        {
            "lines": [{"sku": H.SKUS[0], "qty": 1, "unit_price": 50_000}],
            "payments": [{"method": "khbs", "amount": 50_000}],
            "card_uid": H.CARDS[0],
        },
    )
    void = Event((H.T0 + 1000, 0, "d1", 2), "ev-d1-2", H.COOP, "SaleVoided", "SL1", {"reason": "x"})
    single = project([sale, void])
    split = PartitionedMemoryProjector(2)
    for stage in stage_names(2):
        split.apply_stage(stage, [sale])
        split.apply_stage(stage, [void])
    assert snapshot(split) == snapshot(single)
    assert split.state.rows("card")[(H.CARDS[0],)] == single.state.rows("card")[(H.CARDS[0],)]


@given(histories(), st.integers(1, 4))
def test_the_column_prefilter_never_drops_an_event_a_stage_folds(
    events: list[Event], partitions: int
) -> None:
    """``may_fold`` on store columns is true for every stage that ``stages_of`` names."""
    for ev in events:
        for stage in stages_of(ev, partitions):
            assert may_fold(stage, partitions, ev.type, ev.coop_id, ev.device_id)
