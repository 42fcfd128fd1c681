"""Hypothesis strategies for partner tests: valid envelopes whose personal values are findable.

Every personal value carries a mark no other generated value can contain (names and
addresses an 'ñ', phones a '+', NIK/KK numbers 16 digits where ids hold at most 8 digits in
a row and bytes fields hold no ASCII), so finding one in the output bytes is a leak, never
a coincidence.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from schemas import REGISTRY
from schemas.catalog import PROFILE_FIELDS, EventSchema
from schemas.fields import Field
from schemas.personal import PROFILE_PII, field_pii
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey

KEY = DeviceKey(bytes(range(32)))
COOPS = ("6202031004", "6208", "6271010001-KMP", "6401050012", "6472021005", "6403")
LOWER = string.ascii_lowercase

ids = st.builds(
    lambda head, tail: head + tail,
    st.text(string.ascii_letters, min_size=1, max_size=4),
    st.text(string.ascii_letters + "-_" + "01234567", max_size=8),
)
free_text = st.text(LOWER + " ", min_size=1, max_size=30).filter(lambda s: s.strip() != "")
national_numbers = st.text(string.digits, min_size=16, max_size=16)
names = st.builds(
    lambda a, b: f"{a.title()}ñ{b}",
    st.text(LOWER, min_size=1, max_size=10),
    st.text(LOWER + " ", max_size=12),
)
phones = st.builds(lambda d: "+62" + d, st.text(string.digits, min_size=8, max_size=11))
addresses = st.builds(
    lambda s, n: f"Jl. ñ{s} No. {n}", st.text(LOWER, max_size=10), st.integers(1, 200)
)


def pii_value(kind: str) -> st.SearchStrategy[str]:
    if kind in ("nik", "kk"):
        return national_numbers
    if kind == "name":
        return names
    if kind == "phone":
        return phones
    if kind == "address":
        return addresses
    raise AssertionError(kind)


def value_strategy(event_type: str, f: Field) -> st.SearchStrategy[Any]:
    """Valid values of one (non by_field) field; personal ones marked as the module says."""
    pii = field_pii(event_type, f)
    if pii is not None:
        return pii_value(pii)
    if f.kind in ("int", "money"):
        lo = f.minimum if f.minimum is not None else 0
        hi = f.maximum if f.maximum is not None else 10**12
        ints = st.integers(lo, hi)
        return ints.filter(lambda v: v != 0) if f.nonzero else ints
    if f.kind == "bool":
        return st.booleans()
    if f.kind == "bytes":
        return st.binary(min_size=1, max_size=f.max_len).map(lambda b: bytes(x & 0x0F for x in b))
    if f.kind == "records":
        return st.lists(fields_strategy(event_type, f.items), min_size=1, max_size=3)
    if f.kind == "ids":
        return st.lists(ids, min_size=1, max_size=3)
    if f.kind == "enum":
        return st.sampled_from(f.choices)
    if f.kind == "digits":
        return st.text(string.digits, min_size=f.digits or 1, max_size=f.digits or 8)
    if f.kind == "date":
        return st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
    if f.kind == "period":
        return st.tuples(st.integers(2000, 2099), st.integers(1, 12)).map(
            lambda t: f"{t[0]}-{t[1]:02d}"
        )
    if f.kind == "coop_id":
        return st.sampled_from(COOPS)
    if f.kind in ("id", "device_id"):
        return ids
    return free_text


def fields_strategy(
    event_type: str, fields: tuple[Field, ...]
) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.name: value_strategy(event_type, f) for f in fields if f.required}
    optional = {f.name: value_strategy(event_type, f) for f in fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def profile_change(draw: st.DrawFn) -> dict[str, Any]:
    """A MemberProfileFieldChanged payload whose value fits the changed field."""
    name = draw(st.sampled_from(PROFILE_FIELDS))
    pii = PROFILE_PII.get(name)
    if pii is not None:
        value = draw(pii_value(pii))
    elif name == "desa_code":
        value = draw(st.text(string.digits, min_size=10, max_size=10))
    else:
        value = draw(st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10))
    return {"field": name, "value": value}


def payload_strategy(schema: EventSchema) -> st.SearchStrategy[dict[str, Any]]:
    if any(f.pii == "by_field" for f in schema.fields):
        return profile_change()
    return fields_strategy(schema.type, schema.fields)


@dataclass(frozen=True)
class Case:
    schema: EventSchema
    env: Envelope


@st.composite
def cases(draw: st.DrawFn, schemas: tuple[EventSchema, ...] | None = None) -> Case:
    """A sealed envelope of any type and version with a valid, marked payload."""
    schema = draw(st.sampled_from(schemas or tuple(REGISTRY)))
    payload = REGISTRY.validate(schema.type, draw(payload_strategy(schema)), schema.version)
    env = seal(
        KEY,
        event_id=new_event_id(),
        coop_id=draw(st.sampled_from(COOPS)),
        device_id=draw(ids),
        seq=draw(st.integers(1, 10**9)),
        hlc=Hlc(draw(st.integers(0, 2**45)), draw(st.integers(0, 1000))),
        type=schema.type,
        version=schema.version,
        aggregate_id=draw(st.one_of(ids, national_numbers)),
        payload=payload,
        prev_hash=GENESIS_HASH,
    )
    return Case(schema, env)


def pii_values(schema: EventSchema, payload: dict[str, Any]) -> list[str]:
    """Every personal value in a payload (by the policy's marks), nested records included."""
    found: list[str] = []

    def walk(fields: tuple[Field, ...], value: dict[str, Any]) -> None:
        for f in fields:
            if f.name not in value:
                continue
            pii = field_pii(schema.type, f)
            if pii == "by_field":
                if PROFILE_PII.get(value.get("field", "")) is not None:
                    found.append(value[f.name])
            elif pii is not None:
                found.append(value[f.name])
            elif f.kind == "records":
                for r in value[f.name]:
                    walk(f.items, r)

    walk(schema.fields, payload)
    return found
