"""Properties of the pure projection: order, duplicates, batching, conservation."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support import histories as H
from support.histories import histories
from support.projection import conflicts_of, project, snapshot

from central_projector.projection.folds import Event


@given(histories(), st.data())
def test_any_delivery_order_and_duplicates_give_the_same_read_models(
    events: list[Event], data: st.DataObject
) -> None:
    """Any permutation, cut into any batches and with duplicates, projects the same rows."""
    reference = project(events)
    delivered = project(*H.deliveries(data.draw, events))
    assert snapshot(delivered) == snapshot(reference)


@given(histories(), st.data())
def test_event_at_a_time_equals_full_replay(events: list[Event], data: st.DataObject) -> None:
    """Folding one event per batch in arrival order equals one replay of the whole set."""
    order = data.draw(st.permutations(events))
    one_by_one = project(*([ev] for ev in order))
    assert snapshot(one_by_one) == snapshot(project(events))


@given(histories(), st.data())
def test_conflict_sets_are_identical_across_orders(
    events: list[Event], data: st.DataObject
) -> None:
    """The conflict queue (ids, kinds, details) does not depend on arrival order."""
    a = project(*H.deliveries(data.draw, events))
    b = project(*H.deliveries(data.draw, events))
    assert conflicts_of(a) == conflicts_of(b)


@given(histories())
def test_money_and_stock_are_conserved(events: list[Event]) -> None:
    """Balances are Σ movements; an entitlement's winner and duplicates are its redemptions."""
    p = project(events)
    rows = p.state.rows
    voided = {e.payload["redemption_event_id"] for e in events if e.type == "AidRedemptionVoided"}
    for (coop, account), row in rows("savings").items():
        mine = [e for e in events if e.coop_id == coop and e.aggregate_id == account]
        signed = {
            "SavingsDeposited": 1,
            "SavingsWithdrawn": -1,
        }
        expected = sum(
            signed[e.type] * e.payload["amount"] for e in mine if e.type in signed
        ) + sum(
            (-1 if e.payload["kind"] == "DEPOSIT" else 1) * e.payload["amount"]
            for e in mine
            if e.type == "SavingsTransactionReversed"
        )
        assert row["balance"] == expected
    for key, row in rows("stock").items():
        assert row["on_hand"] == stock_on_hand(events, key)
    for row in rows("entitlement").values():
        assert row["remaining"] == max(0, row["worth"] - row["redeemed_value"])
        live = [
            e
            for e in events
            if e.type == "AidRedeemed"
            and e.aggregate_id == row["entitlement_id"]
            and e.event_id not in voided
        ]
        assert row["redeemed_value"] + row["value_at_risk"] == sum(e.payload["value"] for e in live)
        assert row["redeemed_value"] == (min(live, key=lambda e: e.key).payload["value"]
                                         if live else 0)  # fmt: skip
    for row in rows("allowance").values():
        debits = [
            e.payload["value"]
            for e in events
            if e.type == "AidRedeemed"
            and e.payload["allowance_id"] == row["allowance_id"]
            and e.event_id not in voided
        ]
        assert row["used_value"] + row["over_value"] == sum(debits)
        assert row["available_value"] >= 0
    for row in rows("fund").values():
        assert row["balance"] == row["disbursed"] - row["utilised"] + row["repaid"]
    for row in rows("card").values():
        assert row["available"] == row["credited"] - (row["spent"] - row["overspend"])


def stock_on_hand(events: list[Event], key: tuple[str, ...]) -> int:
    """On hand from first principles: the latest count, then every movement after it."""
    coop, location, sku = key
    voids: dict[str, Event] = {}
    for e in events:
        first_void = e.aggregate_id not in voids or e.key < voids[e.aggregate_id].key
        if e.type == "SaleVoided" and e.coop_id == coop and first_void:
            voids[e.aggregate_id] = e
    first_sale: dict[str, tuple[Any, ...]] = {}
    for e in events:
        if e.type == "SaleRecorded" and e.coop_id == coop:
            first_sale[e.aggregate_id] = min(e.key, first_sale.get(e.aggregate_id, e.key))
    moves: list[tuple[tuple[Any, ...], int]] = []
    counts: list[tuple[tuple[Any, ...], int]] = []
    for e in events:
        p = e.payload
        if e.coop_id != coop:
            continue
        if e.type == "StockReceived" and (p["location"], p["sku"]) == (location, sku):
            moves.append((e.key, p["qty"]))
        elif e.type == "StockAdjusted" and (p["location"], p["sku"]) == (location, sku):
            moves.append((e.key, p["delta"]))
        elif e.type == "StockCounted" and (p["location"], p["sku"]) == (location, sku):
            counts.append((e.key, p["counted_qty"]))
        elif (
            e.type == "SaleRecorded"
            and (p.get("location") or "main") == location
            and first_sale[e.aggregate_id] == e.key
        ):
            qty = sum(x["qty"] for x in p["lines"] if x["sku"] == sku)
            if qty:
                moves.append((e.key, -qty))
                if e.aggregate_id in voids:
                    moves.append((voids[e.aggregate_id].key, qty))
        elif e.type == "ShipmentDispatched" and p["origin"] == location:
            moves += [(e.key, -x["qty"]) for x in p["lines"] if x["sku"] == sku]
        elif e.type == "ShipmentReceived" and p["location"] == location:
            moves += [(e.key, x["qty"]) for x in p["lines"] if x["sku"] == sku]
    if counts:
        last = max(counts)
        return last[1] + sum(d for k, d in moves if k > last[0])
    return sum(d for _, d in moves)


@given(histories())
def test_every_history_projects_without_error_and_lists_valid_kinds(events: list[Event]) -> None:
    """Every conflict item has a known kind and a deterministic id."""
    from central_projector.projection.folds.conflicts import KINDS, conflict_id

    for item in conflicts_of(project(events)):
        assert item["kind"] in KINDS
        assert item["id"] == conflict_id(item["kind"], item["subject"])


@st.composite
def escrowed_histories(draw: st.DrawFn) -> list[Event]:
    """Each device holds the only allowance of its own program and stays within it."""
    programs = ("BLT", "BERAS", "SEMBAKO")
    events: list[Event] = []
    seq_central = 0

    def central(type_: str, agg: str, **payload: Any) -> None:
        nonlocal seq_central
        seq_central += 1
        key = (H.T0 + seq_central, 0, H.CENTRAL, seq_central)
        events.append(Event(key, f"c-{seq_central}", H.COOP, type_, agg, payload))

    for (device, coop), program in zip(H.DEVICES, programs, strict=True):
        ents = [f"E-{program}-{i}" for i in range(3)]
        for e in ents:
            central(
                "EntitlementGranted", e, beneficiary_id="B", card_uid=f"C-{e}",
                program=program, cycle="2026-01", value=50_000,
            )  # fmt: skip
        central(
            "RedemptionAllowanceAllocated", f"A-{device}", scope="DEVICE", device_id=device,
            program=program, cycle="2026-01", max_count=3, max_value=150_000,
        )  # fmt: skip
        chosen = draw(st.permutations(ents))[: draw(st.integers(0, 3))]
        # a device redeems only what reached it over the downlink, and its hybrid clock
        # is then past the grant's: redemptions come after the grants in total order
        wall = H.T0 + 100 + draw(st.integers(0, 5000))
        for seq, e in enumerate(chosen, start=1):
            wall += draw(st.integers(0, 3000))
            payload = {"card_uid": f"C-{e}", "allowance_id": f"A-{device}", "value": 50_000,
                       "verification": "CHIP"}  # fmt: skip
            events.append(
                Event((wall, seq, device, seq), f"{device}-{seq}", coop, "AidRedeemed", e, payload)
            )
    return events


@given(escrowed_histories(), st.data())
def test_respecting_escrowed_allowances_never_yields_double_redemption(
    events: list[Event], data: st.DataObject
) -> None:
    """If every device redeems only within its own allowance, no duplicate or overspend appears."""
    kinds = {i["kind"] for i in conflicts_of(project(*H.deliveries(data.draw, events)))}
    assert not kinds & {"DUPLICATE_REDEMPTION", "OVERSPEND"}


@given(histories(), st.data())
def test_a_resolved_conflict_stays_resolved_when_other_events_arrive(
    events: list[Event], data: st.DataObject
) -> None:
    """ConflictResolved closes an item for good, whatever arrives before or after it."""
    p = project(events)
    open_items = [i for i in conflicts_of(p) if i["status"] == "OPEN"]
    if not open_items:
        return
    item = data.draw(st.sampled_from(open_items))
    decision = Event(
        (H.T0 + 60_000, 0, H.CENTRAL, 1000),
        "decision-1",
        item["coop_id"],
        "ConflictResolved",
        item["id"],
        {"decision": "ACCEPT", "note": "diperiksa"},
    )
    later = data.draw(H.device_runs("f1", H.COOP, 6))
    p.apply([decision])
    p.apply(later)
    after = {i["id"]: i for i in conflicts_of(p)}
    assert after[item["id"]]["status"] == "RESOLVED"
    # the same set in another order gives the same queue
    again = project(*H.deliveries(data.draw, [*events, decision, *later]))
    assert conflicts_of(again) == conflicts_of(p)
