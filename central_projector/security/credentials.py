"""Making nkeys and handing their seeds over: the only place a secret is written.

A user nkey is an Ed25519 key pair: the seed (``SU…``) signs the server's nonce at connect,
the public key (``U…``) is all the server is told. The seed is written once, to a new file
of mode 0600 for its user, and kept nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nkeys  # type: ignore[import-untyped]  # nkeys ships no type information

from sync_core.errors import StoreExists


@dataclass(frozen=True, slots=True)
class UserKey:
    seed: str
    public: str


def new_user_key() -> UserKey:
    """A fresh user nkey from the operating system's random source."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    pair = nkeys.from_seed(bytearray(seed))
    try:
        return UserKey(seed.decode(), pair.public_key.decode())
    finally:
        pair.wipe()


def public_key_of(seed: str) -> str:
    """The public user nkey of ``seed``."""
    pair = nkeys.from_seed(bytearray(seed.strip().encode()))
    try:
        return str(pair.public_key.decode())
    finally:
        pair.wipe()


def write_seed(path: Path, key: UserKey) -> Path:
    """Write the seed to a new file (mode 0600, fsynced); never overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreExists(f"{path} exists already; refusing to overwrite a credential") from None
    with os.fdopen(fd, "w") as f:
        f.write(key.seed + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path
