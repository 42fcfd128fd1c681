"""Reading the read models: one cooperative's picture, and the conflict queue.

Everything returned is JSON-able and sorted, so two projections of the same events
print the same bytes. Figures that depend on when events were *received* (a device's
last seen time and lag, open gaps in the store) are kept under ``receipts`` so they can
be told apart from the business read models.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds import portfolio
from central_projector.projection.folds.base import masked
from central_projector.projection.folds.conflicts import listing
from central_projector.projection.readmodels.tables import TABLES, decode_row
from central_projector.record.tables import gaps
from sync_core import localtime

T = TABLES


def _rows(conn: sa.Connection, kind: str, *where: Any) -> list[dict[str, Any]]:
    t = T[kind]
    pk = [t.c[c.name] for c in t.primary_key.columns]
    rows = conn.execute(sa.select(t).where(*where).order_by(*pk)).mappings()
    return [decode_row(kind, dict(r)) for r in rows]


def conflicts(
    conn: sa.Connection, *, coop_id: str | None = None, open_only: bool = False
) -> list[dict[str, Any]]:
    c, r = T["conflict"], T["resolution"]
    cw = [c.c.coop_id == coop_id] if coop_id else []
    rw = [r.c.coop_id == coop_id] if coop_id else []
    items = listing(_rows(conn, "conflict", *cw), _rows(conn, "resolution", *rw))
    return [i for i in items if i["status"] == "OPEN"] if open_only else items


def coop_exists(conn: sa.Connection, coop_id: str) -> bool:
    return (
        conn.execute(sa.select(T["coop"].c.coop_id).where(T["coop"].c.coop_id == coop_id)).first()
        is not None
    )


def show_coop(conn: sa.Connection, coop_id: str, as_of: str | None = None) -> dict[str, Any]:
    """The read models of one cooperative; the loan book as of ``as_of`` (default: today
    in the cooperative's time zone)."""
    coop = _rows(conn, "coop", T["coop"].c.coop_id == coop_id)
    day = as_of or localtime.today(coop_id, int(time.time() * 1000))
    return {
        "coop_id": coop_id,
        "as_of": coop[0]["as_of"] if coop else None,
        "events": coop[0]["events"] if coop else 0,
        "members": _members(conn, coop_id),
        "savings": _savings(conn, coop_id),
        "loans": loan_book(conn, coop_id, day),
        "sales": _sales(conn, coop_id),
        "member_credit": _member_credit(conn, coop_id),
        "stock": _stock(conn, coop_id),
        "aid": _aid(conn, coop_id),
        "stimulus": _stimulus(conn, coop_id),
        "logistics": _logistics(conn, coop_id),
        "sync_health": _sync_health(conn, coop_id),
        "conflicts": conflicts(conn, coop_id=coop_id),
    }


def nik_groups(conn: sa.Connection, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The NIK groups (province-wide) that hold more than one member, one of them here."""
    niks = sorted({m["placed"][0] for m in members if m["placed"]})
    g = T["nik_group"]
    groups = [
        group
        for i in range(0, len(niks), 400)
        for group in _rows(conn, "nik_group", g.c.nik.in_(niks[i : i + 400]))
    ]
    return [group for group in groups if group["aliases"]]


def alias_map(coop_id: str, groups: list[dict[str, Any]]) -> dict[str, str]:
    """Member id here -> its canonical member (``coop/member_id``) for this cooperative's
    aliases."""
    mine = coop_id + "/"
    return {
        a[len(mine) :]: g["canonical"] for g in groups for a in g["aliases"] if a.startswith(mine)
    }


def _members(conn: sa.Connection, coop_id: str) -> dict[str, Any]:
    members = _rows(conn, "member", T["member"].c.coop_id == coop_id)
    groups = nik_groups(conn, members)
    alias_of = alias_map(coop_id, groups)
    by_status: dict[str, int] = defaultdict(int)
    listed = []
    for m in members:
        by_status[m["status"]] += 1
        profile = m["profile"] or {}
        competing = {
            field: sorted({e[2] for e in edits})
            for field, edits in (m["edits"] or {}).items()
            if len({e[2] for e in edits}) > 1
        }
        for field in ("nik", "kk_no"):
            if field in competing:
                competing[field] = [masked(v) for v in competing[field]]
        listed.append(
            {
                "member_id": m["member_id"],
                "status": m["status"],
                "name": profile.get("name", [None])[0],
                "nik": masked(profile["nik"][0]) if "nik" in profile else None,
                "desa_code": profile.get("desa_code", [None])[0],
                "alias_of": alias_of.get(m["member_id"]),
                "merged_into": (m["merged_into"] or [None])[0],
                "competing": competing,
            }
        )
    return {
        "count": len(members),
        "by_status": dict(sorted(by_status.items())),
        "aliases": len(alias_of),
        "nik_collisions": sum(1 for g in groups if g["collisions"]),
        # the same person registered here and at another cooperative (or twice here)
        "duplicate_niks": [
            {
                "nik": masked(g["nik"]),
                "canonical": g["canonical"],
                "aliases": g["aliases"],
                "collisions": g["collisions"],
            }
            for g in groups
            if g["aliases"]
        ],
        "list": listed,
    }


def _savings(conn: sa.Connection, coop_id: str) -> dict[str, Any]:
    accounts = _rows(conn, "savings", T["savings"].c.coop_id == coop_id)
    by_product: dict[str, int] = defaultdict(int)
    per_member: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in accounts:
        product = a["product"] or "UNKNOWN"
        by_product[product] += a["balance"]
        per_member[a["member_id"] or "UNKNOWN"][product] += a["balance"]
    return {
        "total": sum(a["balance"] for a in accounts),
        "accounts": len(accounts),
        "by_product": dict(sorted(by_product.items())),
        "per_member": {m: dict(sorted(p.items())) for m, p in sorted(per_member.items())},
    }


def loan_book(conn: sa.Connection, coop_id: str, as_of: str) -> dict[str, Any]:
    """The cooperative's loans on business date ``as_of``: the portfolio and each loan."""
    book = portfolio.portfolio(_rows(conn, "loan", T["loan"].c.coop_id == coop_id), as_of)
    listed = book.pop("list")
    return {"portfolio": book, "list": listed}


def _sales(conn: sa.Connection, coop_id: str) -> list[dict[str, Any]]:
    return [
        {k: r[k] for k in ("day", "sku", "qty", "amount", "lines", "voided_qty", "voided_amount")}
        for r in _rows(conn, "sales_day", T["sales_day"].c.coop_id == coop_id)
    ]


def _member_credit(conn: sa.Connection, coop_id: str) -> list[dict[str, Any]]:
    """Each member's receivable: bought on member credit, repaid, outstanding, overpaid."""
    keys = ("member_id", "sold", "repaid", "outstanding", "overpaid")
    t = T["receivable"]
    return [{k: r[k] for k in keys} for r in _rows(conn, "receivable", t.c.coop_id == coop_id)]


def _stock(conn: sa.Connection, coop_id: str) -> list[dict[str, Any]]:
    keys = ("location", "sku", "on_hand", "received", "sold", "returned", "adjusted",
            "shipped_out", "shipped_in", "counts")  # fmt: skip
    return [
        {**{k: r[k] for k in keys}, "negative": r["on_hand"] < 0}
        for r in _rows(conn, "stock", T["stock"].c.coop_id == coop_id)
    ]


ALLOWANCE_FIELDS = ("allowance_id", "scope", "device_id", "program", "cycle", "max_count",
                    "max_value", "used_count", "used_value", "available_value", "over_count",
                    "over_value", "devices_over")  # fmt: skip


def _aid(conn: sa.Connection, coop_id: str) -> dict[str, Any]:
    ents = _rows(conn, "entitlement", T["entitlement"].c.coop_id == coop_id)
    allowances = _rows(conn, "allowance", T["allowance"].c.coop_id == coop_id)
    cards = _rows(conn, "card", T["card"].c.coop_id == coop_id)
    claims = _rows(conn, "claim", T["claim"].c.coop_id == coop_id)
    claimed: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "value": 0})
    for c in claims:
        claimed[c["status"]]["count"] += 1
        claimed[c["status"]]["value"] += c["value"]
    return {
        "entitlements": {
            "count": len(ents),
            "value": sum(e["worth"] for e in ents),
            "redeemed": sum(1 for e in ents if e["winner"]),
            "redeemed_value": sum(e["redeemed_value"] for e in ents),
            "remaining_value": sum(e["remaining"] for e in ents),
            "with_duplicates": sum(1 for e in ents if e["duplicates"]),
            "value_at_risk": sum(e["value_at_risk"] for e in ents),
        },
        # each rupiah once: a duplicate redemption never draws on the card, so the two add up
        "at_risk": {
            "duplicate_redemptions": sum(e["value_at_risk"] for e in ents),
            "card_overspend": sum(c["overspend"] for c in cards),
            "total": sum(e["value_at_risk"] for e in ents) + sum(c["overspend"] for c in cards),
        },
        "duplicates": [
            {
                "entitlement_id": e["entitlement_id"],
                "winner": e["winner"],
                "duplicates": e["duplicates"],
                "value_at_risk": e["value_at_risk"],
            }
            for e in ents
            if e["duplicates"]
        ],
        "allowances": [{k: a[k] for k in ALLOWANCE_FIELDS} for a in allowances],
        "cards": {
            "count": len(cards),
            "blocked": sum(1 for c in cards if c["blocked"]),
            "overspent": [
                {
                    "card_uid": c["card_uid"],
                    "credited": c["credited"],
                    "spent": c["spent"],
                    "overspend": c["overspend"],
                    "devices": c["devices_over"],
                    "debits": c["kinds_over"],
                }
                for c in cards
                if c["overspend"]
            ],
        },
        "reimbursement_claims": dict(sorted(claimed.items())),
    }


def _stimulus(conn: sa.Connection, coop_id: str) -> list[dict[str, Any]]:
    keys = ("fund_id", "allocated", "disbursed", "utilised", "repaid", "balance", "by_purpose",
            "tranches", "program_year")  # fmt: skip
    return [{k: r[k] for k in keys} for r in _rows(conn, "fund", T["fund"].c.coop_id == coop_id)]


def _logistics(conn: sa.Connection, coop_id: str) -> dict[str, Any]:
    s = T["shipment"]
    rows = _rows(conn, "shipment", sa.or_(s.c.coop_id == coop_id, s.c.destination == coop_id))
    keys = ("shipment_id", "coop_id", "origin", "destination", "status", "dispatched",
            "received", "short", "receipts")  # fmt: skip
    return {
        "shipments": [
            {**{k: r[k] for k in keys}, "discrepancies": sorted(r["discrepancies"].values())}
            for r in rows
        ],
        "discrepancies": sum(len(r["discrepancies"]) for r in rows),
    }


def _sync_health(conn: sa.Connection, coop_id: str) -> dict[str, Any]:
    devices = _rows(conn, "device", T["device"].c.coop_id == coop_id)
    ids = [d["device_id"] for d in devices]
    open_gaps: dict[str, list[list[int]]] = defaultdict(list)
    if ids:
        for g in conn.execute(
            sa.select(gaps.c.device_id, gaps.c.from_seq, gaps.c.to_seq, gaps.c.status)
            .where(gaps.c.device_id.in_(ids), gaps.c.status == "open")
            .order_by(gaps.c.device_id, gaps.c.from_seq)
        ):
            open_gaps[g.device_id].append([int(g.from_seq), int(g.to_seq)])
    keys = ("device_id", "events", "max_seq", "last_wall", "skew_count", "skew_seqs",
            "gap_count", "gap_seqs", "registered", "retired")  # fmt: skip
    return {
        "devices": [{k: d[k] for k in keys} for d in devices],
        "clock_skew_events": sum(d["skew_count"] for d in devices),
        "gap_events": sum(d["gap_count"] for d in devices),
        "receipts": {
            d["device_id"]: {
                "last_seen": d["last_seen"],
                "lag_ms": d["lag_ms"],
                "open_gaps": open_gaps.get(d["device_id"], []),
            }
            for d in devices
        },
    }
