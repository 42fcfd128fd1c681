"""Malformed upload messages: Hypothesis-generated envelopes and batches, plus random bytes.

Every kind of wrongness ingest must quarantine: bytes that are not zstd, zstd that is not
msgpack, batches of the wrong shape or with no events, envelopes with fields missing or of
the wrong type, well-formed envelopes signed by an unknown key, envelopes signed by the
device's own key but of an unknown type or with an invalid payload, envelopes of another
device or cooperative. Generation is seeded, so a run reproduces.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import msgpack
import zstandard
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from sync_core.batch import encode_batch
from sync_core.envelope import WIRE_FIELDS, seal
from sync_core.hlc import Hlc
from sync_core.signing import DeviceKey

PER_EXAMPLE = 50

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)
_value = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def _raw_envelope(draw: st.DrawFn, coop_id: str, device_id: str) -> bytes:
    """An envelope-shaped map with some fields missing, mistyped or random."""
    wire: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "coop_id": coop_id,
        "device_id": device_id,
        "seq": draw(st.integers(1, 10**6)),
        "hlc": [draw(st.integers(0, 2**45)), draw(st.integers(0, 9))],
        "type": draw(st.sampled_from(["SaleRecorded", "PriceSet", "Teleported"])),
        "version": 1,
        "aggregate_id": "BRS-5",
        "payload": draw(st.dictionaries(st.text(max_size=8), _value, max_size=4)),
        "prev_hash": draw(st.binary(min_size=32, max_size=32)),
        "sig": draw(st.binary(min_size=64, max_size=64)),
    }
    for name in draw(st.lists(st.sampled_from(WIRE_FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            del wire[name]
        else:
            wire[name] = draw(_value)
    return msgpack.packb(wire, use_bin_type=True)


@st.composite
def _signed(draw: st.DrawFn, key: DeviceKey, coop_id: str, device_id: str) -> bytes:
    """A canonical envelope signed by the device's key (or by a stranger's), yet wrong: an
    unknown type, a payload its schema refuses, or another device's or coop's name."""
    fault = draw(
        st.sampled_from(["stranger", "unknown_type", "bad_payload", "other_coop", "other_device"])
    )
    signer = DeviceKey.generate() if fault == "stranger" else key
    kind = (
        "Fz" + draw(st.text("abcdefghij", min_size=1, max_size=8))
        if fault == "unknown_type"
        else "PriceSet"
    )
    payload = (
        draw(st.dictionaries(st.text("xyz", min_size=1, max_size=5), _leaf, max_size=3))
        if fault == "bad_payload"
        else {"sku": "BRS-5", "unit_price": draw(st.integers(1, 10**7))}
    )
    env = seal(
        signer,
        event_id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        coop_id="6208031004" if fault == "other_coop" else coop_id,
        device_id="kasir-lain" if fault == "other_device" else device_id,
        seq=draw(st.integers(1, 10**6)),
        hlc=Hlc(draw(st.integers(0, 2**45)), 0),
        type=kind,
        version=1,
        aggregate_id="BRS-5",
        payload=payload,
        prev_hash=draw(st.binary(min_size=32, max_size=32)),
    )
    return env.encode()


@st.composite
def message(draw: st.DrawFn, key: DeviceKey, coop_id: str, device_id: str) -> bytes:
    """One malformed upload message body for ``kop.up.{coop_id}.{device_id}``."""
    shape = draw(
        st.sampled_from(["zstd_junk", "bad_batch", "empty", "raw", "signed", "signed", "raw"])
    )
    if shape == "zstd_junk":
        return zstandard.ZstdCompressor().compress(msgpack.packb(draw(_value), use_bin_type=True))
    if shape == "bad_batch":
        body = {
            "v": draw(st.sampled_from([1, 2, "1"])),
            "coop_id": coop_id,
            "device_id": device_id,
            "events": draw(_value),
        }
        return zstandard.ZstdCompressor().compress(msgpack.packb(body, use_bin_type=True))
    if shape == "empty":
        return encode_batch(coop_id, device_id, [])
    envelope = (
        _raw_envelope(coop_id, device_id) if shape == "raw" else _signed(key, coop_id, device_id)
    )
    items = draw(st.lists(envelope | st.binary(max_size=64), min_size=1, max_size=3))
    return encode_batch(coop_id, device_id, items)


def generate(
    count: int, key: DeviceKey, coop_id: str, device_id: str, seed: int
) -> tuple[list[bytes], int]:
    """``count`` malformed messages, about half from Hypothesis (how many is returned too),
    the rest random bytes; shuffled, seeded."""
    wanted = count - count // 2
    out: list[bytes] = []

    @settings(
        max_examples=max(1, -(-wanted // PER_EXAMPLE)),
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(st.lists(message(key, coop_id, device_id), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def collect(batch: list[bytes]) -> None:
        out.extend(batch)

    collect()
    out = out[:wanted]
    generated = len(out)
    rng = random.Random(seed)
    out.extend(rng.randbytes(rng.randint(0, 300)) for _ in range(count - len(out)))
    rng.shuffle(out)
    return out, generated
