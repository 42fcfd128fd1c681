"""Shop and stock: prices, sales at the counter, goods in and out, quotas.

Rules:
- A sale id is recorded once (``duplicate_sale``); its payments add up to Σ qty × unit
  price of its lines (``payment_mismatch``).
- A sale naming a member needs the member registered on this device (``unknown_member``);
  a ``member_credit`` payment needs a member (``member_missing``), who has not resigned
  (``member_resigned``): it is the member's receivable until repaid
  (:mod:`edge_agent.domain.credit`).
- A line's unit price is the price set here for its sku (``price_mismatch``) unless the
  sale carries ``price_override_reason`` (``--override-price REASON``); a sku with no
  price set here is sold at the price given.
- No negative stock unless the operator overrides with a reason: each sku sold must be on
  hand at the sale's location (``main`` when none is given), else ``negative_stock``,
  unless the sale carries ``stock_override_reason`` (``--override-stock REASON``).
- A KHBS card payment names its card (``card_missing``); a card the central has blocked
  is refused (``card_blocked``), and so is a payment beyond what the card has left as this
  device knows it (``card_value_exhausted``): one wallet, shared with the aid desk.
- A void needs a recorded sale (``unknown_sale``) not voided before (``already_voided``);
  it puts the sold goods back where they were taken from, a KHBS payment back on its
  card, and takes a member credit off what the member owes.
- Stock received adds; an adjustment adds its signed delta and is never refused (it
  always carries a reason, which stands as the operator's override); a count sets the
  on-hand to what was counted.
- ``PriceSet`` records the current price of a sku. ``QuotaAllocated`` (central) adds to
  the quota of (program, sku, period); stock moves only when the goods are received.

Stock views are keyed on the payload's sku and location, never on ``aggregate_id``: the
caller chooses the aggregate id of StockItem events.

Views:
- ``price:{sku}`` = ``{unit_price, effective_from}``;
- ``sale:{sale_id}`` = ``{location, lines: [{sku, qty}], total, voided_by, card_uid,
  khbs}``, with ``member_id`` and ``credit`` when paid on member credit (the line list is
  bounded by the schema);
- ``stock:{location}:{sku}`` = ``{on_hand}`` (see :mod:`edge_agent.domain.common`);
- ``quota:{program}:{sku}:{period}`` = ``{qty}``.
"""

from __future__ import annotations

from typing import Any

from edge_agent.domain import credit
from edge_agent.domain.base import Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import (
    MAIN_LOCATION,
    card_key,
    get_or_add,
    loaded,
    move_stock,
    refuse_blocked_card,
    refuse_card_overspend,
    refuse_negative_stock,
    return_stock,
    rupiah,
    set_stock,
    spend_card,
    stock_key,
    stock_keys,
    take_stock,
    unique,
)
from edge_agent.domain.membership import known_member, member_key
from sync_core.errors import RuleViolation


def sale_key(sale_id: str) -> str:
    return f"sale:{sale_id}"


def price_key(sku: str) -> str:
    return f"price:{sku}"


def quota_key(program: str, sku: str, period: str) -> str:
    return f"quota:{program}:{sku}:{period}"


def _item_keys(ev: Proposed) -> list[str]:
    return [stock_key(ev.payload["sku"], ev.payload["location"])]


# --- PriceSet ------------------------------------------------------------------------


def _price_keys(ev: Proposed) -> list[str]:
    return [price_key(ev.payload["sku"])]


def _apply_price(views: Views, ev: Proposed) -> None:
    views[price_key(ev.payload["sku"])] = {
        "unit_price": ev.payload["unit_price"],
        "effective_from": ev.payload.get("effective_from"),
    }


# --- SaleRecorded --------------------------------------------------------------------


def _sale_keys(ev: Proposed) -> list[str]:
    keys = [sale_key(ev.aggregate_id), *stock_keys(ev.payload["lines"], _location(ev))]
    if "card_uid" in ev.payload:
        keys.append(card_key(ev.payload["card_uid"]))
    if "member_id" in ev.payload:
        keys.append(member_key(ev.payload["member_id"]))
        keys.append(credit.credit_key(ev.payload["member_id"]))
    keys += unique(price_key(line["sku"]) for line in ev.payload["lines"])
    return keys


def _location(ev: Proposed) -> str:
    location: str = ev.payload.get("location") or MAIN_LOCATION
    return location


def _total(lines: list[dict[str, Any]]) -> int:
    return sum(int(line["qty"]) * int(line["unit_price"]) for line in lines)


def _check_sale(views: Views, ev: Proposed) -> None:
    if loaded(views, sale_key(ev.aggregate_id)) is not None:
        raise RuleViolation(
            "duplicate_sale",
            f"sale {ev.aggregate_id} is already recorded on this device; use a new sale number",
        )
    total = _total(ev.payload["lines"])
    paid = sum(int(p["amount"]) for p in ev.payload["payments"])
    if paid != total:
        raise RuleViolation(
            "payment_mismatch",
            f"the lines total {rupiah(total)} but the payments total {rupiah(paid)}; "
            "make the payments add up to the lines",
        )
    khbs = _khbs(ev.payload)
    if khbs and "card_uid" not in ev.payload:
        raise RuleViolation(
            "card_missing",
            f"a KHBS payment of {rupiah(khbs)} needs the card it is paid with; "
            "tap the family's card (--card UID)",
        )
    if khbs:
        refuse_blocked_card(views, ev.payload["card_uid"])
        refuse_card_overspend(views, ev.payload["card_uid"], khbs, "this payment")
    _refuse_unknown_buyer(views, ev.payload)
    if not ev.payload.get("price_override_reason"):
        _refuse_off_price(views, ev.payload["lines"])
    refuse_negative_stock(
        views, ev.payload["lines"], _location(ev), ev.payload.get("stock_override_reason")
    )


def _refuse_unknown_buyer(views: Views, payload: dict[str, Any]) -> None:
    on_credit = _credit(payload)
    member_id = payload.get("member_id")
    if on_credit and member_id is None:
        raise RuleViolation(
            "member_missing",
            f"a member credit of {rupiah(on_credit)} needs the member who owes it; "
            "name the member (--member ID)",
        )
    if member_id is not None:
        known_member(views, member_id, resigned_ok=not on_credit)


def _credit(payload: dict[str, Any]) -> int:
    return sum(int(p["amount"]) for p in payload["payments"] if p["method"] == "member_credit")


def _refuse_off_price(views: Views, lines: list[dict[str, Any]]) -> None:
    for line in lines:
        listed = loaded(views, price_key(line["sku"]))
        if listed is not None and int(line["unit_price"]) != int(listed["unit_price"]):
            raise RuleViolation(
                "price_mismatch",
                f"{line['sku']} is priced {rupiah(int(listed['unit_price']))} on this device, "
                f"not {rupiah(int(line['unit_price']))}; sell at the set price, set a new "
                "price first, or record anyway with --override-price REASON (the reason is "
                "kept with the event)",
            )


def _khbs(payload: dict[str, Any]) -> int:
    return sum(int(p["amount"]) for p in payload["payments"] if p["method"] == "khbs")


def _apply_sale(views: Views, ev: Proposed) -> None:
    location = _location(ev)
    lines = [{"sku": line["sku"], "qty": line["qty"]} for line in ev.payload["lines"]]
    khbs = _khbs(ev.payload) if "card_uid" in ev.payload else 0
    member_id = ev.payload.get("member_id")
    on_credit = _credit(ev.payload) if member_id is not None else 0
    sold: View = {
        "location": location,
        "lines": lines,
        "total": _total(ev.payload["lines"]),
        "voided_by": None,
        "card_uid": ev.payload.get("card_uid"),
        "khbs": khbs,
    }
    views[sale_key(ev.aggregate_id)] = sold
    take_stock(views, lines, location)
    if khbs:
        spend_card(views, ev.payload["card_uid"], khbs)
    if member_id is not None and on_credit:
        sold |= {"member_id": member_id, "credit": on_credit}
        credit.charge(views, member_id, on_credit)


# --- SaleVoided ----------------------------------------------------------------------


def _void_keys(ev: Proposed) -> list[str]:
    return [sale_key(ev.aggregate_id)]


def _void_more_keys(views: Views, ev: Proposed) -> list[str]:
    sale = views.get(sale_key(ev.aggregate_id))
    if sale is None:
        return []
    keys = stock_keys(sale["lines"], sale["location"])
    if sale.get("khbs"):
        keys.append(card_key(sale["card_uid"]))
    if sale.get("credit"):
        keys.append(credit.credit_key(sale["member_id"]))
    return keys


def _check_void(views: Views, ev: Proposed) -> None:
    sale = loaded(views, sale_key(ev.aggregate_id))
    if sale is None:
        raise RuleViolation(
            "unknown_sale",
            f"sale {ev.aggregate_id} is not recorded on this device; check the sale number",
        )
    if sale["voided_by"] is not None:
        raise RuleViolation(
            "already_voided",
            f"sale {ev.aggregate_id} was already voided by event {sale['voided_by']}",
        )


def _apply_void(views: Views, ev: Proposed) -> None:
    sale = loaded(views, sale_key(ev.aggregate_id))
    if sale is None or sale["voided_by"] is not None:
        return  # nothing was taken, or it was already given back
    sale["voided_by"] = ev.event_id
    return_stock(views, sale["lines"], sale["location"])
    if sale.get("khbs"):
        spend_card(views, sale["card_uid"], -sale["khbs"])
    if sale.get("credit"):
        credit.charge(views, sale["member_id"], -sale["credit"])


# --- StockReceived, StockAdjusted, StockCounted --------------------------------------


def _apply_received(views: Views, ev: Proposed) -> None:
    move_stock(views, ev.payload["sku"], ev.payload["location"], ev.payload["qty"])


def _apply_adjusted(views: Views, ev: Proposed) -> None:
    move_stock(views, ev.payload["sku"], ev.payload["location"], ev.payload["delta"])


def _apply_counted(views: Views, ev: Proposed) -> None:
    set_stock(views, ev.payload["sku"], ev.payload["location"], ev.payload["counted_qty"])


# --- QuotaAllocated (central) --------------------------------------------------------


def _quota_keys(ev: Proposed) -> list[str]:
    p = ev.payload
    return [quota_key(p["program"], p["sku"], p["period"])]


def _apply_quota(views: Views, ev: Proposed) -> None:
    quota = get_or_add(views, _quota_keys(ev)[0], {"qty": 0})
    quota["qty"] += ev.payload["qty"]


RULES: dict[str, Rule] = {
    "PriceSet": Rule(_price_keys, no_check, _apply_price),
    "SaleRecorded": Rule(_sale_keys, _check_sale, _apply_sale),
    "SaleVoided": Rule(_void_keys, _check_void, _apply_void, more_keys=_void_more_keys),
    "StockReceived": Rule(_item_keys, no_check, _apply_received),
    "StockAdjusted": Rule(_item_keys, no_check, _apply_adjusted),
    "StockCounted": Rule(_item_keys, no_check, _apply_counted),
    "QuotaAllocated": Rule(_quota_keys, no_check, _apply_quota),
}
