"""Aid (KHBS) rules: central facts build views; redemptions respect cards and allowances."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.memory import MemoryViews
from sync_core.errors import RuleViolation

KK = "6472010101900099"


def allowance(**overrides: Any) -> dict[str, Any]:
    return {
        "scope": "COOP",
        "program": "BLT",
        "cycle": "2026-01",
        "max_count": 5,
        "max_value": 3_000_000,
        **overrides,
    }


def grant(card_uid: str = "CARD1", **overrides: Any) -> dict[str, Any]:
    payload = {"beneficiary_id": "B1", "card_uid": card_uid, "program": "BLT", "cycle": "2026-01"}
    return {**payload, "value": 300_000, **overrides}


def redemption(
    card_uid: str = "CARD1", allowance_id: str = "A1", value: int = 300_000
) -> dict[str, Any]:
    return {
        "card_uid": card_uid,
        "allowance_id": allowance_id,
        "value": value,
        "verification": "CHIP_PIN",
    }


def void(event_id: str) -> dict[str, Any]:
    return {"redemption_event_id": event_id, "reason": "wrong family"}


def synced(**allowance_overrides: Any) -> MemoryViews:
    """A device that received a beneficiary, its card, entitlement E1 and allowance A1."""
    book = MemoryViews(device_id="dev-1")
    book.receive("BeneficiaryEnrolled", "B1", {"kk_no": KK, "home_coop": "6472021005-KMP"})
    book.receive("CardIssued", "CARD1", {"beneficiary_id": "B1"})
    book.receive("EntitlementGranted", "E1", grant())
    book.receive("RedemptionAllowanceAllocated", "A1", allowance(**allowance_overrides))
    return book


def view(book: MemoryViews, key: str) -> dict[str, Any]:
    found = book.view(key)
    assert found is not None, key
    return found


def test_central_facts_build_views() -> None:
    """Beneficiary, card, entitlement and allowance events from the central build their views."""
    book = synced()
    assert view(book, "beneficiary:B1") == {"home_coop": "6472021005-KMP"}
    assert view(book, "card:CARD1") == {
        "beneficiary_id": "B1", "blocked": False, "reason": None,
        "credits": {"E1": 300_000}, "spent": 0,
    }  # fmt: skip
    assert view(book, "entitlement:E1")["value"] == 300_000
    assert view(book, "allowance:A1")["used_count"] == 0


def test_redeem_marks_entitlement_and_uses_allowance() -> None:
    """A valid redemption marks the entitlement and takes one count and its value."""
    book = synced()
    r = book.record("AidRedeemed", "E1", redemption())
    assert view(book, "entitlement:E1")["redeemed_by"] == r.event_id
    a = view(book, "allowance:A1")
    assert (a["used_count"], a["used_value"]) == (1, 300_000)


def test_items_entitlement_accepts_zero_value() -> None:
    """An entitlement by items may be redeemed with value 0."""
    book = synced()
    items = [{"sku": "BERAS5", "qty": 2}]
    book.receive("EntitlementGranted", "E2", grant(value=None, items=items))
    book.record("AidRedeemed", "E2", redemption(value=0))
    assert view(book, "allowance:A1")["used_count"] == 1


def test_unknown_entitlement_is_refused_asking_to_sync() -> None:
    """An entitlement not received on this device is refused with advice to sync."""
    refusal = synced().refusal("AidRedeemed", "E9", redemption())
    assert refusal.rule == "unknown_entitlement" and "sync" in str(refusal)


def test_another_card_is_refused() -> None:
    """The card presented must be the entitlement's own card."""
    book = synced()
    book.receive("CardIssued", "CARD2", {"beneficiary_id": "B2"})
    assert book.refusal("AidRedeemed", "E1", redemption("CARD2")).rule == "wrong_card"


def test_blocked_card_is_refused() -> None:
    """A card blocked over the downlink cannot redeem, even its own entitlement."""
    book = synced()
    book.receive("CardBlocked", "CARD1", {"reason": "reported lost"})
    assert book.refusal("AidRedeemed", "E1", redemption()).rule == "card_blocked"


def test_block_survives_a_later_issue_of_the_same_card() -> None:
    """A CardIssued arriving after CardBlocked for the same uid does not unblock it."""
    book = synced()
    book.receive("CardBlocked", "CARD1", {"reason": "reported lost"})
    book.receive("CardIssued", "CARD1", {"beneficiary_id": "B1"})
    assert view(book, "card:CARD1")["blocked"] is True


def test_second_redemption_on_this_device_is_refused() -> None:
    """An entitlement is redeemed at most once on this device."""
    book = synced()
    book.record("AidRedeemed", "E1", redemption())
    refusal = book.refusal("AidRedeemed", "E1", redemption())
    assert refusal.rule == "already_redeemed"
    assert view(book, "allowance:A1")["used_count"] == 1


def test_value_entitlement_must_be_redeemed_for_its_value() -> None:
    """An entitlement by value is redeemed for exactly that value."""
    book = synced()
    assert book.refusal("AidRedeemed", "E1", redemption(value=200_000)).rule == "wrong_value"


def test_no_allowance_cases_are_refused() -> None:
    """Unknown allowance, other program, other cycle, or another device's allowance: refused."""
    book = synced()
    book.receive("RedemptionAllowanceAllocated", "A-PUPUK", allowance(program="PUPUK"))
    book.receive("RedemptionAllowanceAllocated", "A-FEB", allowance(cycle="2026-02"))
    book.receive(
        "RedemptionAllowanceAllocated", "A-DEV2", allowance(scope="DEVICE", device_id="dev-2")
    )
    for allowance_id in ("A-NONE", "A-PUPUK", "A-FEB", "A-DEV2"):
        refusal = book.refusal("AidRedeemed", "E1", redemption(allowance_id=allowance_id))
        assert refusal.rule == "no_allowance", allowance_id
    book.receive(
        "RedemptionAllowanceAllocated", "A-DEV1", allowance(scope="DEVICE", device_id="dev-1")
    )
    book.record("AidRedeemed", "E1", redemption(allowance_id="A-DEV1"))


def test_exhausted_allowance_is_refused() -> None:
    """An allowance with no count or not enough value left refuses the redemption."""
    book = synced(max_count=1)
    book.receive("EntitlementGranted", "E2", grant())
    book.record("AidRedeemed", "E1", redemption())
    assert book.refusal("AidRedeemed", "E2", redemption()).rule == "allowance_exhausted"
    book = synced(max_value=299_999)
    assert book.refusal("AidRedeemed", "E1", redemption()).rule == "allowance_exhausted"


def test_void_gives_back_and_allows_a_new_redemption() -> None:
    """Voiding the current redemption returns count and value and un-marks the entitlement."""
    book = synced()
    r = book.record("AidRedeemed", "E1", redemption())
    book.record("AidRedemptionVoided", "E1", void(r.event_id))
    a = view(book, "allowance:A1")
    assert (a["used_count"], a["used_value"]) == (0, 0)
    assert view(book, "entitlement:E1")["redeemed_by"] is None
    book.record("AidRedeemed", "E1", redemption())


def test_void_of_something_not_the_current_redemption_is_refused() -> None:
    """A void must name the entitlement's current redemption."""
    book = synced()
    assert book.refusal("AidRedemptionVoided", "E1", void("ev-none")).rule == "unknown_redemption"
    first = book.record("AidRedeemed", "E1", redemption())
    book.record("AidRedemptionVoided", "E1", void(first.event_id))
    book.record("AidRedeemed", "E1", redemption())
    refusal = book.refusal("AidRedemptionVoided", "E1", void(first.event_id))
    assert refusal.rule == "unknown_redemption"
    assert (
        book.refusal("AidRedemptionVoided", "E9", void(first.event_id)).rule == "unknown_redemption"
    )


ATTEMPTS = st.lists(
    st.tuples(
        st.sampled_from(["redeem", "void"]),
        st.sampled_from(["E1", "E2", "E3", "E4"]),
        st.sampled_from(["A1", "A2"]),
    ),
    max_size=40,
)


@given(ATTEMPTS, st.integers(0, 3))
def test_allowances_hold_and_nothing_is_redeemed_twice(
    attempts: list[tuple[str, str, str]], max_count: int
) -> None:
    """For any redeem/void attempts: used ≤ max, and an entitlement has ≤ 1 redemption."""
    book = synced(max_count=max_count, max_value=700_000)
    book.receive("RedemptionAllowanceAllocated", "A2", allowance(max_count=2))
    for e in ("E2", "E3", "E4"):
        book.receive("EntitlementGranted", e, grant())
    current: dict[str, tuple[str, str]] = {}  # entitlement -> (redemption event id, allowance)
    for action, e, a in attempts:
        try:
            if action == "redeem":
                r = book.record("AidRedeemed", e, redemption(allowance_id=a))
                assert e not in current
                current[e] = (r.event_id, a)
            elif e in current:
                book.record("AidRedemptionVoided", e, void(current.pop(e)[0]))
        except RuleViolation as refusal:
            assert refusal.rule in ("already_redeemed", "allowance_exhausted")
        for a_id in ("A1", "A2"):
            used = view(book, f"allowance:{a_id}")
            held = [x for x in current.values() if x[1] == a_id]
            assert used["used_count"] == len(held) <= used["max_count"]
            assert used["used_value"] == 300_000 * len(held) <= used["max_value"]
        for e_id in ("E1", "E2", "E3", "E4"):
            assert view(book, f"entitlement:{e_id}")["redeemed_by"] == current.get(e_id, (None,))[0]


def test_one_card_wallet_for_the_aid_desk_and_the_shop() -> None:
    """A card whose value went on shopping cannot redeem it again, and the other way round;
    a void gives the value back."""
    book = synced()
    book.receive("StockReceived", "BERAS5", {"sku": "BERAS5", "qty": 9, "location": "main",
                                             "supplier": "Bulog", "doc_no": "DO1"})  # fmt: skip
    shop = {"lines": [{"sku": "BERAS5", "qty": 1, "unit_price": 191_000}],
            "payments": [{"method": "khbs", "amount": 191_000}], "card_uid": "CARD1"}  # fmt: skip
    sale = book.record("SaleRecorded", "SL1", shop)
    refusal = book.refusal("AidRedeemed", "E1", redemption())
    assert refusal.rule == "card_value_exhausted" and "Rp109.000 left" in str(refusal)
    book.record("SaleVoided", "SL1", {"reason": "batal"})
    assert view(book, "card:CARD1")["spent"] == 0
    r = book.record("AidRedeemed", "E1", redemption())
    assert view(book, "card:CARD1")["spent"] == 300_000
    assert book.refusal("SaleRecorded", "SL2", shop).rule == "card_value_exhausted"
    book.record("AidRedemptionVoided", "E1", {"redemption_event_id": r.event_id,
                                              "reason": "salah"})  # fmt: skip
    assert view(book, "card:CARD1")["spent"] == 0
    assert sale.event_id


def test_an_entitlement_moved_to_another_card_moves_its_credit() -> None:
    """A later grant of the same entitlement to another card takes its value with it."""
    book = synced()
    book.receive("EntitlementGranted", "E1", grant("CARD2"))
    assert view(book, "card:CARD1")["credits"] == {}
    assert view(book, "card:CARD2")["credits"] == {"E1": 300_000}
