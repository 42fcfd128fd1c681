"""Small helpers shared by the edge's local rules: view access, rupiah, stock.

A reversible money movement (a savings deposit or withdrawal, a loan repayment) is
its own view, ``tx:{event_id}`` = ``{aggregate, kind, amount, reversed_by}``, so
that an account's view stays the same size however long its history.

Stock is one view per (location, sku), ``stock:{location}:{sku}`` = ``{on_hand}``;
a sale without a location takes from ``main``. Ids never contain ``:`` (they are
subject tokens), so the key parts cannot run into each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edge_agent.domain.base import Proposed, View, Views
from sync_core.errors import RuleViolation

MAIN_LOCATION = "main"
OVERRIDE_HINT = "--override-stock REASON"


def unique(keys: Iterable[str]) -> list[str]:
    """The keys once each, in first-seen order."""
    return list(dict.fromkeys(keys))


def loaded(views: Views, key: str) -> View | None:
    """The view at ``key`` (``None`` when it does not exist yet).

    A key that was never loaded is a bug in the caller, not an empty view: treating
    it as empty would overwrite the stored view on save.
    """
    try:
        return views[key]
    except KeyError:
        raise LookupError(
            f"view '{key}' was not loaded; load Rule.keys and Rule.more_keys "
            "(edge_agent.domain.base.load_for) before check and apply"
        ) from None


def get_or_add(views: Views, key: str, default: View) -> View:
    """The view at ``key``, created from ``default`` when it does not exist yet."""
    view = loaded(views, key)
    if view is None:
        view = default
        views[key] = view
    return view


def rupiah(amount: int) -> str:
    """``1250000`` → ``Rp1.250.000`` (Indonesian thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def masked(digits: str) -> str:
    """A NIK or KK number shown by its last four digits only (UU PDP: messages reach logs)."""
    return f"…{digits[-4:]}"


def card_key(card_uid: str) -> str:
    """A KHBS card, ``{beneficiary_id, blocked, reason, credits, spent}``: built by the
    downlink (``credits``: value entitlement id -> value granted to the card), spent by the
    aid desk and the shop (``spent``: what this device drew on it, voids given back)."""
    return f"card:{card_uid}"


def new_card() -> View:
    return {"beneficiary_id": None, "blocked": False, "reason": None, "credits": {}, "spent": 0}


def card_left(card: View | None) -> int:
    """What a card has left as this device knows it (views older than the wallet: 0 spent)."""
    if card is None:
        return 0
    credits: dict[str, int] = card.get("credits", {})
    return sum(credits.values()) - int(card.get("spent", 0))


def refuse_card_overspend(views: Views, card_uid: str, amount: int, what: str) -> None:
    """Refuse drawing ``amount`` from a KHBS card beyond what it has left (one wallet for
    the aid desk and the shop, as far as this device knows it offline)."""
    card = loaded(views, card_key(card_uid))
    left = card_left(card)
    if amount > left:
        granted = sum((card or {}).get("credits", {}).values())
        raise RuleViolation(
            "card_value_exhausted",
            f"KHBS card {card_uid} has {rupiah(max(left, 0))} left on this device "
            f"({rupiah(granted)} granted, {rupiah(granted - left)} already used), {what} "
            f"needs {rupiah(amount)}; take the rest in cash, or sync to receive new entitlements",
        )


def spend_card(views: Views, card_uid: str, amount: int) -> None:
    """Draw ``amount`` on the card (a negative amount gives it back)."""
    card = get_or_add(views, card_key(card_uid), new_card())
    card["spent"] = int(card.get("spent", 0)) + amount


def refuse_blocked_card(views: Views, card_uid: str) -> None:
    """Refuse a card the central has blocked."""
    card = loaded(views, card_key(card_uid))
    if card is not None and card["blocked"]:
        raise RuleViolation(
            "card_blocked",
            f"KHBS card {card_uid} is blocked ({card['reason']}); do not accept it, "
            "send the family to the cooperative office",
        )


# --- reversible transactions ---------------------------------------------------------


def tx_key(event_id: str) -> str:
    return f"tx:{event_id}"


def add_tx(views: Views, ev: Proposed, aggregate_key: str, kind: str) -> None:
    views[tx_key(ev.event_id)] = {
        "aggregate": aggregate_key,
        "kind": kind,
        "amount": ev.payload["amount"],
        "reversed_by": None,
    }


# --- stock ---------------------------------------------------------------------------


def stock_key(sku: str, location: str | None) -> str:
    return f"stock:{location or MAIN_LOCATION}:{sku}"


def qty_by_sku(lines: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Sum the quantities of lines per sku (a sku may appear on several lines)."""
    out: dict[str, int] = {}
    for line in lines:
        qty: int = line["qty"]
        out[line["sku"]] = out.get(line["sku"], 0) + qty
    return out


def stock_keys(lines: Iterable[dict[str, Any]], location: str | None) -> list[str]:
    return unique(stock_key(line["sku"], location) for line in lines)


def on_hand(views: Views, sku: str, location: str | None) -> int:
    view = loaded(views, stock_key(sku, location))
    if view is None:
        return 0
    have: int = view["on_hand"]
    return have


def move_stock(views: Views, sku: str, location: str | None, delta: int) -> None:
    view = get_or_add(views, stock_key(sku, location), {"on_hand": 0})
    view["on_hand"] = view["on_hand"] + delta


def set_stock(views: Views, sku: str, location: str | None, count: int) -> None:
    get_or_add(views, stock_key(sku, location), {"on_hand": 0})["on_hand"] = count


def refuse_negative_stock(
    views: Views, lines: Iterable[dict[str, Any]], location: str | None, override: str | None
) -> None:
    """Refuse taking ``lines`` from ``location`` if any sku would go below zero.

    An operator may override with a reason; the event then records that reason and
    the central flags the negative on-hand (stock is never a reason to
    reject a sale that already happened).
    """
    if override:
        return
    for sku, wanted in qty_by_sku(lines).items():
        have = on_hand(views, sku, location)
        if have - wanted < 0:
            raise RuleViolation(
                "negative_stock",
                f"not enough {sku} at {location or MAIN_LOCATION}: on hand {have}, "
                f"requested {wanted}. Record the goods received or a stock count first, "
                f"or record anyway with {OVERRIDE_HINT} (the reason is kept with the event).",
            )


def take_stock(views: Views, lines: Iterable[dict[str, Any]], location: str | None) -> None:
    for sku, qty in qty_by_sku(lines).items():
        move_stock(views, sku, location, -qty)


def return_stock(views: Views, lines: Iterable[dict[str, Any]], location: str | None) -> None:
    for sku, qty in qty_by_sku(lines).items():
        move_stock(views, sku, location, qty)
