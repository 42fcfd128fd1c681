"""Aid (KHBS): the card wallet, one per card and shared by the aid desk and the shop.

Conflict rules:
- The wallet is credited by the value entitlements granted to the card; debited by the
  winning redemption of each value entitlement (on the card it was redeemed with) and by
  KHBS payments at the shop (a void gives either back), all in total order; a debit beyond
  what is available is split covered/uncovered (OVERSPEND, with the devices and the kinds
  of debit, aid or shop, involved).
- A card block is final.
The card keeps its own credits and debits and re-derives from them, so a late arrival with
a smaller key re-resolves the split; an entry newer than every one applied so far
(``walked``, the usual case) is applied on the totals.

Rows: ``card`` (uid). Shared across cooperatives: ``coop_id`` is the owner (see
:func:`central_projector.projection.folds.base.claim_owner`). The entitlements that credit
and draw on it: :mod:`central_projector.projection.folds.aid`.
"""

from __future__ import annotations

from central_projector.projection.folds.base import Event, Okey, Row, State, claim_owner
from central_projector.projection.folds.conflicts import found, report

AID, SHOP = "aid", "shop"  # the two kinds of card debit


def card_row(state: State, uid: str) -> Row:
    return state.get("card", (uid,)) or {
        "card_uid": uid,
        "coop_id": None,
        "owner_src": None,
        "beneficiary_id": None,
        "issue_okey": None,
        "blocked": False,
        "block_reason": None,
        "block_okey": None,
        "credits": {},
        "debits": {},
        "credited": 0,
        "spent": 0,
        "overspend": 0,
        "available": 0,
        "devices_over": [],
        "kinds_over": [],
        "walked": None,
        "conflicts": {},
    }


def card_issued(state: State, ev: Event) -> None:
    row = card_row(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, True)
    if row["issue_okey"] is None or row["issue_okey"] < ev.okey:
        row["issue_okey"] = ev.okey
        row["beneficiary_id"] = ev.payload["beneficiary_id"]
    walk_card(state, row)


def card_blocked(state: State, ev: Event) -> None:
    row = card_row(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, False)
    row["blocked"] = True
    if row["block_okey"] is None or ev.okey < row["block_okey"]:
        row["block_okey"] = ev.okey
        row["block_reason"] = ev.payload["reason"]
    walk_card(state, row)


def sale_debit_key(coop: str, sale_id: str) -> str:
    return f"{coop}/{sale_id}"


def aid_debit_key(entitlement_id: str) -> str:
    return f"{AID}/{entitlement_id}"  # coop ids begin with digits: never "aid/"


def _kind(key: str) -> str:
    return AID if key.startswith(AID + "/") else SHOP


def card_debit(
    state: State, uid: str, key: str, okey: Okey, device: str, coop: str, amount: int
) -> None:
    """A debit of the card at ``okey``: a sale's KHBS payment (0 once the sale is voided)
    or a value entitlement's winning redemption; ``key`` names it (``*_debit_key``)."""
    row = card_row(state, uid)
    claim_owner(row, okey, coop, False)
    appended = key not in row["debits"] and (row["walked"] is None or okey > row["walked"])
    row["debits"][key] = [okey, device, amount, coop]
    if appended:  # the usual case: the newest debit of the card, applied on the totals
        row["walked"] = okey
        _card_step(row, amount, device, _kind(key))
        _card_finish(state, row)
    else:
        walk_card(state, row)


def card_forget(state: State, uid: str, key: str) -> None:
    """Drop a debit (a superseded sale recording, a redemption that no longer wins)."""
    row = card_row(state, uid)
    row["debits"].pop(key, None)
    walk_card(state, row)


def card_credit(state: State, ev: Event, uid: str, entitlement_id: str, value: int | None) -> None:
    """Every grant touches the card it names; only the standing grant credits it."""
    row = card_row(state, uid)
    claim_owner(row, ev.okey, ev.coop_id, False)
    appended = (
        value is not None
        and entitlement_id not in row["credits"]
        and (row["walked"] is None or ev.okey > row["walked"])
    )
    if value is None:
        row["credits"].pop(entitlement_id, None)
    else:
        row["credits"][entitlement_id] = [ev.okey, value]
    if appended and value is not None:  # the newest entry: a credit on the totals
        row["walked"] = ev.okey
        row["available"] += value
        row["credited"] += value
        _card_finish(state, row)
    else:
        walk_card(state, row)


def walk_card(state: State, row: Row) -> None:
    """Re-derive the wallet from its own entries in total order."""
    entries: list[tuple[Okey, int, str, str]] = [
        (c[0], c[1], "", "") for c in row["credits"].values()
    ]
    entries += [(d[0], -d[2], d[1], _kind(k)) for k, d in row["debits"].items()]
    entries.sort()
    row.update(available=0, credited=0, spent=0, overspend=0, devices_over=[], kinds_over=[],
               walked=None)  # fmt: skip
    for okey, amount, device, kind in entries:
        if amount >= 0 and device == "":
            row["available"] += amount
            row["credited"] += amount
        else:
            _card_step(row, -amount, device, kind)
        row["walked"] = okey
    _card_finish(state, row)


def _card_step(row: Row, debit: int, device: str, kind: str) -> None:
    """Apply one debit; the part beyond what is available is uncovered."""
    covered = min(debit, row["available"])
    row["available"] -= covered
    row["spent"] += debit
    if covered < debit:
        row["overspend"] += debit - covered
        if device not in row["devices_over"]:
            row["devices_over"] = sorted([*row["devices_over"], device])
        if kind not in row["kinds_over"]:
            row["kinds_over"] = sorted([*row["kinds_over"], kind])


def _card_finish(state: State, row: Row) -> None:
    items = []
    if row["overspend"]:
        detail = {
            "card_uid": row["card_uid"],
            "overspend": row["overspend"],
            "devices": row["devices_over"],
            "debits": row["kinds_over"],
        }
        items.append(("OVERSPEND", f"card:{row['card_uid']}", row["coop_id"], detail))
    report(state, row, found(*items))
    state.put("card", (row["card_uid"],), row)
