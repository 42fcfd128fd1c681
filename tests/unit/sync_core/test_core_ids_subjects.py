"""Ids are NATS subject tokens, and subjects are built only from them."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import FORBIDDEN_IN_IDS, coop_ids, device_ids, ids, region_codes

from sync_core import ids as ids_mod
from sync_core import subjects
from sync_core.errors import InvalidId

# Characters that break a subject token or a log line, besides the four the brief names.
FORBIDDEN: st.SearchStrategy[str] = st.sampled_from(
    [*FORBIDDEN_IN_IDS, "\t", "\n", "\r", "/", "é", "\x00"]
)


@st.composite
def spoiled(draw: st.DrawFn, good: st.SearchStrategy[str]) -> str:
    """A valid id with one forbidden character put anywhere in it."""
    value = draw(good)
    at = draw(st.integers(0, len(value)), label="position")
    return value[:at] + draw(FORBIDDEN) + value[at:]


@given(ids())
def test_valid_ids_pass(value: str) -> None:
    """Letters, digits, '-' and '_' up to 64 characters are valid ids, returned unchanged."""
    assert ids_mod.check_id(value) == value


@given(spoiled(ids(max_size=60)))
def test_ids_with_forbidden_characters_fail(value: str) -> None:
    """An id with '.', '*', '>', a space or another non-token character is an InvalidId."""
    with pytest.raises(InvalidId):
        ids_mod.check_id(value)


@pytest.mark.parametrize("value", ["", None, 42, b"kop", ["a"]])
def test_empty_or_non_string_ids_fail(value: object) -> None:
    """Empty strings and non-strings are InvalidId."""
    with pytest.raises(InvalidId):
        ids_mod.check_id(value)


@given(ids(min_size=65, max_size=200))
def test_long_ids_fail(value: str) -> None:
    """Ids longer than 64 characters are InvalidId."""
    with pytest.raises(InvalidId, match="longer"):
        ids_mod.check_id(value)


@given(ids(min_size=1, max_size=32), ids(min_size=33, max_size=64))
def test_device_ids_are_at_most_32_characters(short: str, long: str) -> None:
    """Device ids accept up to 32 characters and refuse more."""
    assert ids_mod.check_device_id(short) == short
    with pytest.raises(InvalidId):
        ids_mod.check_device_id(long)


@given(coop_ids)
def test_valid_coop_ids_pass_and_give_their_region(coop_id: str) -> None:
    """A cooperative id starting with its region code passes; region_of reads its first digits."""
    assert ids_mod.check_coop_id(coop_id) == coop_id
    code = coop_id.split("-")[0]
    assert ids_mod.region_of(coop_id) == (code[:2], code[:4])


@pytest.mark.parametrize(
    "coop_id",
    ["KMP-6472", "647", "64720210051", "6472-", "6472--x", "64.72", "6472 x", "٦٤٧٢", "6472\n"],
)
def test_coop_ids_without_a_region_code_fail(coop_id: str) -> None:
    """Cooperative ids not made of a 4-10 digit region code plus '-' suffixes are InvalidId."""
    with pytest.raises(InvalidId):
        ids_mod.check_coop_id(coop_id)


@given(region_codes)
def test_region_of_takes_province_and_regency(code: str) -> None:
    """region_of gives the 2-digit province and 4-digit regency codes."""
    assert ids_mod.region_of(code) == (code[:2], code[:4])


def test_new_event_ids_are_uuid4_and_valid_ids() -> None:
    """Fresh event ids are distinct UUID4s that are also valid ids."""
    a, b = ids_mod.new_event_id(), ids_mod.new_event_id()
    assert a != b
    assert uuid.UUID(a).version == 4
    assert ids_mod.check_id(a) == a


def tokens(subject: str) -> list[str]:
    parts = subject.split(".")
    assert all(parts), f"empty token in {subject!r}"
    assert not any(c in subject for c in "*> \t\r\n"), f"wildcard or space in {subject!r}"
    return parts


@given(coop_ids, device_ids)
def test_upload_and_control_subjects(coop_id: str, device_id: str) -> None:
    """Per-device subjects are kop.up/ctl/hello followed by the coop and device tokens."""
    assert tokens(subjects.upload(coop_id, device_id)) == ["kop", "up", coop_id, device_id]
    assert tokens(subjects.control(coop_id, device_id)) == ["kop", "ctl", coop_id, device_id]
    assert tokens(subjects.hello(coop_id, device_id)) == ["kop", "hello", coop_id, device_id]


@given(coop_ids, ids(max_size=20), ids(max_size=40))
def test_canonical_subject(coop_id: str, area: str, event_type: str) -> None:
    """Canonical subjects carry province, regency, coop, area and type as separate tokens."""
    prov, regency = ids_mod.region_of(coop_id)
    assert tokens(subjects.canonical(coop_id, area, event_type)) == [
        "kop",
        "ev",
        prov,
        regency,
        coop_id,
        area,
        event_type,
    ]


@given(coop_ids, ids())
def test_downlink_and_quarantine_subjects(coop_id: str, reason: str) -> None:
    """Downlink and quarantine subjects have exactly one id token after their prefix."""
    assert tokens(subjects.downlink(coop_id)) == ["kop", "down", coop_id]
    assert tokens(subjects.quarantine(reason)) == ["kop", "q", reason]


def test_wildcards_cover_their_subjects() -> None:
    """Each wildcard is its family's prefix followed by wildcard tokens only."""
    assert subjects.upload_wildcard() == "kop.up.>"
    assert subjects.canonical_wildcard() == "kop.ev.>"
    assert subjects.downlink_wildcard() == "kop.down.>"
    assert subjects.quarantine_wildcard() == "kop.q.>"
    assert subjects.hello_wildcard() == "kop.hello.*.*"


@given(coop_ids, device_ids, spoiled(ids(max_size=20)))
def test_subject_helpers_refuse_bad_tokens(coop_id: str, device_id: str, bad: str) -> None:
    """Every subject helper raises InvalidId instead of building a subject from a bad token."""
    calls: list[Callable[[], str]] = [
        lambda: subjects.upload(bad, device_id),
        lambda: subjects.upload(coop_id, bad),
        lambda: subjects.control(coop_id, bad),
        lambda: subjects.hello(bad, device_id),
        lambda: subjects.hello(coop_id, bad),
        lambda: subjects.canonical(coop_id, bad, "Type"),
        lambda: subjects.canonical(coop_id, "area", bad),
        lambda: subjects.downlink(bad),
        lambda: subjects.quarantine(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidId):
            call()


@given(coop_ids, device_ids)
def test_device_subjects_parse_back_to_their_ids(coop: str, device: str) -> None:
    """Upload, hello and control subjects give back the ids they were built from."""
    want = subjects.DeviceSubject(coop, device)
    assert subjects.parse_upload(subjects.upload(coop, device)) == want
    assert subjects.parse_hello(subjects.hello(coop, device)) == want
    assert subjects.parse_control(subjects.control(coop, device)) == want
    assert subjects.parse_downlink(subjects.downlink(coop)) == coop


@given(coop_ids, ids(), ids())
def test_canonical_subjects_parse_back(coop: str, area: str, event_type: str) -> None:
    """A canonical subject gives back its region, cooperative, area and type."""
    parsed = subjects.parse_canonical(subjects.canonical(coop, area, event_type))
    prov, regency = ids_mod.region_of(coop)
    assert parsed == subjects.CanonicalSubject(prov, regency, coop, area, event_type)


@pytest.mark.parametrize(
    ("parse", "subject"),
    [
        (subjects.parse_upload, "kop.up.6401050012"),
        (subjects.parse_upload, "kop.up.6401050012.kasir-1.x"),
        (subjects.parse_upload, "kop.hello.6401050012.kasir-1"),
        (subjects.parse_upload, "kop.up.64.kasir-1"),
        (subjects.parse_upload, "kop.up.6401050012.*"),
        (subjects.parse_hello, "kop.hello.6401050012." + "a" * 33),
        (subjects.parse_hello, ""),
        (subjects.parse_control, "kop.ctl.>"),
        (subjects.parse_downlink, "kop.down.6401050012.x"),
        (subjects.parse_downlink, "kop.down.abc"),
        (subjects.parse_canonical, "kop.ev.62.6202.6401050012.shop.SaleRecorded"),
        (subjects.parse_canonical, "kop.ev.64.6401.6401050012.shop"),
        (subjects.parse_canonical, "kop.ev.64.6401.6401050012.shop.Sale Recorded"),
    ],
)
def test_malformed_subjects_are_invalid_ids(parse: Callable[[str], object], subject: str) -> None:
    """A subject of another kind, shape or with a bad token is an InvalidId naming the form."""
    with pytest.raises(InvalidId):
        parse(subject)
