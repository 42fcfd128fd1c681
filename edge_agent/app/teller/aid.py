"""Aid (KHBS): redeem an entitlement, void a redemption."""

from __future__ import annotations

from edge_agent.app.teller.base import R_co, Recorder
from sync_core.ids import check_id


def redeem_aid(
    recorder: Recorder[R_co],
    entitlement_id: str,
    *,
    card_uid: str,
    allowance_id: str,
    value: int,
    verification: str = "CHIP_PIN",
) -> R_co:
    payload = {
        "card_uid": card_uid,
        "allowance_id": allowance_id,
        "value": value,
        "verification": verification,
    }
    return recorder.record("AidRedeemed", payload, check_id(entitlement_id, "entitlement id"))


def void_redemption(
    recorder: Recorder[R_co], entitlement_id: str, *, redemption_event_id: str, reason: str
) -> R_co:
    payload = {"redemption_event_id": redemption_event_id, "reason": reason}
    return recorder.record(
        "AidRedemptionVoided", payload, check_id(entitlement_id, "entitlement id")
    )
