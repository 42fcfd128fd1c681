"""Membership: who belongs to the cooperative, as this device knows it.

Rules:
- A member id is registered once on this device (``duplicate_member``), and a NIK
  belongs to one member on this device (``duplicate_nik``, naming the member who has it).
  A NIK once bound to a member stays reserved on this device even if that member's NIK
  is later corrected: the old binding cannot be found from the event alone, and the
  central resolves same-NIK registrations across devices anyway.
- Approving, changing the profile of, or resigning a member requires the member to be
  registered on this device (``unknown_member``) and not resigned (``member_resigned``).
- ``MembersMerged`` (central) marks each alias member known here with ``alias_of``;
  money is never merged, so nothing else changes.
- Other areas name members through :func:`known_member`: opening savings, a sale with a
  member and a loan need a member registered here; a resigned member opens no account
  and borrows nothing.

Views:
- ``member:{member_id}`` = ``{status, profile: {field: value}, alias_of, pokok}``;
  status is REGISTERED, APPROVED or RESIGNED; profile holds the current value per field;
  ``pokok`` the member's simpanan pokok account (written by :mod:`savings`).
- ``nik:{nik}`` = ``{member_id}``.
"""

from __future__ import annotations

from edge_agent.domain.base import Proposed, Rule, View, Views, no_check
from edge_agent.domain.common import get_or_add, loaded, masked
from sync_core.errors import RuleViolation

REGISTERED = "REGISTERED"
APPROVED = "APPROVED"
RESIGNED = "RESIGNED"
_PROFILE_AT_REGISTRATION = ("nik", "kk_no", "name", "birth_date", "desa_code", "phone")


def member_key(member_id: str) -> str:
    return f"member:{member_id}"


def nik_key(nik: str) -> str:
    return f"nik:{nik}"


def _new_member(status: str) -> View:
    return {"status": status, "profile": {}, "alias_of": None}


def _refuse_nik_of_another(views: Views, nik: str, member_id: str) -> None:
    owner = loaded(views, nik_key(nik))
    if owner is not None and owner["member_id"] != member_id:
        raise RuleViolation(
            "duplicate_nik",
            f"the NIK ending {masked(nik)} is already registered on this device as member "
            f"{owner['member_id']}; look that member up instead of registering again "
            "(a wrong NIK is corrected with a profile change)",
        )


def _known_member(views: Views, ev: Proposed) -> View:
    return known_member(views, ev.aggregate_id)


def known_member(views: Views, member_id: str, resigned_ok: bool = False) -> View:
    """The member's view (``member_key(member_id)`` loaded by the caller's rule): refused
    when the member is not registered here (a mistyped id is never recorded), or has
    resigned (unless ``resigned_ok``)."""
    member = loaded(views, member_key(member_id))
    if member is None:
        raise RuleViolation(
            "unknown_member",
            f"member {member_id} is not registered on this device; check the member id, "
            "or sync to receive members registered elsewhere",
        )
    if member["status"] == RESIGNED and not resigned_ok:
        raise RuleViolation(
            "member_resigned",
            f"member {member_id} has resigned; a returning person registers again",
        )
    return member


# --- MemberRegistered ----------------------------------------------------------------


def _registered_keys(ev: Proposed) -> list[str]:
    return [member_key(ev.aggregate_id), nik_key(ev.payload["nik"])]


def _check_registered(views: Views, ev: Proposed) -> None:
    if loaded(views, member_key(ev.aggregate_id)) is not None:
        raise RuleViolation(
            "duplicate_member",
            f"member {ev.aggregate_id} is already registered on this device; "
            "use a new member id, or change the existing member's profile",
        )
    _refuse_nik_of_another(views, ev.payload["nik"], ev.aggregate_id)


def _apply_registered(views: Views, ev: Proposed) -> None:
    member = get_or_add(views, member_key(ev.aggregate_id), _new_member(REGISTERED))
    member["status"] = REGISTERED
    member["profile"] = {f: ev.payload[f] for f in _PROFILE_AT_REGISTRATION if f in ev.payload}
    get_or_add(views, nik_key(ev.payload["nik"]), {"member_id": ev.aggregate_id})


# --- MembershipApproved, MemberResigned ----------------------------------------------


def _member_keys(ev: Proposed) -> list[str]:
    return [member_key(ev.aggregate_id)]


def _check_known(views: Views, ev: Proposed) -> None:
    _known_member(views, ev)


def _status_rule(status: str) -> Rule:
    def apply(views: Views, ev: Proposed) -> None:
        get_or_add(views, member_key(ev.aggregate_id), _new_member(status))["status"] = status

    return Rule(_member_keys, _check_known, apply)


# --- MemberProfileFieldChanged -------------------------------------------------------


def _changed_keys(ev: Proposed) -> list[str]:
    keys = [member_key(ev.aggregate_id)]
    if ev.payload["field"] == "nik":
        keys.append(nik_key(ev.payload["value"]))
    return keys


def _check_changed(views: Views, ev: Proposed) -> None:
    _known_member(views, ev)
    if ev.payload["field"] == "nik":
        _refuse_nik_of_another(views, ev.payload["value"], ev.aggregate_id)


def _apply_changed(views: Views, ev: Proposed) -> None:
    member = get_or_add(views, member_key(ev.aggregate_id), _new_member(REGISTERED))
    member["profile"][ev.payload["field"]] = ev.payload["value"]
    if ev.payload["field"] == "nik":
        get_or_add(views, nik_key(ev.payload["value"]), {"member_id": ev.aggregate_id})


# --- MembersMerged (central) ---------------------------------------------------------


def _merged_keys(ev: Proposed) -> list[str]:
    return [member_key(a) for a in ev.payload["alias_member_ids"] if a != ev.aggregate_id]


def _apply_merged(views: Views, ev: Proposed) -> None:
    for key in _merged_keys(ev):
        member = loaded(views, key)
        if member is not None:  # an alias never seen here needs no view
            member["alias_of"] = ev.aggregate_id


RULES: dict[str, Rule] = {
    "MemberRegistered": Rule(_registered_keys, _check_registered, _apply_registered),
    "MembershipApproved": _status_rule(APPROVED),
    "MemberProfileFieldChanged": Rule(_changed_keys, _check_changed, _apply_changed),
    "MemberResigned": _status_rule(RESIGNED),
    "MembersMerged": Rule(_merged_keys, no_check, _apply_merged),
}
