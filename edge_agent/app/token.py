"""The device-local access token of the agent's HTTP API, for binds beyond loopback.

``kopsync edge init`` makes one and shows it once; the data directory keeps only its
SHA-256 (``http-token.sha256``, mode 0600), so a copied directory or backup does not
reveal it. ``kopsync edge token`` replaces it (the old token stops working).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

TOKEN_NAME = "http-token.sha256"


def make_token(data_dir: Path) -> str:
    """A new token for the device at ``data_dir``; its digest replaces any earlier one."""
    token = secrets.token_urlsafe(32)
    path = data_dir / TOKEN_NAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(digest(token).hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return token


def stored_digest(data_dir: Path) -> bytes | None:
    """The digest of the device's token, or None if it has none."""
    try:
        return bytes.fromhex((data_dir / TOKEN_NAME).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def matches(stored: bytes, presented: str) -> bool:
    """Whether ``presented`` is the token whose digest is ``stored`` (in constant time)."""
    return hmac.compare_digest(stored, digest(presented))
