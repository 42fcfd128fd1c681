"""Pseudonymisation: no personal value in clear, stable per partner, everything else unchanged."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgpack
from hypothesis import given
from hypothesis import strategies as st
from partner_strategies import KEY, Case, cases, national_numbers, pii_values

from central_projector.partners.pseudonymise import encode_view, partner_view
from schemas import REGISTRY
from schemas.fields import Field
from schemas.personal import PSEUDONYM_PREFIX, field_pii, pseudonym, treatment
from sync_core.envelope import seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH

KEY_A = bytes.fromhex("11" * 32)
KEY_B = bytes.fromhex("22" * 32)
NIK = "6472014506900003"
KK = "6472010101090012"


def _member_registered(nik: str = NIK, **extra: Any) -> Any:
    payload = {
        "nik": nik,
        "kk_no": KK,
        "name": "Siti Rahmawati",
        "birth_date": "1990-06-05",
        "desa_code": "6472021005",
        "phone": "081234567890",
        **extra,
    }
    return seal(
        KEY,
        event_id="e-1",
        coop_id="6472021005",
        device_id="kasir-1",
        seq=7,
        hlc=Hlc(1_767_225_600_000, 2),
        type="MemberRegistered",
        version=1,
        aggregate_id="M-kasir-1-7",
        payload=REGISTRY.validate("MemberRegistered", payload),
        prev_hash=GENESIS_HASH,
    )


@given(cases())
def test_no_personal_value_appears_in_the_output_bytes(case: Case) -> None:
    """For any payload of any type and version, no NIK, KK, name, phone or address is in clear."""
    data = encode_view(partner_view(case.env, KEY_A))
    secrets = pii_values(case.schema, case.env.payload)
    if case.env.aggregate_id.isdigit() and len(case.env.aggregate_id) == 16:
        secrets.append(case.env.aggregate_id)
    for value in secrets:
        assert value.encode() not in data, f"{value!r} leaked in {case.schema.type}"


@given(cases())
def test_fields_without_personal_data_are_unchanged(case: Case) -> None:
    """Envelope fields and every payload field without a personal mark arrive as they were."""
    env = case.env
    view = partner_view(env, KEY_A)
    assert {k: view[k] for k in ("event_id", "coop_id", "device_id", "seq", "type", "version")} == {
        "event_id": env.event_id,
        "coop_id": env.coop_id,
        "device_id": env.device_id,
        "seq": env.seq,
        "type": env.type,
        "version": env.version,
    }
    assert view["hlc"] == [env.hlc.wall, env.hlc.counter]
    if not (env.aggregate_id.isdigit() and len(env.aggregate_id) == 16):
        assert view["aggregate_id"] == env.aggregate_id
    _assert_kept(case.schema.type, case.schema.fields, env.payload, view["payload"])


def _assert_kept(
    event_type: str, fields: tuple[Field, ...], before: dict[str, Any], after: dict[str, Any]
) -> None:
    for f in fields:
        pii = field_pii(event_type, f)
        if pii is not None or f.name not in before:
            continue
        if f.kind == "records":
            assert len(after[f.name]) == len(before[f.name])
            for b, a in zip(before[f.name], after[f.name], strict=True):
                _assert_kept(event_type, f.items, b, a)
        else:
            assert after[f.name] == before[f.name], f.name


@given(cases())
def test_personal_fields_are_pseudonymised_or_absent(case: Case) -> None:
    """NIK and KK fields become this partner's pseudonym; name, phone and address fields vanish."""
    view = partner_view(case.env, KEY_A)["payload"]
    for f in case.schema.fields:
        pii = field_pii(case.schema.type, f)
        if pii is None or pii == "by_field" or f.name not in case.env.payload:
            continue
        if treatment(pii) == "remove":
            assert f.name not in view
        else:
            assert view[f.name] == pseudonym(KEY_A, pii, case.env.payload[f.name])


@given(cases())
def test_the_view_is_plain_msgpack_any_library_reads(case: Case) -> None:
    """The bytes decode with stock msgpack to the view, with no signature or previous hash."""
    view = partner_view(case.env, KEY_A)
    decoded = msgpack.unpackb(encode_view(view), raw=False)
    assert decoded == view
    assert "sig" not in decoded and "prev_hash" not in decoded


@given(national_numbers)
def test_same_nik_same_pseudonym_per_partner_different_across_partners(nik: str) -> None:
    """One partner always sees one pseudonym for a NIK; two partners see two unrelated ones."""
    a1 = partner_view(_member_registered(nik), KEY_A)["payload"]["nik"]
    a2 = partner_view(_member_registered(nik), KEY_A)["payload"]["nik"]
    b = partner_view(_member_registered(nik), KEY_B)["payload"]["nik"]
    assert a1 == a2 != b
    assert a1.startswith(PSEUDONYM_PREFIX) and len(a1) == len(PSEUDONYM_PREFIX) + 64
    assert hashlib.sha256(nik.encode()).hexdigest() not in a1  # keyed, not a plain hash


def test_pseudonym_is_hmac_sha256_of_kind_and_value() -> None:
    """The pseudonym is documented HMAC-SHA256, so another implementation can reproduce it."""
    expected = hmac.new(KEY_A, f"nik:{NIK}".encode(), hashlib.sha256).hexdigest()
    assert pseudonym(KEY_A, "nik", NIK) == "hmac:" + expected
    assert pseudonym(KEY_A, "nik", NIK) != pseudonym(KEY_A, "kk", NIK)


def test_member_registered_keeps_birth_date_and_village_only() -> None:
    """A registration reaches partners as pseudonyms, birth date and village code, nothing else."""
    view = partner_view(_member_registered(), KEY_A)
    assert view["payload"] == {
        "birth_date": "1990-06-05",
        "desa_code": "6472021005",
        "kk_no": pseudonym(KEY_A, "kk", KK),
        "nik": pseudonym(KEY_A, "nik", NIK),
    }


@given(st.sampled_from(["name", "phone", "address", "nik", "kk_no", "desa_code", "birth_date"]))
def test_profile_change_value_follows_the_changed_field(field: str) -> None:
    """A changed name/phone/address loses its value, NIK/KK get a pseudonym, the rest is kept."""
    value = {
        "name": "Dewi Lestari",
        "phone": "081298765432",
        "address": "Jl. Pramuka No. 7",
        "nik": NIK,
        "kk_no": KK,
        "desa_code": "6472021005",
        "birth_date": "1990-06-05",
    }[field]
    env = seal(
        KEY,
        event_id="e-2",
        coop_id="6472021005",
        device_id="kasir-1",
        seq=8,
        hlc=Hlc(1, 0),
        type="MemberProfileFieldChanged",
        version=1,
        aggregate_id="M-kasir-1-7",
        payload={"field": field, "value": value},
        prev_hash=GENESIS_HASH,
    )
    payload = partner_view(env, KEY_A)["payload"]
    expected: dict[str, Any] = {"field": field}
    if field in ("nik", "kk_no"):
        expected["value"] = pseudonym(KEY_A, "nik" if field == "nik" else "kk", value)
    elif field in ("desa_code", "birth_date"):
        expected["value"] = value
    assert payload == expected


def test_unknown_payload_fields_and_profile_fields_are_dropped() -> None:
    """Fail closed: a field unknown to the schema, or an unclassified profile field, is dropped."""
    env = seal(
        KEY,
        event_id="e-3",
        coop_id="6472021005",
        device_id="kasir-1",
        seq=9,
        hlc=Hlc(1, 0),
        type="MemberProfileFieldChanged",
        version=1,
        aggregate_id="M-1",
        payload={"field": "mother_name", "value": "Ibu Sumarni", "extra": "Budi"},
        prev_hash=GENESIS_HASH,
    )
    assert partner_view(env, KEY_A)["payload"] == {"field": "mother_name"}


def test_people_named_as_deciders_are_removed() -> None:
    """approved_by and resolved_by name a person, so they never reach a partner."""
    env = seal(
        KEY,
        event_id="e-4",
        coop_id="6472021005",
        device_id="kasir-1",
        seq=10,
        hlc=Hlc(1, 0),
        type="MembershipApproved",
        version=1,
        aggregate_id="M-1",
        payload={"approved_on": "2026-01-05", "approved_by": "Hj. Aminah"},
        prev_hash=GENESIS_HASH,
    )
    assert partner_view(env, KEY_A)["payload"] == {"approved_on": "2026-01-05"}


def test_a_nik_used_as_aggregate_id_is_pseudonymised() -> None:
    """A member numbered by its NIK does not leak it through aggregate_id."""
    env = seal(
        KEY,
        event_id="e-5",
        coop_id="6472021005",
        device_id="kasir-1",
        seq=11,
        hlc=Hlc(1, 0),
        type="MemberResigned",
        version=1,
        aggregate_id=NIK,
        payload={"resigned_on": "2026-02-01"},
        prev_hash=GENESIS_HASH,
    )
    view = partner_view(env, KEY_A)
    assert view["aggregate_id"] == pseudonym(KEY_A, "id", NIK)
    assert NIK.encode() not in encode_view(view)
