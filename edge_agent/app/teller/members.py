"""Membership: register, approve, change a profile field, resign."""

from __future__ import annotations

from edge_agent.app.teller.base import R_co, Recorder, given_id, present, today
from schemas import REGISTRY
from schemas.fields import FieldProblem, check_value
from sync_core.errors import ValidationError
from sync_core.ids import check_id


def register_member(
    recorder: Recorder[R_co],
    *,
    nik: str,
    kk_no: str,
    name: str,
    birth_date: str,
    desa_code: str,
    phone: str | None = None,
    member_id: str | None = None,
) -> R_co:
    payload = present(
        nik=nik, kk_no=kk_no, name=name, birth_date=birth_date, desa_code=desa_code, phone=phone
    )
    return recorder.record("MemberRegistered", payload, given_id(member_id, "M", "member id"))


def approve_member(
    recorder: Recorder[R_co],
    member_id: str,
    *,
    approved_on: str | None = None,
    approved_by: str | None = None,
) -> R_co:
    payload = present(approved_on=approved_on or today(recorder), approved_by=approved_by)
    return recorder.record("MembershipApproved", payload, check_id(member_id, "member id"))


def change_member_field(recorder: Recorder[R_co], member_id: str, field: str, value: str) -> R_co:
    """Change one profile field; the value must fit the field as registration defines it.

    The event's ``value`` is free text in the schema, so without this check a NIK of 15
    digits or a village code ``abc`` would be recorded as a correction.
    """
    kind = _REGISTRATION_FIELDS.get(field)
    if kind is not None:
        try:
            check_value(kind, value, "value")
        except FieldProblem as exc:
            raise ValidationError(
                "MemberProfileFieldChanged", "value", f"({field}) {exc.problem}"
            ) from None
    payload = {"field": field, "value": value}
    return recorder.record("MemberProfileFieldChanged", payload, check_id(member_id, "member id"))


_REGISTRATION_FIELDS = {f.name: f for f in REGISTRY.get("MemberRegistered").fields}


def resign_member(
    recorder: Recorder[R_co],
    member_id: str,
    *,
    resigned_on: str | None = None,
    reason: str | None = None,
) -> R_co:
    payload = present(resigned_on=resigned_on or today(recorder), reason=reason)
    return recorder.record("MemberResigned", payload, check_id(member_id, "member id"))
