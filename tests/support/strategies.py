"""Hypothesis strategies for the kernel's values: wire values, ids, clocks, keys, envelopes."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, HASH_LEN, DeviceKey

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
FORBIDDEN_IN_IDS = ".*> "

# --- wire values -------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT64_MIN, UINT64_MAX),
    st.text(max_size=20),
    st.binary(max_size=20),
)

# Everything the codec allows: maps with string keys, lists, and the scalars above.
wire_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)

payloads: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.text(max_size=8), wire_values, max_size=5
)

# --- ids ---------------------------------------------------------------------------------------


def ids(min_size: int = 1, max_size: int = 64) -> st.SearchStrategy[str]:
    return st.text(alphabet=ID_CHARS, min_size=min_size, max_size=max_size)


device_ids = ids(max_size=32)
region_codes = st.text(alphabet="0123456789", min_size=4, max_size=10)
coop_ids = st.builds(
    lambda code, suffixes: "".join([code, *(f"-{s}" for s in suffixes)]),
    region_codes,
    st.lists(st.text(alphabet=ID_CHARS.replace("-", ""), min_size=1, max_size=6), max_size=2),
)

# --- clocks and keys ---------------------------------------------------------------------------

wall_ms = st.integers(0, 2**48)
hlcs = st.builds(Hlc, wall_ms, st.integers(0, 2**32))
device_keys = st.binary(min_size=32, max_size=32).map(DeviceKey)

# --- envelopes ---------------------------------------------------------------------------------


@st.composite
def envelope_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for :func:`sync_core.envelope.seal` that pass every shape check."""
    return {
        "event_id": str(draw(st.uuids(version=4))),
        "coop_id": draw(coop_ids),
        "device_id": draw(device_ids),
        "seq": draw(st.integers(1, 2**63 - 1)),
        "hlc": draw(hlcs),
        "type": draw(ids(max_size=40)),
        "version": draw(st.integers(1, 50)),
        "aggregate_id": draw(ids()),
        "payload": draw(payloads),
        "prev_hash": draw(st.binary(min_size=HASH_LEN, max_size=HASH_LEN)),
    }


@st.composite
def sealed_envelopes(draw: st.DrawFn) -> tuple[DeviceKey, Envelope]:
    key = draw(device_keys)
    return key, seal(key, **draw(envelope_fields()))


@st.composite
def chains(
    draw: st.DrawFn, min_size: int = 1, max_size: int = 8
) -> tuple[DeviceKey, list[Envelope]]:
    """A device key and a correctly chained run of its envelopes, seq 1..n from genesis."""
    key = draw(device_keys)
    base = draw(envelope_fields())
    n = draw(st.integers(min_size, max_size))
    chain: list[Envelope] = []
    prev_hash, wall = GENESIS_HASH, base["hlc"].wall
    for seq in range(1, n + 1):
        env = seal(
            key,
            **{
                **base,
                "event_id": str(draw(st.uuids(version=4))),
                "seq": seq,
                "hlc": Hlc(wall + seq, 0),
                "payload": {"n": seq},
                "prev_hash": prev_hash,
            },
        )
        chain.append(env)
        prev_hash = env.hash
    return key, chain


def reorder_maps(value: Any, data: st.DataObject) -> Any:
    """A copy of ``value`` with every map's items inserted in an order hypothesis picks."""
    if isinstance(value, dict):
        items = data.draw(st.permutations(list(value.items())))
        return {k: reorder_maps(v, data) for k, v in items}
    if isinstance(value, list):
        return [reorder_maps(v, data) for v in value]
    return value
