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

The card wallet lives in :mod:`central_projector.projection.folds.aid_cards`, the
allowances in :mod:`central_projector.projection.folds.aid_allowances`; this module folds
the entitlements, redemptions and claims, and dispatches the whole area.

Rows: ``entitlement`` (id), ``claim`` (redemption event id), ``beneficiary`` (id) here;
``allowance`` (id) and ``card`` (uid) in those modules. Shared across cooperatives:
``coop_id`` is the owner (see :func:`central_projector.projection.folds.base.claim_owner`).
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds import aid_dated
from central_projector.projection.folds.aid_allowances import allocated, allowance_debit
from central_projector.projection.folds.aid_cards import (
    aid_debit_key,
    card_blocked,
    card_credit,
    card_debit,
    card_forget,
    card_issued,
    card_row,
    walk_card,
)
from central_projector.projection.folds.base import Event, Row, State, claim_owner
from central_projector.projection.folds.conflicts import found, report

# --- beneficiaries ------------------------------------------------------------------------


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
    was = aid_dated.mark(row)
    claim_owner(row, ev.okey, ev.coop_id, True)
    day = aid_dated.seen(row, ev)
    p = ev.payload
    if row["grant_okey"] is not None and row["grant_okey"] > ev.okey:
        card = card_row(state, p["card_uid"])  # superseded: it only touches its card
        claim_owner(card, ev.okey, ev.coop_id, False)
        walk_card(state, card)
    else:
        old_card = row["card_uid"]
        row["grant_okey"] = ev.okey
        for field in ("beneficiary_id", "card_uid", "program", "cycle"):
            row[field] = p[field]
        row["value"] = p.get("value")
        row["items"] = p.get("items")
        if old_card is not None and old_card != row["card_uid"]:
            card_credit(state, ev, old_card, ev.aggregate_id, None)
        card_credit(state, ev, row["card_uid"], ev.aggregate_id, row["value"])
    _derive(state, row, was, day)


def redeemed(state: State, ev: Event) -> None:
    row = _entitlement(state, ev.aggregate_id)
    if ev.event_id in row["redemptions"]:
        return
    was = aid_dated.mark(row)
    claim_owner(row, ev.okey, ev.coop_id, False)
    day = aid_dated.seen(row, ev)
    p = ev.payload
    redemption = [ev.okey, ev.coop_id, ev.device_id, p["value"], p["allowance_id"], p["card_uid"]]
    row["redemptions"][ev.event_id] = redemption
    live = ev.event_id not in row["voided"]
    allowance_debit(state, ev.event_id, redemption, ev.aggregate_id, live)
    _derive(state, row, was, day)


def voided(state: State, ev: Event) -> None:
    row = _entitlement(state, ev.aggregate_id)
    was = aid_dated.mark(row)
    claim_owner(row, ev.okey, ev.coop_id, False)
    target = ev.payload["redemption_event_id"]
    day = aid_dated.voided(row, target, ev)
    if target not in row["voided"]:
        row["voided"] = sorted([*row["voided"], target])
        redemption = row["redemptions"].get(target)
        if redemption is not None:
            allowance_debit(state, target, redemption, ev.aggregate_id, False)
    _derive(state, row, was, day)


def _derive(state: State, row: Row, was: aid_dated.Mark, day: str) -> None:
    """Re-derive the entitlement after one event of ``day`` (``was``: the row before it)."""
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
    aid_dated.restate(state, row, was, day)
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
