"""Ed25519 device keys and the chain hash."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.strategies import device_keys

from sync_core.errors import SignatureInvalid, UsageError
from sync_core.signing import GENESIS_HASH, HASH_LEN, DeviceKey, digest, verify

messages = st.binary(max_size=256)


@given(device_keys, messages)
def test_sign_then_verify(key: DeviceKey, message: bytes) -> None:
    """A signature made by a key verifies with its public key."""
    verify(key.public_key, message, key.sign(message))


@given(device_keys, messages, st.data())
def test_changed_message_does_not_verify(
    key: DeviceKey, message: bytes, data: st.DataObject
) -> None:
    """A signature does not verify for a message differing in any one byte."""
    assume(message)
    at = data.draw(st.integers(0, len(message) - 1), label="position")
    changed = bytearray(message)
    changed[at] ^= data.draw(st.integers(1, 255), label="xor mask")
    with pytest.raises(SignatureInvalid):
        verify(key.public_key, bytes(changed), key.sign(message))


@given(device_keys, messages, st.binary().filter(lambda b: len(b) != 32))
def test_malformed_public_key_is_signature_invalid(
    key: DeviceKey, message: bytes, public_key: bytes
) -> None:
    """A public key of the wrong length is reported as SignatureInvalid, not a library error."""
    with pytest.raises(SignatureInvalid):
        verify(public_key, message, key.sign(message))


@given(device_keys, messages, st.binary(max_size=80).filter(lambda b: len(b) != 64))
def test_malformed_signature_is_signature_invalid(
    key: DeviceKey, message: bytes, signature: bytes
) -> None:
    """A signature of the wrong length is reported as SignatureInvalid."""
    with pytest.raises(SignatureInvalid):
        verify(key.public_key, message, signature)


@given(st.binary(min_size=32, max_size=32))
def test_seed_round_trips(seed: bytes) -> None:
    """A key rebuilt from its seed is the same key."""
    key = DeviceKey(seed)
    assert key.seed == seed
    assert DeviceKey(key.seed).public_key == key.public_key


@given(st.binary(max_size=64).filter(lambda b: len(b) != 32))
def test_seed_must_be_32_bytes(seed: bytes) -> None:
    """Seeds of any other length are a UsageError."""
    with pytest.raises(UsageError):
        DeviceKey(seed)


def test_generated_keys_differ() -> None:
    """generate() gives a fresh 32-byte public key each time."""
    a, b = DeviceKey.generate(), DeviceKey.generate()
    assert len(a.public_key) == 32
    assert a.public_key != b.public_key


@given(messages)
def test_digest_is_sha256(data: bytes) -> None:
    """The chain hash is plain SHA-256, so any language can recompute it."""
    assert digest(data) == hashlib.sha256(data).digest()
    assert len(digest(data)) == HASH_LEN == len(GENESIS_HASH)
