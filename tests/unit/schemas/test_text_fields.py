"""Text fields refuse control and bidirectional-override characters, naming the field, on the
device (schema check, CLI, HTTP contract) and at central ingest; ordinary text passes."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from central_projector.ingest.checks import check
from central_projector.ingest.verdict import Device, Refused, Upload
from edge_agent.app.agent import EdgeAgent
from kopsync.cli.main import cli
from schemas import REGISTRY
from schemas.fields import FieldProblem, check_value
from schemas.jsonschema import event_schema
from sync_core.envelope import Envelope, seal
from sync_core.errors import DecodeError, ValidationError
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, DeviceKey

UNSAFE = ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b", "\u061c", "\u200e",
          "\u200f", "\u2028", "\u2029", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
          "\u2066", "\u2067", "\u2068", "\u2069", "\ud800"]  # fmt: skip
FINE = ["Siti Rahmawati", "Ni Luh Putu Ayu Saraswati", "Jl. H. Moh. Hatta No. 5/7, RT 02",
        "Désirée Ŝ. O'Neil", "Kartu hilang — dilaporkan 3×", "名前", "Rp5.000 (tunai)"]  # fmt: skip

TEXT_FIELDS = sorted(
    {(s.type, s.version, f.name) for s in REGISTRY for f in s.fields if f.kind == "str"}
)


def test_every_text_field_is_covered() -> None:
    """The catalog has text fields in many events (names, reasons, addresses)."""
    names = {name for _, _, name in TEXT_FIELDS}
    assert {"name", "reason", "phone"} <= names, names


@pytest.mark.parametrize("char", UNSAFE, ids=lambda c: f"U+{ord(c):04X}")
def test_an_unsafe_character_is_refused_naming_the_field_and_the_character(char: str) -> None:
    """MemberRegistered with the character inside the name fails on ``name``, saying which."""
    payload = {"nik": "6401051204880001", "kk_no": "6401050101090003",
               "name": f"Siti{char}Rahmawati", "birth_date": "1988-04-12",
               "desa_code": "6401050012"}  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        REGISTRY.validate("MemberRegistered", payload)
    assert caught.value.field == "name"
    assert f"U+{ord(char):04X}" in str(caught.value) and "position 5" in str(caught.value)


@given(st.sampled_from(TEXT_FIELDS), st.sampled_from(UNSAFE), st.sampled_from(FINE))
def test_no_text_field_of_any_event_takes_one(
    where: tuple[str, int, str], char: str, text: str
) -> None:
    """Whatever the event, version and text field, text holding one is refused there."""
    event_type, version, name = where
    field = next(f for f in REGISTRY.get(event_type, version).fields if f.name == name)
    value = text[: field.max_len - 1] + char
    with pytest.raises(FieldProblem, match="control or bidirectional-override"):
        check_value(field, value, name)


@pytest.mark.parametrize("text", FINE)
def test_ordinary_text_passes(text: str) -> None:
    """Names and addresses with punctuation, accents and other scripts are accepted."""
    payload = {"reason": text, "resigned_on": "2026-11-02"}
    assert REGISTRY.validate("MemberResigned", payload)["reason"] == text


def test_the_exported_json_schema_refuses_them_too() -> None:
    """A partner validating with the exported JSON Schema refuses what the device refuses."""
    doc = event_schema(REGISTRY.get("MemberResigned"))
    validator = jsonschema.Draft202012Validator(doc)
    assert validator.is_valid({"reason": "pindah domisili", "resigned_on": "2026-11-02"})
    for char in UNSAFE[:-1]:  # a lone surrogate cannot be in a JSON document's text
        assert not validator.is_valid({"reason": f"a{char}b", "resigned_on": "2026-11-02"})


def test_the_cli_refuses_with_one_line_and_records_nothing(tmp_path: Path) -> None:
    """`edge member register` with a right-to-left override in the name: one error line."""
    data = tmp_path / "dev"
    EdgeAgent.init(data, "6401050012", "pb-kasir-1").close()
    result = CliRunner().invoke(cli, ["edge", "member", "register", "--nik", "6401051204880001",
                                      "--kk", "6401050101090003", "--name", "Siti\u202eRahma",
                                      "--birth-date", "1988-04-12", "--desa", "6401050012",
                                      "--data", str(data)])  # fmt: skip
    assert result.exit_code != 0
    [line] = result.stderr.splitlines()
    assert line.startswith("error: MemberRegistered: field 'name'") and "U+202E" in line
    with EdgeAgent(data) as agent:
        assert agent.head().seq == 0


def _signed(key: DeviceKey, payload: dict[str, object], event_id: str = "e-1") -> bytes:
    return seal(key, event_id=event_id, coop_id="6401050012", device_id="pb-kasir-1", seq=1,
                hlc=Hlc(1_790_000_000_000, 0), type="MemberResigned", version=1,
                aggregate_id="M-1", payload=payload, prev_hash=GENESIS_HASH).encode()  # fmt: skip


def test_central_ingest_quarantines_a_signed_event_holding_one() -> None:
    """A device that signs a reason with a bidi override gets it quarantined as
    invalid_payload, the detail naming the field."""
    key = DeviceKey.generate()
    raw = _signed(key, {"reason": "pindah\u202edomisili", "resigned_on": "2026-11-02"})
    device = Device("pb-kasir-1", "6401050012", key.public_key, 0, GENESIS_HASH, False)
    [verdict] = check(Upload("6401050012", "pb-kasir-1", (raw,), raw), device)
    assert isinstance(verdict, Refused) and verdict.reason == "invalid_payload"
    assert "field 'reason'" in verdict.detail and "U+202E" in verdict.detail


def test_an_envelope_event_id_holding_one_does_not_decode() -> None:
    """The envelope's free-text id is held to the same rule."""
    raw = _signed(DeviceKey.generate(), {"resigned_on": "2026-11-02"}, "e-1\u202e")
    with pytest.raises(DecodeError, match=r"event_id holds .*U\+202E"):
        Envelope.decode(raw)
