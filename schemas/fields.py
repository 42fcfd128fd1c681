"""Field kinds of event payloads and their validation.

A payload is a msgpack map; each field has a kind. Money is integer rupiah,
ids are subject tokens, dates are ISO ``YYYY-MM-DD`` text, periods ``YYYY-MM``.
Fields marked ``pii`` carry personal data (UU PDP No. 27/2022) and never reach
partner topics in clear.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from sync_core.errors import InvalidId
from sync_core.ids import check_coop_id, check_device_id, check_id
from sync_core.text import describe, unsafe_char

Kind = Literal[
    "str",
    "id",
    "coop_id",
    "device_id",
    "int",
    "money",
    "date",
    "period",
    "enum",
    "bool",
    "bytes",
    "digits",
    "records",
    "ids",
]
Pii = Literal["nik", "kk", "name", "phone", "address", "by_field"]

MAX_MONEY = 10**15  # Rp1 quadrillion: far above any cooperative's books, far below 2**63
MAX_STR = 200
MAX_LIST = 500

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class Field:
    """One payload field."""

    name: str
    kind: Kind
    required: bool = True
    doc: str = ""
    choices: tuple[str, ...] = ()
    digits: int | None = None  # exact length for kind "digits"
    minimum: int | None = None
    maximum: int | None = None
    nonzero: bool = False
    max_len: int = MAX_STR
    items: tuple[Field, ...] = ()  # for kind "records": the fields of each record
    pii: Pii | None = None


class FieldProblem(Exception):
    """A value does not fit its field; the message says what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def check_value(f: Field, value: Any, path: str) -> Any:
    """Return the value if it fits ``f``, else raise :class:`FieldProblem`."""
    kind = f.kind
    if kind in ("int", "money"):
        if not isinstance(value, int) or isinstance(value, bool):
            what = "an integer number of rupiah" if kind == "money" else "an integer"
            raise FieldProblem(path, f"must be {what}, got {_show(value)}")
        lo = f.minimum if f.minimum is not None else (0 if kind == "money" else -(2**62))
        hi = f.maximum if f.maximum is not None else (MAX_MONEY if kind == "money" else 2**62)
        if not lo <= value <= hi:
            raise FieldProblem(path, f"must be between {lo} and {hi}, got {value}")
        if f.nonzero and value == 0:
            raise FieldProblem(path, "must not be 0")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise FieldProblem(path, f"must be true or false, got {_show(value)}")
        return value
    if kind == "bytes":
        if not isinstance(value, bytes) or not 0 < len(value) <= f.max_len:
            raise FieldProblem(path, f"must be 1 to {f.max_len} bytes")
        return value
    if kind == "records":
        return _check_records(f, value, path)
    if kind == "ids":
        if not isinstance(value, list) or not 0 < len(value) <= MAX_LIST:
            raise FieldProblem(path, f"must be a list of 1 to {MAX_LIST} ids")
        return [_check_id(v, f"{path}[{i}]", check_id) for i, v in enumerate(value)]
    if not isinstance(value, str):
        raise FieldProblem(path, f"must be text, got {_show(value)}")
    if kind == "str":
        if not value.strip() or len(value) > f.max_len:
            raise FieldProblem(path, f"must be non-blank text of at most {f.max_len} characters")
        return check_text(value, path)
    if kind == "id":
        return _check_id(value, path, check_id)
    if kind == "coop_id":
        return _check_id(value, path, check_coop_id)
    if kind == "device_id":
        return _check_id(value, path, check_device_id)
    if kind == "enum":
        if value not in f.choices:
            raise FieldProblem(path, f"must be one of {', '.join(f.choices)}, got {value!r}")
        return value
    if kind == "digits":
        if not value.isascii() or not value.isdigit() or (f.digits and len(value) != f.digits):
            raise FieldProblem(path, f"must be exactly {f.digits} digits, got {value!r}")
        return value
    if kind == "date":
        try:
            if len(value) != 10:
                raise ValueError
            dt.date.fromisoformat(value)
        except ValueError:
            raise FieldProblem(path, f"must be a date YYYY-MM-DD, got {value!r}") from None
        return value
    if kind == "period":
        if not _PERIOD.match(value):
            raise FieldProblem(path, f"must be a month YYYY-MM, got {value!r}")
        return value
    raise AssertionError(f"unknown field kind {kind}")


def check_text(value: str, path: str) -> str:
    """``value`` if it holds no control, separator or bidirectional-control character
    (:func:`sync_core.text.unsafe_char`)."""
    bad = unsafe_char(value)
    if bad is not None:
        raise FieldProblem(path, f"must not contain {describe(*bad)}; type it again without it")
    return value


def check_fields(fields: tuple[Field, ...], payload: Any, path: str = "") -> dict[str, Any]:
    """Check a map against ``fields``: required present, no unknown names, each value fits."""
    if not isinstance(payload, dict):
        raise FieldProblem(path or "payload", "must be a map")
    known = {f.name for f in fields}
    for name in payload:
        if name not in known:
            raise FieldProblem(_join(path, str(name)), "is not a field of this event")
    out: dict[str, Any] = {}
    # Built in canonical (byte-wise sorted) key order, so the result packs canonically as is.
    for f in _sorted(fields):
        p = _join(path, f.name)
        if f.name not in payload or payload[f.name] is None:
            if f.required:
                raise FieldProblem(p, "is required")
            continue
        out[f.name] = check_value(f, payload[f.name], p)
    return out


# Keyed by identity: field tuples live for the process (they are the catalog's), and hashing
# nested frozen dataclasses on every call would cost more than the sort it saves.
_SORTED: dict[int, tuple[tuple[Field, ...], tuple[Field, ...]]] = {}


def _sorted(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    cached = _SORTED.get(id(fields))
    if cached is None or cached[0] is not fields:
        cached = _SORTED[id(fields)] = (
            fields,
            tuple(sorted(fields, key=lambda f: f.name.encode())),
        )
    return cached[1]


def _check_records(f: Field, value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_LIST:
        raise FieldProblem(path, f"must be a list of 1 to {MAX_LIST} entries")
    return [check_fields(f.items, v, f"{path}[{i}]") for i, v in enumerate(value)]


def _check_id(value: Any, path: str, check: Any) -> str:
    try:
        return check(value)  # type: ignore[no-any-return]
    except InvalidId as exc:
        raise FieldProblem(path, str(exc)) from None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:60]
