"""Aid (KHBS): what the province grants, and the redemptions made at this device.

The central sends beneficiaries, cards, blocks, entitlements and redemption allowances
over the downlink; they are facts here and are only folded into views.

Rules for a redemption, in the order they are checked:
- the entitlement is known on this device (``unknown_entitlement``: sync first);
- the card presented is the entitlement's card (``wrong_card``) and is not blocked
  (``card_blocked``);
- the entitlement is not already redeemed on this device (``already_redeemed``): no
  redemption twice on this device;
- an entitlement by value is redeemed for exactly its value (``wrong_value``); one by
  items may carry any value, 0 included;
- the named allowance is known here and covers the entitlement's program and cycle and,
  when its scope is DEVICE, this device (``no_allowance``): no redemption of an
  entitlement this device has no allowance for;
- the allowance has a redemption and enough value left (``allowance_exhausted``);
- an entitlement by value is drawn on the family's KHBS card, the one wallet the shop's
  KHBS payments draw on too: the card must have its value left, as this device knows it
  (``card_value_exhausted``: granted by the downlink, less what this device drew on it).
A redemption uses one count and its value from the allowance, draws a value entitlement
on the card and marks the entitlement redeemed. A void names the entitlement's current
redemption (``unknown_redemption``) and gives the count, the value and the card's draw
back. An entitlement granted to a card credits it (a grant moved to another card moves
its credit).

Views:
- ``beneficiary:{id}`` = ``{home_coop}``;
- ``card:{uid}`` = ``{beneficiary_id, blocked, reason, credits, spent}`` (a block is
  final: a later CardIssued for the same uid does not lift it; see
  :func:`edge_agent.domain.common.card_key`);
- ``entitlement:{id}`` = ``{beneficiary_id, card_uid, program, cycle, value, redeemed_by,
  allowance_id, redeemed_value, drawn}`` (``value`` None when by items; ``redeemed_by`` the
  event id of the current redemption, or None; ``drawn`` what it drew on the card);
- ``allowance:{id}`` = ``{scope, device_id, program, cycle, max_count, max_value,
  used_count, used_value}``.
"""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.domain.base import Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import (
    card_key,
    get_or_add,
    loaded,
    new_card,
    refuse_blocked_card,
    refuse_card_overspend,
    rupiah,
    spend_card,
)
from sync_core.errors import RuleViolation


def beneficiary_key(beneficiary_id: str) -> str:
    return f"beneficiary:{beneficiary_id}"


def entitlement_key(entitlement_id: str) -> str:
    return f"entitlement:{entitlement_id}"


def allowance_key(allowance_id: str) -> str:
    return f"allowance:{allowance_id}"


def _new_entitlement() -> View:
    return {
        "beneficiary_id": None,
        "card_uid": None,
        "program": None,
        "cycle": None,
        "value": None,
        "redeemed_by": None,
        "allowance_id": None,
        "redeemed_value": 0,
        "drawn": 0,
    }


def _new_allowance() -> View:
    return {
        "scope": None,
        "device_id": None,
        "program": None,
        "cycle": None,
        "max_count": 0,
        "max_value": 0,
        "used_count": 0,
        "used_value": 0,
    }


# --- central facts -------------------------------------------------------------------


def _fact(key: Callable[[str], str], apply: Callable[[Views, Proposed], None]) -> Rule:
    """A central fact folded into the one view named by its aggregate id."""

    def keys(ev: Proposed) -> list[str]:
        return [key(ev.aggregate_id)]

    return Rule(keys, no_check, apply)


def _apply_enrolled(views: Views, ev: Proposed) -> None:
    views[beneficiary_key(ev.aggregate_id)] = {"home_coop": ev.payload["home_coop"]}


def _apply_card_issued(views: Views, ev: Proposed) -> None:
    card = get_or_add(views, card_key(ev.aggregate_id), new_card())
    card["beneficiary_id"] = ev.payload["beneficiary_id"]


def _apply_card_blocked(views: Views, ev: Proposed) -> None:
    card = get_or_add(views, card_key(ev.aggregate_id), new_card())
    card["blocked"] = True
    card["reason"] = ev.payload["reason"]


def _granted_keys(ev: Proposed) -> list[str]:
    return [entitlement_key(ev.aggregate_id), card_key(ev.payload["card_uid"])]


def _granted_more_keys(views: Views, ev: Proposed) -> list[str]:
    ent = views.get(entitlement_key(ev.aggregate_id))
    old = None if ent is None else ent["card_uid"]
    return [card_key(old)] if old is not None and old != ev.payload["card_uid"] else []


def _apply_granted(views: Views, ev: Proposed) -> None:
    entitlement = get_or_add(views, entitlement_key(ev.aggregate_id), _new_entitlement())
    old = entitlement["card_uid"]
    if old is not None and old != ev.payload["card_uid"]:
        old_card = loaded(views, card_key(old))
        if old_card is not None:
            old_card.get("credits", {}).pop(ev.aggregate_id, None)
    for f in ("beneficiary_id", "card_uid", "program", "cycle"):
        entitlement[f] = ev.payload[f]
    entitlement["value"] = ev.payload.get("value")
    card = get_or_add(views, card_key(ev.payload["card_uid"]), new_card())
    credits = card.setdefault("credits", {})
    if entitlement["value"] is None:
        credits.pop(ev.aggregate_id, None)
    else:
        credits[ev.aggregate_id] = entitlement["value"]


def _apply_allocated(views: Views, ev: Proposed) -> None:
    allowance = get_or_add(views, allowance_key(ev.aggregate_id), _new_allowance())
    for f in ("scope", "program", "cycle", "max_count", "max_value"):
        allowance[f] = ev.payload[f]
    allowance["device_id"] = ev.payload.get("device_id")


# --- AidRedeemed ---------------------------------------------------------------------


def _redeem_keys(ev: Proposed) -> list[str]:
    return [
        entitlement_key(ev.aggregate_id),
        card_key(ev.payload["card_uid"]),
        allowance_key(ev.payload["allowance_id"]),
    ]


def _check_redeem(views: Views, ev: Proposed) -> None:
    ent = loaded(views, entitlement_key(ev.aggregate_id))
    card_uid: str = ev.payload["card_uid"]
    value: int = ev.payload["value"]
    if ent is None or ent["program"] is None:
        raise RuleViolation(
            "unknown_entitlement",
            f"entitlement {ev.aggregate_id} is not known on this device; "
            "sync to receive entitlements, then try again",
        )
    if ent["card_uid"] != card_uid:
        raise RuleViolation(
            "wrong_card",
            f"entitlement {ev.aggregate_id} belongs to card {ent['card_uid']}, not card "
            f"{card_uid}; ask for the family's own KHBS card",
        )
    refuse_blocked_card(views, card_uid)
    if ent["redeemed_by"] is not None:
        raise RuleViolation(
            "already_redeemed",
            f"entitlement {ev.aggregate_id} was already redeemed on this device "
            f"(event {ent['redeemed_by']}); void that redemption first if it was a mistake",
        )
    if ent["value"] is not None and value != ent["value"]:
        raise RuleViolation(
            "wrong_value",
            f"entitlement {ev.aggregate_id} is worth {rupiah(ent['value'])}, "
            f"not {rupiah(value)}; redeem it for its full value",
        )
    _check_allowance(views, ev, ent, value)
    if ent["value"] is not None:
        refuse_card_overspend(views, card_uid, value, "this redemption")


def _check_allowance(views: Views, ev: Proposed, ent: View, value: int) -> None:
    allowance_id: str = ev.payload["allowance_id"]
    allowance = loaded(views, allowance_key(allowance_id))
    why = None
    if allowance is None or allowance["scope"] is None:
        why = "is not known on this device (sync to receive allowances)"
    elif (allowance["program"], allowance["cycle"]) != (ent["program"], ent["cycle"]):
        why = (
            f"is for {allowance['program']} {allowance['cycle']}, "
            f"not {ent['program']} {ent['cycle']}"
        )
    elif allowance["scope"] == "DEVICE" and allowance["device_id"] != ev.device_id:
        why = f"belongs to device {allowance['device_id']}, not {ev.device_id}"
    if why is not None:
        raise RuleViolation(
            "no_allowance",
            f"allowance {allowance_id} {why}; this device may not redeem entitlement "
            f"{ev.aggregate_id} offline — sync, or ask the province for an allowance",
        )
    assert allowance is not None
    count_left: int = allowance["max_count"] - allowance["used_count"]
    value_left: int = allowance["max_value"] - allowance["used_value"]
    if count_left < 1 or value > value_left:
        raise RuleViolation(
            "allowance_exhausted",
            f"allowance {allowance_id} has {max(count_left, 0)} redemptions and "
            f"{rupiah(max(value_left, 0))} left, this redemption needs 1 and {rupiah(value)}; "
            "sync to receive a new allowance",
        )


def _apply_redeem(views: Views, ev: Proposed) -> None:
    ent = get_or_add(views, entitlement_key(ev.aggregate_id), _new_entitlement())
    allowance = get_or_add(views, allowance_key(ev.payload["allowance_id"]), _new_allowance())
    ent["redeemed_by"] = ev.event_id
    ent["allowance_id"] = ev.payload["allowance_id"]
    ent["redeemed_value"] = ev.payload["value"]
    allowance["used_count"] += 1
    allowance["used_value"] += ev.payload["value"]
    ent["drawn"] = 0 if ent["value"] is None else ev.payload["value"]
    spend_card(views, ev.payload["card_uid"], ent["drawn"])


# --- AidRedemptionVoided -------------------------------------------------------------


def _void_keys(ev: Proposed) -> list[str]:
    return [entitlement_key(ev.aggregate_id)]


def _void_more_keys(views: Views, ev: Proposed) -> list[str]:
    ent = views.get(entitlement_key(ev.aggregate_id))
    if ent is None or ent["allowance_id"] is None:
        return []
    return [allowance_key(ent["allowance_id"]), card_key(ent["card_uid"])]


def _check_void(views: Views, ev: Proposed) -> None:
    ent = loaded(views, entitlement_key(ev.aggregate_id))
    target: str = ev.payload["redemption_event_id"]
    if ent is None or ent["redeemed_by"] != target:
        current = (
            "it is not redeemed"
            if ent is None or ent["redeemed_by"] is None
            else (f"its current redemption is {ent['redeemed_by']}")
        )
        raise RuleViolation(
            "unknown_redemption",
            f"{target} is not the current redemption of entitlement {ev.aggregate_id} on "
            f"this device ({current}); copy the event id of the redemption to void",
        )


def _apply_void(views: Views, ev: Proposed) -> None:
    ent = loaded(views, entitlement_key(ev.aggregate_id))
    if ent is None or ent["redeemed_by"] != ev.payload["redemption_event_id"]:
        return  # nothing to give back
    allowance = loaded(views, allowance_key(ent["allowance_id"]))
    if allowance is not None:
        allowance["used_count"] -= 1
        allowance["used_value"] -= ent["redeemed_value"]
    spend_card(views, ent["card_uid"], -ent.get("drawn", 0))
    ent["drawn"] = 0
    ent["redeemed_by"] = None
    ent["allowance_id"] = None
    ent["redeemed_value"] = 0


RULES: dict[str, Rule] = {
    "BeneficiaryEnrolled": _fact(beneficiary_key, _apply_enrolled),
    "CardIssued": _fact(card_key, _apply_card_issued),
    "CardBlocked": _fact(card_key, _apply_card_blocked),
    "EntitlementGranted": Rule(
        _granted_keys, no_check, _apply_granted, more_keys=_granted_more_keys
    ),
    "RedemptionAllowanceAllocated": _fact(allowance_key, _apply_allocated),
    "AidRedeemed": Rule(_redeem_keys, _check_redeem, _apply_redeem),
    "AidRedemptionVoided": Rule(_void_keys, _check_void, _apply_void, more_keys=_void_more_keys),
}
