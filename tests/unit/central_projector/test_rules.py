"""Each conflict rule on a small, hand-written history."""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds import Event, MemoryProjector
from central_projector.projection.folds.conflicts import conflict_id, listing

A, B = "6472010001", "6401050012"


def ev(wall: int, device: str, seq: int, type_: str, agg: str, coop: str = A, **p: Any) -> Event:
    return Event((wall, 0, device, seq), f"{device}-{seq}", coop, type_, agg, p)


def project(events: list[Event], reverse: bool = False) -> MemoryProjector:
    pr = MemoryProjector()
    for e in reversed(events) if reverse else events:
        pr.apply([e])
    return pr


def items(pr: MemoryProjector) -> dict[str, dict[str, Any]]:
    rows = listing(pr.state.rows("conflict").values(), pr.state.rows("resolution").values())
    return {i["kind"]: i for i in rows}


def redemption(wall: int, device: str, seq: int, coop: str = A) -> Event:
    return ev(
        wall, device, seq, "AidRedeemed", "E1", coop,
        card_uid="C1", allowance_id="AL", value=100_000, verification="CHIP_PIN",
    )  # fmt: skip


GRANT = ev(
    1, "central", 1, "EntitlementGranted", "E1",
    beneficiary_id="B1", card_uid="C1", program="BLT", cycle="2026-01", value=100_000,
)  # fmt: skip


def test_duplicate_redemption_first_by_total_order_wins_and_second_coop_is_disputed() -> None:
    """The smallest key wins even when it arrives last; the other claim is DISPUTED."""
    late_winner = redemption(10, "e1", 1, coop=B)
    pr = project([GRANT, redemption(20, "d1", 1), late_winner], reverse=True)
    ent = pr.state.rows("entitlement")[("E1",)]
    assert ent["winner"] == "e1-1"
    assert ent["value_at_risk"] == 100_000
    assert (ent["worth"], ent["redeemed_value"], ent["remaining"]) == (100_000, 100_000, 0)
    # only the winner draws on the card: the duplicate is at risk once, not twice
    assert pr.state.rows("card")[("C1",)]["spent"] == 100_000
    claims = pr.state.rows("claim")
    assert claims[("e1-1",)]["status"] == "CLAIMED"
    assert claims[("d1-1",)]["status"] == "DISPUTED"
    assert items(pr)["DUPLICATE_REDEMPTION"]["id"] == conflict_id(
        "DUPLICATE_REDEMPTION", "entitlement:E1"
    )


def test_voiding_the_duplicate_clears_the_item() -> None:
    """A void of one of two redemptions leaves a single, undisputed claim."""
    void = ev(30, "d1", 2, "AidRedemptionVoided", "E1", redemption_event_id="d1-1", reason="x")
    pr = project([GRANT, redemption(10, "e1", 1, coop=B), redemption(20, "d1", 1), void])
    assert "DUPLICATE_REDEMPTION" not in items(pr)
    assert pr.state.rows("claim")[("d1-1",)]["status"] == "VOIDED"


def test_allowance_debit_that_crosses_zero_is_split() -> None:
    """Debits apply in total order; the crossing one is partly covered; devices are named."""
    alloc = ev(
        1, "central", 1, "RedemptionAllowanceAllocated", "AL",
        scope="COOP", program="BLT", cycle="2026-01", max_count=5, max_value=150_000,
    )  # fmt: skip
    pr = project([alloc, redemption(10, "d1", 1), redemption(20, "d2", 1)], reverse=True)
    al = pr.state.rows("allowance")[("AL",)]
    assert (al["used_value"], al["over_value"], al["available_value"]) == (150_000, 50_000, 0)
    assert al["devices_over"] == ["d2"]
    assert items(pr)["OVERSPEND"]["detail"]["overspend_value"] == 50_000


def test_card_wallet_overspend_is_split_in_total_order() -> None:
    """KHBS payments beyond the granted value are uncovered, whatever the arrival order."""
    sale = ev(
        10, "d1", 1, "SaleRecorded", "SL1",
        lines=[{"sku": "BERAS", "qty": 3, "unit_price": 40_000}],
        payments=[{"method": "khbs", "amount": 120_000}], card_uid="C1",
    )  # fmt: skip
    for reverse in (False, True):
        card = project([GRANT, sale], reverse=reverse).state.rows("card")[("C1",)]
        assert (card["credited"], card["spent"], card["overspend"]) == (100_000, 120_000, 20_000)


def test_one_card_wallet_pays_the_aid_desk_and_the_shop_and_counts_each_rupiah_once() -> None:
    """A Rp200,000 card redeemed twice and then used at the shop for Rp191,000: the
    duplicate is at risk (Rp200,000) and the shop payment overspends the card (Rp191,000)."""
    grant = ev(
        1, "central", 1, "EntitlementGranted", "E1",
        beneficiary_id="B1", card_uid="C1", program="BLT", cycle="2026-01", value=200_000,
    )  # fmt: skip
    first, second = (
        ev(w, d, 1, "AidRedeemed", "E1", coop, card_uid="C1", allowance_id="AL", value=200_000,
           verification="CHIP_PIN")
        for w, d, coop in ((10, "d1", A), (15, "e1", B))
    )  # fmt: skip
    sale = ev(
        20, "d2", 1, "SaleRecorded", "SL9",
        lines=[{"sku": "BERAS", "qty": 1, "unit_price": 191_000}],
        payments=[{"method": "khbs", "amount": 191_000}], card_uid="C1",
    )  # fmt: skip
    for reverse in (False, True):
        pr = project([grant, first, second, sale], reverse=reverse)
        card = pr.state.rows("card")[("C1",)]
        ent = pr.state.rows("entitlement")[("E1",)]
        assert (card["credited"], card["spent"], card["overspend"]) == (200_000, 391_000, 191_000)
        assert ent["value_at_risk"] == 200_000
        queue = listing(pr.state.rows("conflict").values(), [])
        by_subject = {i["subject"]: i for i in queue}
        assert by_subject["card:C1"]["detail"] == {
            "card_uid": "C1", "overspend": 191_000, "devices": ["d2"], "debits": ["shop"],
        }  # fmt: skip
        assert by_subject["entitlement:E1"]["detail"]["value_at_risk"] == 200_000


def test_voiding_the_winning_redemption_moves_the_card_draw_to_the_next() -> None:
    """The card is drawn by whichever redemption stands; a void of the winner hands it on."""
    void = ev(30, "d1", 2, "AidRedemptionVoided", "E1", redemption_event_id="d1-1", reason="x")
    pr = project([GRANT, redemption(10, "d1", 1), redemption(20, "e1", 1, coop=B), void])
    card = pr.state.rows("card")[("C1",)]
    assert card["debits"] == {"aid/E1": [[20, 0, "e1", 1], "e1", 100_000, B]}
    assert (card["spent"], card["overspend"]) == (100_000, 0)


def test_stock_count_arriving_late_is_placed_in_total_order() -> None:
    """On hand = latest count + movements after it, even when the count arrives last."""
    moves = [
        ev(10, "d1", 1, "StockReceived", "S", sku="S", qty=10, location="main", supplier="x",
           doc_no="1"),
        ev(30, "d1", 3, "StockAdjusted", "S", sku="S", location="main", delta=-2, reason="r"),
        ev(20, "d2", 1, "StockCounted", "S", sku="S", location="main", counted_qty=4),
    ]  # fmt: skip
    for reverse in (False, True):
        stock = project(moves, reverse=reverse).state.rows("stock")[(A, "main", "S")]
        assert stock["on_hand"] == 2


def test_negative_stock_is_flagged_never_refused() -> None:
    """A sale beyond stock is kept, and the negative on-hand raises NEGATIVE_STOCK."""
    sale = ev(
        10, "d1", 1, "SaleRecorded", "SL1",
        lines=[{"sku": "LPG", "qty": 2, "unit_price": 20_000}],
        payments=[{"method": "cash", "amount": 40_000}],
    )  # fmt: skip
    pr = project([sale])
    assert pr.state.rows("stock")[(A, "main", "LPG")]["on_hand"] == -2
    assert items(pr)["NEGATIVE_STOCK"]["detail"] == {"location": "main", "sku": "LPG"}


NIK = "6472014101900001"


def register(wall: int, device: str, member: str, name: str, coop: str = A) -> Event:
    return ev(
        wall, device, 1, "MemberRegistered", member, coop, nik=NIK,
        kk_no="6472010101900099", name=name, birth_date="1990-01-01", desa_code="6472010001",
    )  # fmt: skip


def test_same_nik_first_registration_is_canonical_and_a_different_name_collides() -> None:
    """The first registration by total order is canonical; a differing name is a collision."""
    regs = [register(20, "d1", "M-d1", "Siti Aminah"), register(10, "d2", "M-d2", "Sitti Aminah")]
    pr = project(regs)
    group = next(iter(pr.state.rows("nik_group").values()))
    assert (group["canonical"], group["aliases"]) == (f"{A}/M-d2", [f"{A}/M-d1"])
    assert {"DUPLICATE_NIK", "NIK_COLLISION"} <= set(items(pr))


def test_same_nik_at_two_cooperatives_is_an_alias_at_the_later_one() -> None:
    """A NIK registered at a second cooperative of the province makes that member an alias:
    the item belongs to the second cooperative, and no money moves."""
    regs = [
        register(10, "d1", "M-1", "Siti Aminah", A),
        register(20, "d2", "M-2", "Siti Aminah", B),
        ev(21, "d2", 2, "SavingsAccountOpened", "S-2", B, member_id="M-2", product="POKOK",
           opened_on="2026-01-02"),
        ev(22, "d2", 3, "SavingsDeposited", "S-2", B, amount=50_000, receipt_no="R1"),
    ]  # fmt: skip
    for reverse in (False, True):
        pr = project(regs, reverse=reverse)
        (group,) = pr.state.rows("nik_group").values()
        assert (group["canonical"], group["aliases"]) == (f"{A}/M-1", [f"{B}/M-2"])
        dup = items(pr)["DUPLICATE_NIK"]
        assert (dup["coop_id"], dup["detail"]["aliases"]) == (B, [f"{B}/M-2"])
        assert "NIK_COLLISION" not in items(pr)
        assert pr.state.rows("savings")[(B, "S-2")]["balance"] == 50_000


def test_same_nik_with_another_birth_date_at_another_cooperative_collides() -> None:
    """A different name or birth date under the same NIK elsewhere is a NIK_COLLISION."""
    other = register(20, "d2", "M-2", "Siti Aminah", B)
    other.payload["birth_date"] = "1991-02-02"
    pr = project([register(10, "d1", "M-1", "Siti Aminah", A), other])
    collision = items(pr)["NIK_COLLISION"]
    assert collision["coop_id"] == B
    assert collision["detail"]["colliding"][0]["birth_date"] == "1991-02-02"


def test_nik_conflicts_name_the_nik_by_a_keyed_pseudonym_only() -> None:
    """No conflict id, subject or detail carries the NIK in clear, and the pseudonym is keyed
    (another key, another subject)."""
    regs = [register(10, "d1", "M-1", "Siti", A), register(20, "d2", "M-2", "Sity", B)]
    pr = project(regs)
    rows = list(pr.state.rows("conflict").values())
    assert {r["kind"] for r in rows} == {"DUPLICATE_NIK", "NIK_COLLISION"}
    assert NIK not in repr(rows)
    other = MemoryProjector()
    other.state.pseudonym_key = b"another key"
    other.apply(regs)
    assert {r["subject"] for r in rows}.isdisjoint(
        r["subject"] for r in other.state.rows("conflict").values()
    )


def test_profile_edits_merge_per_field_and_identity_edits_conflict() -> None:
    """Last writer per field by total order; name edits on two devices raise an item."""
    edits = [
        register(1, "d1", "M1", "Siti"),
        ev(30, "d2", 2, "MemberProfileFieldChanged", "M1", field="name", value="Siti A."),
        ev(20, "d1", 2, "MemberProfileFieldChanged", "M1", field="name", value="Siti Aminah"),
        ev(25, "d1", 3, "MemberProfileFieldChanged", "M1", field="phone", value="+62811"),
    ]
    for reverse in (False, True):
        pr = project(edits, reverse=reverse)
        profile = pr.state.rows("member")[(A, "M1")]["profile"]
        assert (profile["name"][0], profile["phone"][0]) == ("Siti A.", "+62811")
        assert items(pr)["PROFILE_CONFLICT"]["detail"]["field"] == "name"


def test_late_repayment_recomputes_the_write_off_and_later_ones_are_recoveries() -> None:
    """Replay by business date: an earlier-dated late repayment lowers the write-off."""
    history = [
        ev(1, "d1", 1, "LoanDisbursed", "L1", amount=1_000_000, disbursed_on="2026-01-10"),
        ev(5, "central", 1, "LoanWrittenOff", "L1", amount=1_000_000,
           written_off_on="2026-03-01"),
        ev(9, "d1", 2, "LoanRepaymentReceived", "L1", amount=100_000, paid_on="2026-02-10",
           receipt_no="K1"),
        ev(9, "d1", 3, "LoanRepaymentReceived", "L1", amount=50_000, paid_on="2026-04-10",
           receipt_no="K2"),
    ]  # fmt: skip
    pr = project(history, reverse=True)
    loan = pr.state.rows("loan")[(A, "L1")]
    assert (loan["written_off"], loan["recovered"], loan["status"]) == (900_000, 50_000,
                                                                         "WRITTEN_OFF")  # fmt: skip
    found = items(pr)
    assert found["LATE_REPAYMENT"]["detail"]["written_off_recomputed"] == 900_000
    assert found["RECOVERY_AFTER_WRITE_OFF"]["detail"]["recovered"] == 50_000


def test_flags_from_the_store_become_per_device_items() -> None:
    """CLOCK_SKEW and GAP flags raise one item per device listing the seqs."""
    a = Event(
        (1, 0, "d1", 1), "x1", A, "PriceSet", "S", {"sku": "S", "unit_price": 1}, 0, "CLOCK_SKEW"
    )
    b = Event((2, 0, "d1", 5), "x5", A, "PriceSet", "S", {"sku": "S", "unit_price": 2}, 0, "GAP")
    found = items(project([a, b]))
    assert found["CLOCK_SKEW"]["detail"]["seqs"] == [1]
    assert found["GAP"]["detail"]["seqs"] == [5]


def test_a_decision_closes_an_item_even_when_it_arrives_first() -> None:
    """ConflictResolved before the conflicting events still leaves the item RESOLVED."""
    cid = conflict_id("NEGATIVE_STOCK", f"stock:{A}:main:LPG")
    decision = ev(99, "central", 2, "ConflictResolved", cid, decision="ADJUST", note="dihitung")
    sale = ev(
        10, "d1", 1, "SaleRecorded", "SL1",
        lines=[{"sku": "LPG", "qty": 2, "unit_price": 20_000}],
        payments=[{"method": "cash", "amount": 40_000}],
    )  # fmt: skip
    found = items(project([decision, sale]))
    assert found["NEGATIVE_STOCK"]["status"] == "RESOLVED"


def test_a_sale_falls_on_the_cooperatives_own_local_day() -> None:
    """16:30 UTC is 23:30 in Central Kalimantan (WIB) but 00:30 next day in East Kalimantan
    (WITA) and 01:30 in Papua (WIT): each sale lands on its cooperative's local day."""
    wall = 1_772_382_600_000  # 2026-03-01T16:30:00Z
    pr = project([
        ev(wall, d, 1, "SaleRecorded", "SL1", coop,
           lines=[{"sku": "LPG", "qty": 1, "unit_price": 20_000}],
           payments=[{"method": "cash", "amount": 20_000}])
        for d, coop in (("k1", "6202081007"), ("t1", "6472021005"), ("p1", "9471010001"))
    ])  # fmt: skip
    days = {coop: day for coop, day, _sku in pr.state.rows("sales_day")}
    assert days == {"6202081007": "2026-03-01", "6472021005": "2026-03-02",
                    "9471010001": "2026-03-02"}  # fmt: skip


def test_lpg_received_or_sold_beyond_its_monthly_quota_is_an_item() -> None:
    """539 cylinders received against a quota of 300 in the month: QUOTA_EXCEEDED, whatever
    the order; the goods stay in stock (facts are never rejected); a receipt in the next
    month counts there."""
    quota = ev(1, "central", 1, "QuotaAllocated", "LPG-3KG", program="LPG_3KG", sku="LPG-3KG",
               qty=300, period="2026-01")  # fmt: skip
    received = [
        ev(T0_JAN + k, "d1", k + 1, "StockReceived", "LPG-3KG", sku="LPG-3KG", qty=qty,
           location="main", supplier="Agen Pertamina", doc_no=f"DO-{k}")
        for k, qty in enumerate((280, 259))
    ]  # fmt: skip
    for reverse in (False, True):
        pr = project([quota, *received], reverse=reverse)
        item = items(pr)["QUOTA_EXCEEDED"]
        assert item["detail"] == {"sku": "LPG-3KG", "period": "2026-01", "allocated": 300,
                                  "received": 539, "sold": 0}  # fmt: skip
        assert pr.state.rows("stock")[(A, "main", "LPG-3KG")]["on_hand"] == 539
    under = project([quota, received[0]])
    assert "QUOTA_EXCEEDED" not in items(under)
    february = received[1]._replace(key=(T0_JAN + 31 * 86_400_000, 0, "d1", 2))
    assert "QUOTA_EXCEEDED" not in items(project([quota, received[0], february]))


T0_JAN = 1_767_225_600_000  # 2026-01-01T00:00Z
