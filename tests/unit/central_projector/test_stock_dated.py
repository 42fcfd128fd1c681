"""A stock item's timeline, kept from each change's day on, is the one derived whole."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from central_projector.projection.folds import stock_dated
from central_projector.projection.folds.base import MemoryState, Okey

T0 = 1_767_225_600_000  # 2026-01-01 in UTC
COOP = "6401012001"
DAY = 86_400_000

okeys = st.builds(
    lambda day, ms, device, seq: [T0 + day * DAY + ms, 0, f"dev-{device}", seq],
    st.integers(0, 20),
    st.integers(0, DAY - 1),
    st.integers(0, 2),
    st.integers(1, 10_000),
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("move"), okeys, st.sampled_from([-5, -3, -1, 1, 2, 4, 7])),
        st.tuples(st.just("count"), okeys, st.integers(0, 20)),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda op: tuple(op[1]),
)


def _fold(history: list[tuple[str, Okey, int]]) -> tuple[MemoryState, dict[str, Any]]:
    """The ledger and the item's row after ``history`` in the order given."""
    state, row = MemoryState(), {"coop_id": COOP, "asof": {}}
    done: list[tuple[Okey, int]] = []
    for kind, okey, n in history:
        if kind == "move":
            stock_dated.moved(state, row, okey, n, "adjusted", n)
            done.append((okey, n))
        else:
            before = sum(d for k, d in done if k < okey)
            stock_dated.counted(state, row, okey, n, before)
    return state, row


@given(history=ops)
def test_the_timeline_kept_step_by_step_is_the_one_derived_whole(
    history: list[tuple[str, Okey, int]],
) -> None:
    """Movements and counts in any order (late ones on earlier days, before counts), each
    re-deriving only the days from its own: the row's negative-stock days are the ones
    derived from all of its days at once, and the ledger holds exactly them."""
    state, row = _fold(history)
    kept = copy.deepcopy(row["asof"])
    again = MemoryState()
    stock_dated._recompute(again, row)  # from the first day, against what was kept
    assert again.days == {}
    assert row["asof"] == kept
    ledger = {k[1]: v for k, v in state.days.items() if k[3] == stock_dated.NEGATIVE}
    assert ledger == kept.get("neg", {})
