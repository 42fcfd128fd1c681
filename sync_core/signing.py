"""Ed25519 device keys (PyNaCl) and the SHA-256 event hash of the chain."""

from __future__ import annotations

import hashlib

from nacl.bindings import crypto_sign, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

from sync_core.errors import SignatureInvalid, UsageError

HASH_LEN = 32
GENESIS_HASH = b"\x00" * HASH_LEN


def digest(data: bytes) -> bytes:
    """The chain hash of an encoded event."""
    return hashlib.sha256(data).digest()


class DeviceKey:
    """A device's Ed25519 signing key."""

    __slots__ = ("_key", "_secret")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise UsageError("a device key seed must be 32 bytes")
        self._key = SigningKey(seed)
        self._secret = crypto_sign_seed_keypair(seed)[1]

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(bytes(SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        # The raw binding: same libsodium call, without building a SignedMessage per event.
        return crypto_sign(message, self._secret)[:64]


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature`` is valid for ``message``."""
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, CryptoError, ValueError, TypeError) as exc:
        raise SignatureInvalid("signature does not verify with the device's public key") from exc
