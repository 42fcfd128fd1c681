"""Shop and stock: sales per day and sku, stock on hand per location, prices, quotas.

Conflict rules:
- A sale is never rejected. Stock is the sum of its movements (receipts, sales, voids,
  adjustments, shipments out and in), which commutes.
- A count fixes the on-hand by an implied adjustment: on hand = the quantity of the
  latest count by total order + Σ movements after it. Movements are kept in a ledger
  so that a count arriving late is placed where it belongs.
- On hand below zero raises NEGATIVE_STOCK (location, sku) for as long as it lasts.
- A void takes its sale out of the sales figures and puts the goods back (at the void's
  place in the total order); only the first void by total order counts.
- Prices: last writer by total order; quotas add up.
- A sale paid by member credit is the member's receivable (:mod:`.receivables`).
- A sale has no business date of its own: its day is the local day of its HLC wall time
  in the cooperative's time zone (WIB, WITA or WIT from the province code,
  :mod:`sync_core.localtime`), so a sale after midnight in Samarinda (UTC+8) or Jayapura
  (UTC+9) lands on its own day.

Rows:
- ``sale`` (coop, sale_id) = ``{recorded, sale_okey, void_okey, day, location, lines,
  card_uid, khbs, total}``; sale ids are minted per device, so one id is one sale (were
  one id recorded twice, the first recording by total order stands);
- ``sales_day`` (coop, day, sku) = ``{qty, amount, lines}`` sold and the same voided;
- ``stock`` (coop, location, sku) = ``{total, count_okey, count_qty, before, on_hand,
  received, sold, returned, adjusted, shipped_out, shipped_in, counts, asof}``
  (``asof``: its movements and counts by day, :mod:`.stock_dated`);
- ``price`` (coop, sku) = ``{unit_price, effective_from, okey}``;
- ``quota`` (coop, program, sku, period) = ``{qty, allocations}``.
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds import aid_cards, quota, receivables, stock_dated
from central_projector.projection.folds.base import Event, Okey, Row, State
from central_projector.projection.folds.conflicts import found, report
from sync_core.localtime import local_day

MAIN = "main"
_OUTFLOWS = frozenset({"sold", "shipped_out"})  # counted as positive quantities


def business_day(wall_ms: int, coop_id: str) -> str:
    """The cooperative's local day of an HLC wall time (events without a business date)."""
    return local_day(wall_ms, coop_id)


# --- stock ---------------------------------------------------------------------------


def _stock(state: State, key: tuple[str, str, str]) -> Row:
    return state.get("stock", key) or {
        "coop_id": key[0],
        "location": key[1],
        "sku": key[2],
        "total": 0,
        "count_okey": None,
        "count_qty": 0,
        "before": 0,
        "on_hand": 0,
        "received": 0,
        "sold": 0,
        "returned": 0,
        "adjusted": 0,
        "shipped_out": 0,
        "shipped_in": 0,
        "counts": 0,
        "cost_qty": 0,
        "cost_value": 0,
        "conflicts": {},
        "asof": {},
    }


def move(
    state: State, coop: str, location: str, sku: str, okey: Okey, delta: int, column: str
) -> None:
    """One stock movement of ``delta`` (signed) at ``okey``, counted under ``column``."""
    key = (coop, location, sku)
    row = _stock(state, key)
    row["total"] += delta
    counted = -delta if column in _OUTFLOWS else delta
    row[column] += counted
    if row["count_okey"] is not None and okey < row["count_okey"]:
        row["before"] += delta
    state.add_move(key, okey, delta)
    stock_dated.moved(state, row, okey, delta, column, counted)
    _finish(state, row, key)


def _finish(state: State, row: Row, key: tuple[str, str, str]) -> None:
    if row["count_okey"] is None:
        row["on_hand"] = row["total"]
    else:
        row["on_hand"] = row["count_qty"] + row["total"] - row["before"]
    if row["on_hand"] < 0 or row["conflicts"]:
        items = []
        if row["on_hand"] < 0:
            # the figure itself is in the stock view; the item changes only as it
            # goes below zero and back, not with every sale in between
            detail = {"location": key[1], "sku": key[2]}
            subject = f"stock:{key[0]}:{key[1]}:{key[2]}"
            items.append(("NEGATIVE_STOCK", subject, key[0], detail))
        report(state, row, found(*items))
    if (
        row["sold"]
        or row["received"]
        or row["counts"]
        or row["adjusted"]
        or row["returned"]
        or row["shipped_out"]
        or row["shipped_in"]
    ):
        state.put("stock", key, row)
    else:  # only a superseded recording ever moved it
        stock_dated.gone(state, row)
        state.delete("stock", key)


def counted(state: State, ev: Event) -> None:
    p = ev.payload
    key = (ev.coop_id, p["location"], p["sku"])
    row = _stock(state, key)
    row["counts"] += 1
    if row["count_okey"] is None or ev.okey > row["count_okey"]:
        row["count_okey"] = ev.okey
        row["count_qty"] = p["counted_qty"]
        # Usually the count is later than every movement known: then all of them are
        # before it and the ledger need not be asked.
        late = state.moves_after(key, ev.okey)
        row["before"] = state.moves_before(key, ev.okey) if late else row["total"]
        before = row["before"]
    else:
        before = state.moves_before(key, ev.okey)
    stock_dated.counted(state, row, ev.okey, p["counted_qty"], before)
    _finish(state, row, key)


def received(state: State, ev: Event) -> None:
    p = ev.payload
    quota.count(state, ev.coop_id, p["sku"], business_day(ev.key[0], ev.coop_id)[:7],
                "received", p["qty"])  # fmt: skip
    if p.get("unit_cost") is not None:  # what the goods cost, for the cost of goods sold
        key = (ev.coop_id, p["location"], p["sku"])
        row = _stock(state, key)
        row["cost_qty"] += p["qty"]
        row["cost_value"] += p["qty"] * p["unit_cost"]
        state.put("stock", key, row)
    move(state, ev.coop_id, p["location"], p["sku"], ev.okey, p["qty"], "received")


def adjusted(state: State, ev: Event) -> None:
    p = ev.payload
    move(state, ev.coop_id, p["location"], p["sku"], ev.okey, p["delta"], "adjusted")


# --- sales ---------------------------------------------------------------------------


def _sale(state: State, ev: Event) -> tuple[Row, tuple[str, str]]:
    key = (ev.coop_id, ev.aggregate_id)
    row = state.get("sale", key) or {
        "coop_id": key[0],
        "sale_id": key[1],
        "recorded": False,
        "sale_okey": None,
        "void_okey": None,
        "day": None,
        "location": None,
        "lines": [],
        "card_uid": None,
        "khbs": 0,
        "total": 0,
        "member_id": None,
        "credit": 0,
    }
    return row, key


def _goods(row: Row, state: State, okey: Okey, sign: int, column: str) -> None:
    for sku, qty, _price in row["lines"]:
        move(state, row["coop_id"], row["location"], sku, okey, sign * qty, column)


def _sales_figures(state: State, row: Row, sign: int, live: bool) -> None:
    """Add a sale's lines to its day, as sold (``live``) or as voided."""
    prefix = "" if live else "voided_"
    for sku, qty, price in row["lines"]:
        key = (row["coop_id"], row["day"], sku)
        day = state.get("sales_day", key) or {
            "coop_id": key[0],
            "day": key[1],
            "sku": sku,
            "qty": 0,
            "amount": 0,
            "lines": 0,
            "voided_qty": 0,
            "voided_amount": 0,
            "voided_lines": 0,
        }
        if live:
            quota.count(state, row["coop_id"], sku, row["day"][:7], "sold", sign * qty)
        day[prefix + "qty"] += sign * qty
        day[prefix + "amount"] += sign * qty * price
        day[prefix + "lines"] += sign
        if day["lines"] or day["voided_lines"]:
            state.put("sales_day", key, day)
        else:  # a superseded recording was all that was on this day
            state.delete("sales_day", key)


def sale_recorded(state: State, ev: Event) -> None:
    row, key = _sale(state, ev)
    if row["recorded"]:
        if row["sale_okey"] <= ev.okey:
            return
        _unrecord(state, row)  # one id, two recordings: the first by total order stands
    p = ev.payload
    row["recorded"] = True
    row["sale_okey"] = ev.okey
    row["day"] = business_day(ev.key[0], ev.coop_id)
    row["location"] = p.get("location") or MAIN
    row["lines"] = [[x["sku"], x["qty"], x["unit_price"]] for x in p["lines"]]
    row["total"] = sum(q * u for _, q, u in row["lines"])
    row["card_uid"] = p.get("card_uid")
    row["khbs"] = sum(x["amount"] for x in p["payments"] if x["method"] == "khbs")
    row["member_id"] = p.get("member_id")  # the member's purchases: jasa usaha of the RAT
    row["credit"] = sum(x["amount"] for x in p["payments"] if x["method"] == "member_credit")
    _goods(row, state, ev.okey, -1, "sold")
    live = row["void_okey"] is None
    if not live:
        _goods(row, state, row["void_okey"], +1, "returned")
    _sales_figures(state, row, +1, live)
    _card_payment(state, row, live)
    if live:
        receivables.sale_credit(state, row, +1)
    state.put("sale", key, row)


def _unrecord(state: State, row: Row) -> None:
    """Take back everything a recording did, by compensating movements at the same keys."""
    live = row["void_okey"] is None
    _goods(row, state, row["sale_okey"], +1, "sold")
    if not live:
        _goods(row, state, row["void_okey"], -1, "returned")
    _sales_figures(state, row, -1, live)
    if live:
        receivables.sale_credit(state, row, -1)
    if row["khbs"] and row["card_uid"]:
        key = aid_cards.sale_debit_key(row["coop_id"], row["sale_id"])
        aid_cards.card_forget(state, row["card_uid"], key)


def _card_payment(state: State, row: Row, live: bool) -> None:
    if row["khbs"] and row["card_uid"]:
        okey = row["sale_okey"]
        amount = row["khbs"] if live else 0
        key = aid_cards.sale_debit_key(row["coop_id"], row["sale_id"])
        aid_cards.card_debit(state, row["card_uid"], key, okey, okey[2], row["coop_id"], amount)


def sale_voided(state: State, ev: Event) -> None:
    row, key = _sale(state, ev)
    previous = row["void_okey"]
    if previous is not None and previous <= ev.okey:
        return
    row["void_okey"] = ev.okey
    if row["recorded"]:
        if previous is not None:
            _goods(row, state, previous, -1, "returned")
        else:
            _sales_figures(state, row, -1, True)
            _sales_figures(state, row, +1, False)
            _card_payment(state, row, False)
            receivables.sale_credit(state, row, -1)
        _goods(row, state, ev.okey, +1, "returned")
    state.put("sale", key, row)


# --- prices and quotas ---------------------------------------------------------------


def price_set(state: State, ev: Event) -> None:
    p = ev.payload
    key = (ev.coop_id, p["sku"])
    row = state.get("price", key)
    if row is None or row["okey"] < ev.okey:
        state.put(
            "price",
            key,
            {
                "coop_id": key[0],
                "sku": key[1],
                "unit_price": p["unit_price"],
                "effective_from": p.get("effective_from"),
                "okey": ev.okey,
            },
        )


def quota_allocated(state: State, ev: Event) -> None:
    p = ev.payload
    key = (ev.coop_id, p["program"], p["sku"], p["period"])
    row: dict[str, Any] = state.get("quota", key) or {
        "coop_id": key[0],
        "program": key[1],
        "sku": key[2],
        "period": key[3],
        "qty": 0,
        "allocations": 0,
    }
    row["qty"] += p["qty"]
    row["allocations"] += 1
    state.put("quota", key, row)
    quota.count(state, ev.coop_id, p["sku"], p["period"], "allocated", p["qty"])


HANDLERS = {
    "PriceSet": price_set,
    "SaleRecorded": sale_recorded,
    "SaleVoided": sale_voided,
    "StockReceived": received,
    "StockAdjusted": adjusted,
    "StockCounted": counted,
    "QuotaAllocated": quota_allocated,
    **receivables.HANDLERS,
}
