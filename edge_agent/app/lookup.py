"""What the counter looks up: members, stock, prices, aid, sync, all from the rule views.

Every function reads the small per-entity views the local rules keep (see
:mod:`edge_agent.domain`), never the log: an answer costs the same on the first day and
after a year of history. A function returns ``None`` when the device does not know the
thing asked for. Money is integer rupiah.
"""

from __future__ import annotations

from typing import Any

from edge_agent.app.agent import EdgeAgent
from edge_agent.domain.aid import allowance_key, entitlement_key
from edge_agent.domain.common import MAIN_LOCATION, card_key
from edge_agent.domain.credit import credit_key
from edge_agent.domain.membership import member_key, nik_key
from edge_agent.domain.savings import account_key
from edge_agent.domain.shop import price_key


def member(agent: EdgeAgent, member_id: str) -> dict[str, Any] | None:
    """A member as this device knows her: status, profile (current value per field), alias."""
    view = agent.view(member_key(member_id))
    if view is None:
        return None
    return {"member_id": member_id, **view}


def member_by_nik(agent: EdgeAgent, nik: str) -> dict[str, Any] | None:
    """The member registered here with this NIK (the NIK stays bound to its first member)."""
    owner = agent.view(nik_key(nik))
    return None if owner is None else member(agent, owner["member_id"])


def member_credit(agent: EdgeAgent, member_id: str) -> dict[str, Any]:
    """What a member bought on member credit, repaid and still owes, as this device knows
    it (zeros for a member who never bought on credit)."""
    view = agent.view(credit_key(member_id)) or {"sold": 0, "repaid": 0, "owed": 0}
    return {"member_id": member_id, **view}


def savings_account(agent: EdgeAgent, account_id: str) -> dict[str, Any] | None:
    view = agent.view(account_key(account_id))
    return None if view is None else {"account_id": account_id, **view}


def stock(agent: EdgeAgent, location: str | None = None) -> list[dict[str, Any]]:
    """On hand per (location, sku), with the sku's price when one is set."""
    prices = {row["sku"]: row["unit_price"] for row in price_list(agent)}
    prefix = "stock:" if location is None else f"stock:{location or MAIN_LOCATION}:"
    rows = []
    for key, view in agent.store.views(prefix):
        _, where, sku = key.split(":", 2)
        row = {"location": where, "sku": sku, "on_hand": view["on_hand"]}
        rows.append(row | {"unit_price": prices.get(sku)})
    return rows


def price_list(agent: EdgeAgent) -> list[dict[str, Any]]:
    """The current price of every sku a price was set for, by sku."""
    return [{"sku": key.split(":", 1)[1], **view} for key, view in agent.store.views(price_key(""))]


def allowance(agent: EdgeAgent, allowance_id: str) -> dict[str, Any] | None:
    """A redemption allowance with what is left of it (redemptions and rupiah)."""
    view = agent.view(allowance_key(allowance_id))
    if view is None or view["scope"] is None:
        return None
    return {"allowance_id": allowance_id, **view, **_left(view)}


def allowances(agent: EdgeAgent) -> list[dict[str, Any]]:
    """Every allowance this device received, with what is left of each."""
    return [
        {"allowance_id": key.split(":", 1)[1], **view, **_left(view)}
        for key, view in agent.store.views(allowance_key(""))
        if view["scope"] is not None
    ]


def _left(view: dict[str, Any]) -> dict[str, int]:
    return {
        "count_left": max(view["max_count"] - view["used_count"], 0),
        "value_left": max(view["max_value"] - view["used_value"], 0),
    }


def entitlement(agent: EdgeAgent, entitlement_id: str) -> dict[str, Any] | None:
    """An entitlement and whether it is redeemed on this device (and by which event)."""
    view = agent.view(entitlement_key(entitlement_id))
    if view is None or view["program"] is None:
        return None
    return _entitlement(entitlement_id, view)


def _entitlement(entitlement_id: str, view: dict[str, Any]) -> dict[str, Any]:
    status = "AVAILABLE" if view["redeemed_by"] is None else "REDEEMED"
    return {"entitlement_id": entitlement_id, **view, "status": status}


def card(agent: EdgeAgent, card_uid: str) -> dict[str, Any] | None:
    """A KHBS card: blocked or not, its entitlements known here and their value not yet used.

    Entitlements are found among the entitlement views (one per family and cycle that
    reached this device), so the cost grows with them, never with the log.
    """
    view = agent.view(card_key(card_uid))
    entitlements = [
        _entitlement(key.split(":", 1)[1], ent)
        for key, ent in agent.store.views(entitlement_key(""))
        if ent["card_uid"] == card_uid and ent["program"] is not None
    ]
    if view is None and not entitlements:
        return None
    view = view or {"beneficiary_id": None, "blocked": False, "reason": None}
    available = [e for e in entitlements if e["status"] == "AVAILABLE"]
    return {
        "card_uid": card_uid,
        **view,
        "entitlements": entitlements,
        "available_entitlements": len(available),
        "available_value": sum(e["value"] or 0 for e in available),
    }


def sync_status(agent: EdgeAgent) -> dict[str, Any]:
    """Identity, chain head, what the central confirmed, what waits, and the siblings heard of."""
    status = agent.status()
    # The downlink's own record of what it refused (edge_agent.app.downlink.REFUSED_META,
    # named here so that a lookup does not load the NATS client).
    refused = agent.store.meta("downlink_refused")
    return {
        **status,
        "downlink_refused": len(refused) if isinstance(refused, list) else 0,
    }
