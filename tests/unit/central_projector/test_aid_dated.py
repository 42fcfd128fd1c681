"""An entitlement's timeline, patched on its latest day where it can be, is the one derived
whole, and the ledger holds exactly it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from central_projector.projection.folds import aid, aid_dated, daily
from central_projector.projection.folds.base import Event, MemoryState

T0 = 1_767_225_600_000  # 2026-01-01 in UTC
DAY = 86_400_000
HOME, OTHER = "6401012001", "6271010001"  # WITA and WIB: their days start an hour apart
ENT = "E1"


def _event(kind: str, n: int, day: int, ms: int, coop: str, detail: Any) -> Event:
    device = f"dev-{coop}"
    key = (T0 + day * DAY + ms, 0, device, n)
    if kind == "grant":
        program, value = detail
        payload = {"beneficiary_id": "B1", "card_uid": "CARD1", "program": program,
                   "cycle": "2026-01", "value": value}  # fmt: skip
        return Event(key, f"ev-{n}", coop, "EntitlementGranted", ENT, payload)
    if kind == "redeem":
        payload = {"card_uid": "CARD1", "allowance_id": "AL1", "value": detail,
                   "verification": "CHIP_PIN"}  # fmt: skip
        return Event(key, f"ev-{n}", coop, "AidRedeemed", ENT, payload)
    target = {"redemption_event_id": f"ev-{detail}"}
    return Event(key, f"ev-{n}", coop, "AidRedemptionVoided", ENT, target)


_when = (st.integers(0, 4), st.integers(0, DAY - 1), st.sampled_from([HOME, OTHER]))
# (kind, day, ms into it in UTC: near midnight the two zones differ, cooperative, detail)
facts = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), *_when, st.tuples(st.sampled_from(["SEMBAKO", "BERAS"]),
                                                      st.sampled_from([None, 90_000]))),
        st.tuples(st.just("redeem"), *_when, st.sampled_from([50_000, 100_000])),
        st.tuples(st.just("void"), *_when, st.integers(0, 11)),
    ),
    min_size=1,
    max_size=12,
)  # fmt: skip


@given(drawn=facts, data=st.data())
def test_the_patched_timeline_is_the_one_derived_whole(
    drawn: list[tuple[str, int, int, str, Any]], data: st.DataObject
) -> None:
    """Grants (a second programme, a later value, items), redemptions at two cooperatives
    in two zones and voids, over five days, in any order: the entitlement's timeline
    patched event by event equals the one derived from all its facts, and the ledger
    holds exactly that timeline."""
    history = [_event(kind, n, *rest) for n, (kind, *rest) in enumerate(drawn)]
    events = data.draw(st.permutations(history))
    state = MemoryState()
    for ev in events:
        aid.HANDLERS[ev.type](state, ev)
    row = state.get("entitlement", (ENT,))
    assert row is not None
    whole: list[list[Any]] = sorted(
        [*key, amount] for key, amount in aid_dated.entries(row).items() if amount
    )
    assert row["asof"]["tl"] == whole
    ledger: dict[tuple[str, str, str, str], int] = {}
    for coop, day, figure, amount in whole:
        ledger[(coop, day, "aid", figure)] = amount
    assert state.days == ledger
    # and the row's figures are those of its latest day
    standing = {f: 0 for f in ("entitled_value", "redeemed_value", "value_at_risk")}
    for coop, _, figure, amount in whole:
        if coop == row["coop_id"] and figure.startswith("aid.") and figure.count(".") == 1:
            standing[figure[4:]] = standing.get(figure[4:], 0) + amount
    assert standing["entitled_value"] == row["worth"]
    assert standing["redeemed_value"] == row["redeemed_value"]
    assert standing["value_at_risk"] == row["value_at_risk"]
    assert daily.asof(row)["seen"] == min(d for _, d, _, _ in whole)
