"""Membership: members, their profiles, and people registered more than once.

Conflict rules:
- Concurrent profile edits: last-writer-wins *per field* by total order (the
  registration is the first write of every field it carries); different fields merge.
  Every competing value is kept. Edits of NIK, name or KK made on two or more devices
  with different values raise PROFILE_CONFLICT (member, field).
- Same NIK registered twice, at one cooperative or at two anywhere in the province (a NIK
  is one person nationally, and a person belongs to the cooperative of one village):
  members are grouped by their current NIK; the first registration by total order is
  canonical, later members (``{coop}/{member_id}``) are its aliases: one DUPLICATE_NIK
  item per cooperative holding an alias, about that cooperative's aliases. Money is
  never merged: accounts and loans stay with their member id. An alias whose name or
  birth date differs from the canonical one is a NIK_COLLISION (maybe two people, maybe
  a typo: a person decides). Items are named by the NIK's keyed pseudonym
  (``nik:{pseudonym}:{coop}``), never by the NIK; their detail shows it masked.
- Status is a set of facts: resigned beats approved beats registered.
- ``MembersMerged`` (central): each alias records the merge into the canonical member
  (the first merge by total order), the canonical one the union of its aliases.

Rows:
- ``member`` (coop, member_id) = ``{registered, approved, resigned, status, reg_okey,
  profile: {field: [value, okey, device]}, edits: {field: [[okey, device, value]…]},
  merged_into, merged_aliases, placed, conflicts, asof}``; ``asof`` holds the first day
  anything is known of the member and of its registration, approval and resignation
  (``seen``, ``reg``, ``appr``, ``res``: :mod:`.daily`); ``placed`` is
  ``[nik, reg_okey, name, birth_date]`` as last filed in its NIK group;
- ``nik_group`` (nik) = ``{coop_id, members: {"coop/member_id": [reg_okey, name,
  birth_date]}, canonical, aliases, collisions, conflicts}``, province-wide (the
  projection's cross-cooperative stage owns it); ``coop_id`` is the canonical member's.
"""

from __future__ import annotations

from typing import Any

from central_projector.projection.folds import daily
from central_projector.projection.folds.base import Event, Row, State, masked
from central_projector.projection.folds.conflicts import found, report

IDENTITY_FIELDS = ("nik", "name", "kk_no")
REGISTRATION_FIELDS = ("nik", "kk_no", "name", "birth_date", "desa_code", "phone")


def _member(state: State, ev: Event, member_id: str | None = None) -> tuple[Row, tuple[str, str]]:
    key = (ev.coop_id, member_id or ev.aggregate_id)
    row = state.get("member", key)
    if row is None:
        row = {
            "coop_id": key[0],
            "member_id": key[1],
            "registered": False,
            "approved": False,
            "resigned": False,
            "status": "UNKNOWN",
            "reg_okey": None,
            "profile": {},
            "edits": {},
            "merged_into": None,
            "merged_aliases": [],
            "placed": None,
            "conflicts": {},
            "asof": {},
        }
    daily.earliest(daily.asof(row), "seen", daily.event_day(ev))
    return row, key


def _mark(row: Row, fact: str, ev: Event) -> None:
    """The member's ``fact`` (reg, appr, res) holds from the earliest day it is known."""
    daily.earliest(daily.asof(row), fact, daily.event_day(ev))


_STATUS_FACTS = (("RESIGNED", "res"), ("APPROVED", "appr"), ("REGISTERED", "reg"))


def _dated(row: Row) -> daily.Entries:
    """The member counted from the first day anything is known of it, by its status on
    each day (the same rule as ``status``, with each fact from its day)."""
    doc, coop = daily.asof(row), row["coop_id"]
    seen = doc["seen"]
    days = sorted({doc[f] for _, f in _STATUS_FACTS if doc.get(f)} | {seen})
    states = [(day, {f"members.by_status.{status_on(row, day)}": 1}) for day in days]
    return daily.steps(coop, states, {(coop, seen, "members.count"): 1})


def status_on(row: Row, day: str) -> str | None:
    """The member's status at the end of ``day``; ``None`` if nothing was known of it yet."""
    doc = row.get("asof") or {}
    if doc.get("seen") is None or doc["seen"] > day:
        return None
    return next((s for s, f in _STATUS_FACTS if doc.get(f) and doc[f] <= day), "UNKNOWN")


def _finish(state: State, row: Row, key: tuple[str, str]) -> None:
    row["status"] = (
        "RESIGNED"
        if row["resigned"]
        else "APPROVED"
        if row["approved"]
        else "REGISTERED"
        if row["registered"]
        else "UNKNOWN"
    )
    _regroup(state, row)
    report(state, row, _profile_conflicts(row))
    daily.restate(state, "member", row, _dated(row))
    state.put("member", key, row)


def _write_field(row: Row, field: str, value: Any, ev: Event) -> None:
    current = row["profile"].get(field)
    if current is None or current[1] < ev.okey:
        row["profile"][field] = [value, ev.okey, ev.device_id]


def registered(state: State, ev: Event) -> None:
    row, key = _member(state, ev)
    if row["reg_okey"] is None or ev.okey < row["reg_okey"]:
        row["reg_okey"] = ev.okey
    row["registered"] = True
    _mark(row, "reg", ev)
    for field in REGISTRATION_FIELDS:
        if ev.payload.get(field) is not None:
            _write_field(row, field, ev.payload[field], ev)
    _finish(state, row, key)


def approved(state: State, ev: Event) -> None:
    row, key = _member(state, ev)
    row["approved"] = True
    _mark(row, "appr", ev)
    _finish(state, row, key)


def resigned(state: State, ev: Event) -> None:
    row, key = _member(state, ev)
    row["resigned"] = True
    _mark(row, "res", ev)
    _finish(state, row, key)


def field_changed(state: State, ev: Event) -> None:
    row, key = _member(state, ev)
    field, value = ev.payload["field"], ev.payload["value"]
    edits = row["edits"].setdefault(field, [])
    if not any(e[0] == ev.okey for e in edits):
        edits.append([ev.okey, ev.device_id, value])
        edits.sort()
    _write_field(row, field, value, ev)
    _finish(state, row, key)


def merged(state: State, ev: Event) -> None:
    canonical, key = _member(state, ev)
    aliases = sorted(set(canonical["merged_aliases"]) | set(ev.payload["alias_member_ids"]))
    canonical["merged_aliases"] = aliases
    _finish(state, canonical, key)
    for alias_id in ev.payload["alias_member_ids"]:
        if alias_id == ev.aggregate_id:
            continue
        alias, akey = _member(state, ev, alias_id)
        current = alias["merged_into"]
        if current is None or ev.okey < current[1]:
            alias["merged_into"] = [ev.aggregate_id, ev.okey]
        _finish(state, alias, akey)


def _profile_conflicts(row: Row) -> dict[str, list[Any]]:
    items = []
    for field in IDENTITY_FIELDS:
        edits = row["edits"].get(field, [])
        devices = {e[1] for e in edits}
        values = {e[2] for e in edits}
        if len(devices) >= 2 and len(values) >= 2:
            show = masked if field in ("nik", "kk_no") else str
            detail = {
                "member_id": row["member_id"],
                "field": field,
                "current": show(row["profile"][field][0]),
                "competing": sorted([show(e[2]), e[1]] for e in edits),
            }
            subject = f"member:{row['coop_id']}:{row['member_id']}:{field}"
            items.append(("PROFILE_CONFLICT", subject, row["coop_id"], detail))
    return found(*items)


# --- the same NIK registered more than once, anywhere in the province ------------------


def _regroup(state: State, row: Row) -> None:
    """Move the member to the group of its current NIK, with its current name and birth date."""
    nik = row["profile"].get("nik")
    if not row["registered"] or nik is None:
        return
    p = row["profile"]
    entry = [row["reg_okey"], _value(p, "name"), _value(p, "birth_date")]
    placed = [nik[0], *entry]
    if row["placed"] == placed:
        return
    who = member_ref(row["coop_id"], row["member_id"])
    if row["placed"] is not None and row["placed"][0] != nik[0]:
        _group_update(state, row["placed"][0], who, None)
    _group_update(state, nik[0], who, entry)
    row["placed"] = placed


def member_ref(coop: str, member_id: str) -> str:
    """A member anywhere in the province: member ids are unique only in their cooperative."""
    return f"{coop}/{member_id}"


def _value(profile: dict[str, Any], field: str) -> Any:
    v = profile.get(field)
    return None if v is None else v[0]


def _group_update(state: State, nik: str, who: str, entry: Any) -> None:
    key = (nik,)
    group = state.get("nik_group", key) or {
        "nik": nik,
        "coop_id": None,
        "members": {},
        "canonical": None,
        "aliases": [],
        "collisions": [],
        "conflicts": {},
    }
    if entry is None:
        group["members"].pop(who, None)
    else:
        group["members"][who] = entry
    ordered = sorted(group["members"].items(), key=lambda kv: (kv[1][0], kv[0]))
    first = ordered[0][1] if ordered else None
    group["canonical"] = ordered[0][0] if ordered else None
    group["coop_id"] = ordered[0][0].split("/", 1)[0] if ordered else None
    group["aliases"] = [m for m, _ in ordered[1:]]
    group["collisions"] = [m for m, e in ordered[1:] if first is not None and e[1:] != first[1:]]
    report(state, group, _nik_conflicts(state, group))
    if group["members"]:
        state.put("nik_group", key, group)
    else:
        state.delete("nik_group", key)


def _nik_conflicts(state: State, group: Row) -> dict[str, list[Any]]:
    """One DUPLICATE_NIK (and NIK_COLLISION) item per cooperative holding an alias, named by
    the NIK's keyed pseudonym: the NIK itself is in no id, subject or log line."""
    if not group["aliases"]:
        return {}
    items = []
    canonical = group["canonical"]
    first = group["members"][canonical]
    ref = state.pseudonym("nik", group["nik"])
    coops = sorted({a.split("/", 1)[0] for a in group["aliases"]})
    for coop in coops:
        subject = f"nik:{ref}:{coop}"
        mine = [a for a in group["aliases"] if a.startswith(coop + "/")]
        detail = {"nik": masked(group["nik"]), "canonical": canonical, "aliases": mine}
        items.append(("DUPLICATE_NIK", subject, coop, detail))
        colliding = [a for a in group["collisions"] if a.startswith(coop + "/")]
        if colliding:
            detail = {
                "nik": masked(group["nik"]),
                "canonical": canonical,
                "name": first[1],
                "birth_date": first[2],
                "colliding": [
                    {
                        "member": m,
                        "name": group["members"][m][1],
                        "birth_date": group["members"][m][2],
                    }
                    for m in colliding
                ],
            }
            items.append(("NIK_COLLISION", subject, coop, detail))
    return found(*items)


HANDLERS = {
    "MemberRegistered": registered,
    "MembershipApproved": approved,
    "MemberResigned": resigned,
    "MemberProfileFieldChanged": field_changed,
    "MembersMerged": merged,
}
