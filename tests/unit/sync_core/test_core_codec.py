"""The canonical msgpack codec: round-trips, determinism, stock-library compatibility, refusals."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import INT64_MIN, UINT64_MAX, reorder_maps, scalars, wire_values

from sync_core import codec
from sync_core.errors import DecodeError, UsageError


def same(a: Any, b: Any) -> bool:
    """Equality that also tells True from 1 and a list from a tuple, at every depth."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def canonically_ordered(value: Any) -> Any:
    """``value`` with every map's keys in UTF-8 byte order, the order the codec writes."""
    if isinstance(value, dict):
        return {k: canonically_ordered(value[k]) for k in sorted(value, key=str.encode)}
    if isinstance(value, list):
        return [canonically_ordered(v) for v in value]
    return value


@st.composite
def with_intruder(draw: st.DrawFn, intruder: st.SearchStrategy[Any]) -> Any:
    """A wire value with one forbidden value buried somewhere inside it."""
    value = draw(intruder)
    for wrapper in draw(st.lists(st.one_of(st.just(None), st.text(max_size=5)), max_size=5)):
        sibling = draw(st.one_of(scalars, st.lists(scalars, max_size=2)))
        if wrapper is None:
            value = draw(st.permutations([value, sibling]))
        else:
            value = {wrapper: value, f"{wrapper}_": sibling}
    return value


floats = st.floats(allow_nan=False)
ext_types = st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8))


@given(wire_values)
def test_round_trip(value: Any) -> None:
    """Any allowed value decodes to itself, with maps in canonical key order."""
    assert same(codec.decode(codec.encode(value)), canonically_ordered(value))


@given(wire_values, st.data())
def test_insertion_order_does_not_change_the_bytes(value: Any, data: st.DataObject) -> None:
    """Maps holding the same items encode to identical bytes whatever their insertion order."""
    assert codec.encode(reorder_maps(value, data)) == codec.encode(value)


@given(st.dictionaries(st.text(), st.integers(0, 10), max_size=8))
def test_keys_are_written_in_utf8_byte_order(value: dict[str, int]) -> None:
    """Keys come out in UTF-8 byte order, which any language can reproduce (not code points)."""
    written = list(msgpack.unpackb(codec.encode(value)))
    assert written == sorted(value, key=lambda k: k.encode("utf-8"))


@given(wire_values)
def test_stock_msgpack_reads_our_bytes(value: Any) -> None:
    """A stock msgpack decoder with default options reads our bytes as the same value."""
    assert same(msgpack.unpackb(codec.encode(value)), canonically_ordered(value))


@given(wire_values, st.data())
def test_we_read_stock_msgpack_bytes(value: Any, data: st.DataObject) -> None:
    """Bytes a partner writes with stock msgpack, in any key order, decode to the same value."""
    shuffled = reorder_maps(value, data)
    assert same(codec.decode(msgpack.packb(shuffled)), shuffled)


@given(with_intruder(floats))
def test_floats_are_refused_on_encode(value: Any) -> None:
    """A float anywhere in a value is refused before any byte is written."""
    with pytest.raises(UsageError):
        codec.encode(value)


@given(with_intruder(floats))
def test_floats_are_refused_on_decode(value: Any) -> None:
    """A float anywhere in received bytes is a DecodeError, never a value."""
    with pytest.raises(DecodeError, match="float"):
        codec.decode(msgpack.packb(value))


@given(with_intruder(ext_types))
def test_ext_types_are_refused_on_encode(value: Any) -> None:
    """Extension types cannot be encoded, so stock decoders never meet one of ours."""
    with pytest.raises(UsageError):
        codec.encode(value)


@given(with_intruder(st.one_of(ext_types, st.builds(msgpack.Timestamp, st.integers(0, 2**33)))))
def test_ext_types_are_refused_on_decode(value: Any) -> None:
    """Extension types in received bytes, the built-in timestamp included, are a DecodeError."""
    with pytest.raises(DecodeError):
        codec.decode(msgpack.packb(value))


@given(st.one_of(st.integers(max_value=INT64_MIN - 1), st.integers(min_value=UINT64_MAX + 1)))
def test_integers_beyond_64_bits_are_refused(value: int) -> None:
    """Integers msgpack cannot carry are refused with our error, not msgpack's."""
    with pytest.raises(UsageError):
        codec.encode({"amount": value})


@given(st.one_of(st.integers(), st.binary(max_size=4), st.tuples(st.text(max_size=2))))
def test_non_string_keys_are_refused_on_encode(key: Any) -> None:
    """Map keys must be strings."""
    with pytest.raises(UsageError):
        codec.encode({"ok": 1, "nested": {key: 1}})


@given(st.one_of(st.integers(INT64_MIN, UINT64_MAX), st.binary(max_size=4)))
def test_non_string_keys_are_refused_on_decode(key: Any) -> None:
    """Maps with integer or binary keys from a peer are a DecodeError."""
    with pytest.raises(DecodeError):
        codec.decode(msgpack.packb({"nested": {key: 1}}))


@given(wire_values, st.integers(0, 64))
def test_oversize_input_is_refused(value: Any, slack: int) -> None:
    """Input longer than the limit is refused before parsing; input at the limit is decoded."""
    data = codec.encode(value)
    assert same(codec.decode(data, max_bytes=len(data)), canonically_ordered(value))
    if len(data) > slack:
        with pytest.raises(DecodeError, match="exceeds"):
            codec.decode(data, max_bytes=len(data) - slack - 1)


def test_default_limit_is_one_mebibyte() -> None:
    """A message one byte over MAX_MESSAGE_BYTES is refused whatever it contains."""
    with pytest.raises(DecodeError, match="exceeds"):
        codec.decode(b"\xc0" * (codec.MAX_MESSAGE_BYTES + 1))


@pytest.mark.parametrize("depth", [codec.MAX_DEPTH + 1, 999, 1023, 5000])
def test_deep_nesting_is_a_decode_error(depth: int) -> None:
    """Nesting deeper than MAX_DEPTH is a DecodeError, not a RecursionError or a crash."""
    with pytest.raises(DecodeError):
        codec.decode(b"\x91" * depth + b"\x01")


def test_nesting_up_to_the_limit_is_accepted() -> None:
    """MAX_DEPTH levels of containers decode."""
    value: Any = 1
    for _ in range(codec.MAX_DEPTH):
        value = [value]
    assert codec.decode(codec.encode(value)) == value


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    """Garbage from a peer only ever raises DecodeError, so it can be quarantined."""
    try:
        value = codec.decode(data)
    except DecodeError:
        return
    assert codec.decode(msgpack.packb(value)) == value
