"""Who may use a cooperative's hub, and how its links are encrypted (pure, but for reading
the files it is given).

- **The LAN side.** With the users file of ``kopsync admin hub`` (``lan-users.json``) the
  hub's client port requires credentials: each device of the cooperative connects with its
  own nkey (the one it has for the province) and gets the permissions the province wrote for
  it there (its own subjects on the province and on KOP_LAN, its own inbox). The hub adds
  one user of its own, made at each start and never written down, that creates KOP_LAN.
  With ``--lan-cert``/``--lan-key`` (certificates from ``kopsync admin tls server``) the
  port speaks TLS from the first byte, as the province's does.
- **The link to the province.** A ``tls://`` province is reached over TLS verified against
  the CA given (pinned: the system's store is not consulted).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nkeys  # type: ignore[import-untyped]  # nkeys ships no type information

from sync_core.errors import UsageError

LAN_ACCOUNT = "LAN"
LAN_USERS_FORMAT = 1


@dataclass(frozen=True, slots=True)
class LocalUser:
    """The hub's own user on its client port: it creates KOP_LAN, nothing else uses it."""

    seed: str
    public: str

    @classmethod
    def new(cls) -> LocalUser:
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        pair = nkeys.from_seed(bytearray(seed))
        try:
            return cls(seed.decode(), pair.public_key.decode())
        finally:
            pair.wipe()


def read_lan_users(path: Path, coop_id: str) -> list[dict[str, Any]]:
    """The users of ``path`` as nats-server ``users`` entries (nkey and permissions)."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist (kopsync admin hub add writes it)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the hub's LAN users {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != LAN_USERS_FORMAT:
        raise UsageError(f"{path} is not a LAN users file of kopsync admin hub")
    if doc.get("coop_id") != coop_id:
        raise UsageError(f"{path} is for cooperative {doc.get('coop_id')}, not {coop_id}")
    users = []
    try:
        for user in doc["users"]:
            nkey, perms = user["nkey"], user["permissions"]
            if not (isinstance(nkey, str) and nkey.startswith("U") and len(nkey) == 56):
                raise ValueError(f"bad nkey {nkey!r}")
            users.append(
                {
                    "nkey": nkey,
                    "permissions": {
                        "publish": {"allow": [str(s) for s in perms["publish"]["allow"]]},
                        "subscribe": {"allow": [str(s) for s in perms["subscribe"]["allow"]]},
                    },
                }
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is not a LAN users file of kopsync admin hub: {exc}") from None
    return users


def lan_accounts(users: list[dict[str, Any]], local: LocalUser) -> dict[str, Any]:
    """The hub's ``accounts`` block: one account with JetStream, the devices and the hub."""
    return {
        LAN_ACCOUNT: {
            "jetstream": "enabled",
            "users": [*users, {"nkey": local.public}],
        }
    }


def lan_tls(cert: Path, key: Path) -> dict[str, Any]:
    """The client port's ``tls`` block: the handshake first, as the devices start it."""
    for path in (cert, key):
        if not path.is_file():
            raise UsageError(f"TLS file {path} does not exist")
    return {
        "cert_file": str(cert.resolve()),
        "key_file": str(key.resolve()),
        # devices start TLS at once; a client that waits for INFO gets it after 2 s
        "handshake_first": "2s",
        "timeout": 5,
    }


def province_tls(urls: tuple[str, ...], ca: Path | None) -> bool:
    """Whether the link to the province is TLS (``tls://`` URLs, then with a pinned CA)."""
    schemes = {urlsplit(u).scheme for u in urls}
    if "tls" not in schemes:
        if ca is not None:
            raise UsageError(
                "--tls-ca is given but the province's URL is not tls:// "
                f"({', '.join(urls)}): write it as tls://HOST:7422"
            )
        return False
    if schemes != {"tls"}:
        raise UsageError(f"every province URL must be tls:// when one is: {', '.join(urls)}")
    if ca is None:
        raise UsageError("a tls:// province needs the CA to verify it by: --tls-ca ca.crt")
    if not ca.is_file():
        raise UsageError(f"TLS file {ca} does not exist")
    return True
