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
MAX_DEPTH = 64


def canonical(value: Any) -> Any:
    """Return ``value`` with every map re-built in canonical key order."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise UsageError(f"map keys must be strings, got {type(key).__name__}")
        return {k: canonical(value[k]) for k in sorted(value, key=lambda k: k.encode())}
    if isinstance(value, msgpack.ExtType):  # a namedtuple: the tuple branch would take it
        raise UsageError(f"msgpack extension type {value.code} is not allowed")
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
    return msgpack.packb(canonical(value), use_bin_type=True)


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
    _check_decoded(value)
    return value


def _refuse_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"msgpack extension type {code} is not allowed")


def _check_decoded(value: Any) -> None:
    # Iterative on purpose: a peer controls the nesting depth, and msgpack accepts
    # deeper nesting than Python's recursion limit (and than canonical() can re-encode).
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            raise DecodeError("floats are not allowed in kopsync messages")
        if item is None or isinstance(item, int | str | bytes):
            continue
        # The timestamp extension (-1) is decoded by msgpack itself, without ext_hook.
        if not isinstance(item, dict | list):
            raise DecodeError(f"msgpack value of type {type(item).__name__} is not allowed")
        if depth > MAX_DEPTH:
            raise DecodeError(f"message nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise DecodeError("map keys must be strings")
            stack.extend((v, depth + 1) for v in item.values())
        else:
            stack.extend((v, depth + 1) for v in item)
