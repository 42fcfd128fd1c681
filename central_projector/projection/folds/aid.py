"""Aid (KHBS): entitlements, redemptions, allowances, cards and reimbursement claims.

Conflict rules:
- Same entitlement redeemed at two offline counters (or cooperatives): the redemption
  with the smallest total-order key wins; the others are DUPLICATE, kept, and their
  value is *value at risk*. Every redemption is a reimbursement claim of the cooperative
  that made it: the winner's CLAIMED, each duplicate's DISPUTED (DUPLICATE_REDEMPTION).
- An entitlement is worth its granted value (one by items: what its winning redemption
  records); redeemed = the winner's value, remaining = worth − redeemed (never below 0).
  Each rupiah at risk is counted once: a duplicate's value is *value at risk* of the
  entitlement, and only the winner draws on the card.
- Allowance overspent: the allowance's debits (non-voided redemptions naming it) are
  applied in total order against its max count and value; the debit that crosses zero
  is split covered/uncovered (OVERSPEND with the overspend and the devices involved).
- KHBS card wallet, one per card and shared by the aid desk and the shop: credited by the
  value entitlements granted to the card; debited by the winning redemption of each value
  entitlement (on the card it was redeemed with) and by KHBS payments at the shop (a void
  gives either back), all in total order; a debit beyond what is available is split the
  same way (OVERSPEND, with the devices and the kinds of debit, aid or shop, involved).
- A void cancels the redemption it names (before or after it arrives): no claim, no
  debit. A card block is final.
Each aggregate keeps its own small list of debits/redemptions and re-derives from it,
so a late arrival with a smaller key re-resolves the winner and the split; a debit newer
than every one applied so far (``walked``, the usual case) is applied on the totals.

Rows: ``entitlement`` (id), ``claim`` (redemption event id), ``allowance`` (id),
``card`` (uid), ``beneficiary`` (id). Shared across cooperatives: ``coop_id`` is the
owner (see :func:`central_projector.projection.folds.base.claim_owner`).
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds import aid_dated
from central_projector.projection.folds.base import Event, Okey, Row, State, claim_owner
from central_projector.projection.folds.conflicts import found, report

# --- beneficiaries and cards --------------------------------------------------------------

AID, SHOP = "aid", "shop"  # the two kinds of card debit


def enrolled(state: State, ev: Event) -> None:
    key = (ev.aggregate_id,)
    row = state.get("beneficiary", key)
    if row is None or row["okey"] < ev.okey:
        p = ev.payload
        state.put(
            "beneficiary",
            key,
            {
                "beneficiary_id": ev.aggregate_id,
                "coop_id": ev.coop_id,
                "home_coop": p["home_coop"],
                "kk_no": p["kk_no"],
                "head_name": p.get("head_name"),
                "okey": ev.okey,
            },
        )


def _card(state: State, uid: str) -> Row:
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
    row = _card(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, True)
    if row["issue_okey"] is None or row["issue_okey"] < ev.okey:
        row["issue_okey"] = ev.okey
        row["beneficiary_id"] = ev.payload["beneficiary_id"]
    _walk_card(state, row)


def card_blocked(state: State, ev: Event) -> None:
    row = _card(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, False)
    row["blocked"] = True
    if row["block_okey"] is None or ev.okey < row["block_okey"]:
        row["block_okey"] = ev.okey
        row["block_reason"] = ev.payload["reason"]
    _walk_card(state, row)


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
    row = _card(state, uid)
    claim_owner(row, okey, coop, False)
    appended = key not in row["debits"] and (row["walked"] is None or okey > row["walked"])
    row["debits"][key] = [okey, device, amount, coop]
    if appended:  # the usual case: the newest debit of the card, applied on the totals
        row["walked"] = okey
        _card_step(row, amount, device, _kind(key))
        _card_finish(state, row)
    else:
        _walk_card(state, row)


def card_forget(state: State, uid: str, key: str) -> None:
    """Drop a debit (a superseded sale recording, a redemption that no longer wins)."""
    row = _card(state, uid)
    row["debits"].pop(key, None)
    _walk_card(state, row)


def _card_credit(state: State, ev: Event, uid: str, entitlement_id: str, value: int | None) -> None:
    """Every grant touches the card it names; only the standing grant credits it."""
    row = _card(state, uid)
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
        _walk_card(state, row)


def _walk_card(state: State, row: Row) -> None:
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


# --- allowances ---------------------------------------------------------------------------


def _allowance(state: State, allowance_id: str) -> Row:
    return state.get("allowance", (allowance_id,)) or {
        "allowance_id": allowance_id,
        "coop_id": None,
        "owner_src": None,
        "scope": None,
        "device_id": None,
        "program": None,
        "cycle": None,
        "max_count": 0,
        "max_value": 0,
        "alloc_okey": None,
        "debits": {},
        "used_count": 0,
        "used_value": 0,
        "over_count": 0,
        "over_value": 0,
        "available_count": 0,
        "available_value": 0,
        "devices_over": [],
        "walked": None,
        "conflicts": {},
    }


def allocated(state: State, ev: Event) -> None:
    row = _allowance(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, True)
    if row["alloc_okey"] is None or row["alloc_okey"] < ev.okey:
        p = ev.payload
        row["alloc_okey"] = ev.okey
        row["scope"] = p["scope"]
        row["device_id"] = p.get("device_id")
        row["program"] = p["program"]
        row["cycle"] = p["cycle"]
        row["max_count"] = p["max_count"]
        row["max_value"] = p["max_value"]
    _walk_allowance(state, row)


def _allowance_debit(
    state: State, redemption_id: str, redemption: list[Any], entitlement_id: str, live: bool
) -> None:
    """Add (``live``) or take back a redemption's debit; ownership as the redemption says."""
    okey, coop, device, value, allowance_id, _card_uid = redemption
    row = _allowance(state, allowance_id)
    claim_owner(row, okey, coop, False)
    appended = (
        live
        and redemption_id not in row["debits"]
        and (row["walked"] is None or okey > row["walked"])
    )
    if live:
        row["debits"][redemption_id] = [okey, device, value, entitlement_id]
    else:
        row["debits"].pop(redemption_id, None)
    if appended:  # the usual case: the newest debit, applied on the totals
        row["walked"] = okey
        _allowance_step(row, value, device)
        _allowance_finish(state, row)
    else:
        _walk_allowance(state, row)


def _walk_allowance(state: State, row: Row) -> None:
    """Re-derive the allowance's use from its own debits in total order."""
    row.update(used_count=0, used_value=0, over_count=0, over_value=0, devices_over=[])
    row["walked"] = None
    for okey, device, amount, _entitlement in sorted(row["debits"].values()):
        _allowance_step(row, amount, device)
        row["walked"] = okey
    _allowance_finish(state, row)


def _allowance_step(row: Row, amount: int, device: str) -> None:
    """Apply one debit against max count and value; the crossing one is split."""
    over = False
    if row["used_count"] >= row["max_count"]:
        row["over_count"] += 1
        row["over_value"] += amount
        over = True
    else:
        covered = min(amount, row["max_value"] - row["used_value"])
        row["used_count"] += 1
        row["used_value"] += covered
        if covered < amount:
            row["over_value"] += amount - covered
            over = True
    if over and device not in row["devices_over"]:
        row["devices_over"] = sorted([*row["devices_over"], device])


def _allowance_finish(state: State, row: Row) -> None:
    row["available_count"] = row["max_count"] - row["used_count"]
    row["available_value"] = row["max_value"] - row["used_value"]
    items = []
    if row["over_count"] or row["over_value"]:
        detail = {
            "allowance_id": row["allowance_id"],
            "overspend_count": row["over_count"],
            "overspend_value": row["over_value"],
            "devices": row["devices_over"],
        }
        items.append(("OVERSPEND", f"allowance:{row['allowance_id']}", row["coop_id"], detail))
    report(state, row, found(*items))
    state.put("allowance", (row["allowance_id"],), row)


# --- entitlements and redemptions ---------------------------------------------------------


def _entitlement(state: State, entitlement_id: str) -> Row:
    return state.get("entitlement", (entitlement_id,)) or {
        "entitlement_id": entitlement_id,
        "coop_id": None,
        "owner_src": None,
        "beneficiary_id": None,
        "card_uid": None,
        "program": None,
        "cycle": None,
        "value": None,
        "items": None,
        "grant_okey": None,
        "redemptions": {},
        "voided": [],
        "winner": None,
        "status": "UNKNOWN",
        "worth": 0,
        "redeemed_value": 0,
        "remaining": 0,
        "duplicates": [],
        "value_at_risk": 0,
        "card_draw": None,
        "claims": {},
        "conflicts": {},
        "asof": {},
    }


def granted(state: State, ev: Event) -> None:
    row = _entitlement(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, True)
    aid_dated.seen(row, ev)
    p = ev.payload
    if row["grant_okey"] is not None and row["grant_okey"] > ev.okey:
        card = _card(state, p["card_uid"])  # superseded: it only touches its card
        claim_owner(card, ev.okey, ev.coop_id, False)
        _walk_card(state, card)
    else:
        old_card = row["card_uid"]
        row["grant_okey"] = ev.okey
        for field in ("beneficiary_id", "card_uid", "program", "cycle"):
            row[field] = p[field]
        row["value"] = p.get("value")
        row["items"] = p.get("items")
        if old_card is not None and old_card != row["card_uid"]:
            _card_credit(state, ev, old_card, ev.aggregate_id, None)
        _card_credit(state, ev, row["card_uid"], ev.aggregate_id, row["value"])
    _derive(state, row)


def redeemed(state: State, ev: Event) -> None:
    row = _entitlement(state, ev.aggregate_id)
    if ev.event_id in row["redemptions"]:
        return
    claim_owner(row, ev.okey, ev.coop_id, False)
    aid_dated.seen(row, ev)
    p = ev.payload
    redemption = [ev.okey, ev.coop_id, ev.device_id, p["value"], p["allowance_id"], p["card_uid"]]
    row["redemptions"][ev.event_id] = redemption
    live = ev.event_id not in row["voided"]
    _allowance_debit(state, ev.event_id, redemption, ev.aggregate_id, live)
    _derive(state, row)


def voided(state: State, ev: Event) -> None:
    row = _entitlement(state, ev.aggregate_id)
    claim_owner(row, ev.okey, ev.coop_id, False)
    target = ev.payload["redemption_event_id"]
    aid_dated.voided(row, target, ev)
    if target not in row["voided"]:
        row["voided"] = sorted([*row["voided"], target])
        redemption = row["redemptions"].get(target)
        if redemption is not None:
            _allowance_debit(state, target, redemption, ev.aggregate_id, False)
    _derive(state, row)


def _derive(state: State, row: Row) -> None:
    voided_ids = set(row["voided"])
    live = sorted((r[0], eid, r) for eid, r in row["redemptions"].items() if eid not in voided_ids)
    winner = live[0] if live else None
    redeemed_value = winner[2][3] if winner else 0
    worth = row["value"] if row["value"] is not None else redeemed_value
    dups = [
        {"event_id": eid, "coop_id": r[1], "device_id": r[2], "value": r[3]}
        for _, eid, r in live[1:]
    ]
    row.update(
        winner=winner[1] if winner else None,
        status="REDEEMED" if winner else ("GRANTED" if row["grant_okey"] else "UNKNOWN"),
        worth=worth,
        redeemed_value=redeemed_value,
        remaining=max(0, worth - redeemed_value),
        duplicates=dups,
        value_at_risk=sum(d["value"] for d in dups),
    )
    _claims(state, row, winner[1] if winner else None)
    _draw(state, row, winner[2] if winner and row["value"] is not None else None)
    items = []
    if dups:
        assert winner is not None
        w = winner[2]
        detail = {
            "entitlement_id": row["entitlement_id"],
            "winner": {"event_id": winner[1], "coop_id": w[1], "device_id": w[2], "value": w[3]},
            "duplicates": dups,
            "value_at_risk": row["value_at_risk"],
        }
        subject = f"entitlement:{row['entitlement_id']}"
        items.append(("DUPLICATE_REDEMPTION", subject, row["coop_id"], detail))
    report(state, row, found(*items))
    aid_dated.restate(state, row)
    state.put("entitlement", (row["entitlement_id"],), row)


def _draw(state: State, row: Row, winner: list[Any] | None) -> None:
    """The winning redemption of a value entitlement draws on the card it was made with."""
    now = None if winner is None else [winner[5], winner[0], winner[2], winner[1], winner[3]]
    before = row["card_draw"]
    if now == before:
        return
    key = aid_debit_key(row["entitlement_id"])
    if before is not None and (now is None or before[0] != now[0]):
        card_forget(state, before[0], key)
    if now is not None:
        uid, okey, device, coop, value = now
        card_debit(state, uid, key, okey, device, coop, value)
    row["card_draw"] = now


def _claims(state: State, row: Row, winner: str | None) -> None:
    """Every redemption is its cooperative's reimbursement claim; duplicates are DISPUTED."""
    voided_ids = set(row["voided"])
    now: dict[str, list[Any]] = {}
    for eid in row["redemptions"]:
        status = "VOIDED" if eid in voided_ids else "CLAIMED" if eid == winner else "DISPUTED"
        now[eid] = [status, row["coop_id"]]
    for eid, mark in now.items():
        if row["claims"].get(eid) == mark:
            continue
        okey, coop, device, value, _allowance_id, _card_uid = row["redemptions"][eid]
        state.put(
            "claim",
            (eid,),
            {
                "claim_id": eid,
                "coop_id": coop,
                "entitlement_id": row["entitlement_id"],
                "home_coop": row["coop_id"],
                "device_id": device,
                "value": value,
                "status": mark[0],
                "okey": okey,
            },
        )
    row["claims"] = now


HANDLERS = {
    "BeneficiaryEnrolled": enrolled,
    "CardIssued": card_issued,
    "CardBlocked": card_blocked,
    "EntitlementGranted": granted,
    "RedemptionAllowanceAllocated": allocated,
    "AidRedeemed": redeemed,
    "AidRedemptionVoided": voided,
}
