"""Membership rules on one device: registration, approval, profile changes, resignation."""

from __future__ import annotations

from typing import Any

from edge_agent.domain.memory import MemoryViews

NIK = "6472010101900001"
OTHER_NIK = "6472010101900002"


def registration(nik: str = NIK, **extra: Any) -> dict[str, Any]:
    return {
        "nik": nik,
        "kk_no": "6472010101900099",
        "name": "Siti Aminah",
        "birth_date": "1990-01-01",
        "desa_code": "6472021005",
        **extra,
    }


def registered(member_id: str = "M1") -> MemoryViews:
    book = MemoryViews()
    book.record("MemberRegistered", member_id, registration(phone="0812"))
    return book


def test_register_keeps_status_and_profile() -> None:
    """A registered member has status REGISTERED, its profile per field, and owns its NIK."""
    book = registered()
    member = book.view("member:M1")
    assert member is not None
    assert member["status"] == "REGISTERED"
    assert member["profile"]["name"] == "Siti Aminah"
    assert member["profile"]["phone"] == "0812"
    assert book.view(f"nik:{NIK}") == {"member_id": "M1"}


def test_register_same_member_id_twice_is_refused() -> None:
    """A member id already registered on this device cannot be registered again."""
    book = registered()
    refusal = book.refusal("MemberRegistered", "M1", registration(OTHER_NIK))
    assert refusal.rule == "duplicate_member"
    assert "M1" in str(refusal)


def test_register_same_nik_twice_is_refused_naming_the_member() -> None:
    """A NIK already registered here is refused, naming the member who has it, NIK masked."""
    book = registered()
    refusal = book.refusal("MemberRegistered", "M2", registration())
    assert refusal.rule == "duplicate_nik"
    assert "M1" in str(refusal)
    assert NIK not in str(refusal)


def test_approve_change_and_resign_happy_path() -> None:
    """A member can be approved, have a field changed, and resign."""
    book = registered()
    book.record("MembershipApproved", "M1", {"approved_on": "2026-01-05"})
    assert book["member:M1"]["status"] == "APPROVED"
    book.record("MemberProfileFieldChanged", "M1", {"field": "phone", "value": "0813"})
    assert book["member:M1"]["profile"]["phone"] == "0813"
    book.record("MemberResigned", "M1", {"resigned_on": "2026-06-30"})
    assert book["member:M1"]["status"] == "RESIGNED"


def test_unknown_member_is_refused_for_every_member_event() -> None:
    """Approval, profile change and resignation of a member not registered here are refused."""
    book = registered()
    for event_type, payload in (
        ("MembershipApproved", {"approved_on": "2026-01-05"}),
        ("MemberProfileFieldChanged", {"field": "name", "value": "Siti"}),
        ("MemberResigned", {"resigned_on": "2026-06-30"}),
    ):
        assert book.refusal(event_type, "M9", payload).rule == "unknown_member"


def test_resigned_member_is_refused_for_every_member_event() -> None:
    """Once resigned, a member cannot be approved, changed or resigned again."""
    book = registered()
    book.record("MemberResigned", "M1", {"resigned_on": "2026-06-30"})
    for event_type, payload in (
        ("MembershipApproved", {"approved_on": "2026-07-01"}),
        ("MemberProfileFieldChanged", {"field": "name", "value": "Siti"}),
        ("MemberResigned", {"resigned_on": "2026-07-01"}),
    ):
        assert book.refusal(event_type, "M1", payload).rule == "member_resigned"


def test_changing_nik_to_another_members_nik_is_refused() -> None:
    """A NIK correction may not take a NIK that another member on this device has."""
    book = registered()
    book.record("MemberRegistered", "M2", registration(OTHER_NIK))
    refusal = book.refusal("MemberProfileFieldChanged", "M2", {"field": "nik", "value": NIK})
    assert refusal.rule == "duplicate_nik"


def test_changing_nik_binds_the_new_nik() -> None:
    """After a NIK correction, the new NIK belongs to the member and cannot be registered again."""
    book = registered()
    book.record("MemberProfileFieldChanged", "M1", {"field": "nik", "value": OTHER_NIK})
    assert book.view(f"nik:{OTHER_NIK}") == {"member_id": "M1"}
    assert book.refusal("MemberRegistered", "M3", registration(OTHER_NIK)).rule == "duplicate_nik"


def test_members_merged_marks_aliases_known_here() -> None:
    """A central merge marks each alias known on this device and creates nothing for others."""
    book = registered()
    book.record("MemberRegistered", "M2", registration(OTHER_NIK))
    book.receive("MembersMerged", "M1", {"alias_member_ids": ["M2", "M7"]})
    assert book["member:M2"]["alias_of"] == "M1"
    assert book["member:M1"]["alias_of"] is None
    assert book.view("member:M7") is None
