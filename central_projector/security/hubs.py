"""What ``kopsync admin hub`` does: issue and withdraw a cooperative hub's credentials.

A hub gets two files in its directory: ``leaf.nk``, the seed of its leaf credential (mode
0600, the only copy), and ``lan-users.json``, the public nkeys and permissions of the
cooperative's devices (:func:`~central_projector.security.hubpolicy.lan_users`), which the
hub makes its LAN users from. After a device of the cooperative is added or revoked, write
the second again (``kopsync admin hub users``) and restart the hub.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from central_projector.security import authfile
from central_projector.security.admin import now_text
from central_projector.security.credentials import new_user_key, write_seed
from central_projector.security.hubpolicy import lan_users
from sync_core.errors import StoreExists, UsageError
from sync_core.ids import check_coop_id

LEAF_SEED = "leaf.nk"
LAN_USERS = "lan-users.json"
_PROBE_NKEY = "U" + "A" * 55


@dataclass(frozen=True, slots=True)
class HubIssued:
    coop_id: str
    nkey: str
    seed_file: Path
    users_file: Path
    devices: int  # devices of the cooperative in the users file


def add_hub(auth_file: Path, coop_id: str, out_dir: Path) -> HubIssued:
    """Issue the leaf credential of ``coop_id``'s hub into ``out_dir`` with its LAN users."""
    check_coop_id(coop_id)
    registry = authfile.load(auth_file)
    if registry.central is None:
        raise UsageError("create the central user first: kopsync admin central-user")
    registry.with_hub(coop_id, _PROBE_NKEY, now="")
    seed_file, users_file = out_dir / LEAF_SEED, out_dir / LAN_USERS
    for path in (seed_file, users_file):
        if path.exists():
            raise StoreExists(f"{path} exists already; choose another --out directory")
    key = new_user_key()
    write_seed(seed_file, key)
    now = now_text()
    authfile.change(auth_file, lambda r: r.with_hub(coop_id, key.public, now=now))
    devices = write_lan_users(auth_file, coop_id, users_file)
    return HubIssued(coop_id, key.public, seed_file, users_file, devices)


def write_lan_users(auth_file: Path, coop_id: str, out: Path) -> int:
    """Write ``coop_id``'s devices as its hub's LAN users to ``out``; how many there are."""
    check_coop_id(coop_id)
    registry = authfile.load(auth_file)
    if coop_id not in registry.hubs:
        raise UsageError(
            f"cooperative {coop_id} has no hub credential: kopsync admin hub add --coop {coop_id}"
        )
    devices = [(device_id, user.nkey) for device_id, user in registry.devices_of(coop_id)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(lan_users(coop_id, devices), indent=2) + "\n")
    os.replace(tmp, out)
    return len(devices)


def revoke_hub(auth_file: Path, coop_id: str, reason: str = "") -> None:
    """Withdraw the hub's leaf credential (the province drops it at the next reload)."""
    check_coop_id(coop_id)
    now = now_text()
    authfile.change(auth_file, lambda r: r.without_hub(coop_id, now=now, reason=reason))
