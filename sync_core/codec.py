"""Canonical, language-neutral msgpack codec.

Only maps with string keys, strings, integers, booleans, nil, bytes and lists
are allowed; floats and extension types are refused so that money can never be
a float and any stock msgpack library can decode what we write. Map keys are
written in the order of their UTF-8 bytes, so equal values always encode to
equal bytes: the encoding can be hashed and signed.
"""

from __future__ import annotations

from typing import Any

import msgpack

from sync_core.errors import DecodeError, UsageError

MAX_MESSAGE_BYTES = 1024 * 1024


def canonical(value: Any) -> Any:
    """Return ``value`` with every map re-built in canonical key order."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise UsageError(f"map keys must be strings, got {type(key).__name__}")
        return {k: canonical(value[k]) for k in sorted(value, key=lambda k: k.encode())}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise UsageError(f"integer {value} does not fit in 64 bits")
        return value
    raise UsageError(
        f"value of type {type(value).__name__} cannot be encoded; "
        "use integers (rupiah), strings, bytes, lists or maps"
    )


def encode(value: Any) -> bytes:
    """Encode ``value`` canonically."""
    return msgpack.packb(canonical(value), use_bin_type=True)  # type: ignore[no-any-return]


def decode(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Decode bytes written by :func:`encode` (or any stock msgpack writer)."""
    if len(data) > max_bytes:
        raise DecodeError(f"message of {len(data)} bytes exceeds the {max_bytes}-byte limit")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_refuse_ext,
        )
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise DecodeError(f"not valid msgpack: {exc}") from exc
    _refuse_floats(value)
    return value


def _refuse_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"msgpack extension type {code} is not allowed")


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise DecodeError("floats are not allowed in kopsync messages")
    if isinstance(value, dict):
        for v in value.values():
            _refuse_floats(v)
    elif isinstance(value, list):
        for v in value:
            _refuse_floats(v)
