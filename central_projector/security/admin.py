"""What ``kopsync admin`` does: issue and withdraw NATS credentials, register device keys.

Each operation checks everything it can before it writes anything (the registry, the files it
would create, the central store), then acts in the order that leaves the least to clean up.

A device gets two Ed25519 keys on purpose: the **event key** signs every event it records and
its public half verifies those events centrally for as long as they are kept; the **nkey**
only opens the NATS connection. Keeping them apart lets a credential be withdrawn or rotated
(a lost device, a leaked file) without touching the identity its history is verified with,
and a leaked transport credential cannot sign events. The event key is either made here with
the device's data directory (by the ``make_device`` function the caller passes, which makes
a store as ``kopsync edge init`` does), or read from the ``device.json`` a device made itself,
so its private half never leaves the device.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from central_projector.record.store import CentralStore
from central_projector.record.tables import devices
from central_projector.security import authfile
from central_projector.security.credentials import new_user_key, write_seed
from central_projector.security.policy import check_partner_id
from sync_core.errors import StoreExists, UsageError
from sync_core.ids import check_coop_id, check_device_id

NKEY_FILE = "nats.nk"
RETIRED_REASON = "NATS credentials revoked by kopsync admin"
# Makes a device data directory (refusing one that holds a store) and returns the device's
# public event key and its registration file.
MakeDevice = Callable[[Path, str, str], tuple[bytes, Path]]

# A well-formed key no user has: runs a registry change's checks before any key is made.
_PROBE_NKEY = "U" + "A" * 55


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class DeviceIssued:
    coop_id: str
    device_id: str
    nkey: str
    seed_file: Path
    event_public_key: bytes
    data_dir: Path | None  # the device data directory made here, if the key was made here
    reprocessed: int  # uploads that waited in quarantine for this registration


@dataclass(frozen=True, slots=True)
class DeviceRevoked:
    coop_id: str
    device_id: str
    retired: bool  # marked retired in the central store (and DeviceRetired issued)


def add_device(
    auth_file: Path,
    coop_id: str,
    device_id: str,
    out_dir: Path,
    db_url: str,
    registration: Path | None = None,
    make_device: MakeDevice | None = None,
) -> DeviceIssued:
    """Issue a device's nkey, register its event key centrally, add it to the server's users.

    Without ``registration`` the device's data directory is made in ``out_dir`` by
    ``make_device``.
    """
    check_coop_id(coop_id)
    check_device_id(device_id)
    registry = authfile.load(auth_file)
    if registry.central is None:
        raise UsageError("create the central user first: kopsync admin central-user")
    registry.with_device(coop_id, device_id, _PROBE_NKEY, now="")
    seed_file = out_dir / NKEY_FILE
    if seed_file.exists():
        raise StoreExists(f"{seed_file} exists already; choose another --out directory")
    with CentralStore(db_url, create=False) as store:
        known = _registered(store, device_id)
        if registration is not None:
            event_key = _read_registration(registration, coop_id, device_id)
            data_dir = None
        else:
            if known is not None:
                raise UsageError(
                    f"device {device_id} is registered centrally already; pass the "
                    "device.json it was registered with (--registration), or choose another id"
                )
            if make_device is None:
                raise UsageError("pass the device's registration file, or let kopsync make one")
            event_key, made = make_device(out_dir, coop_id, device_id)
            data_dir = out_dir
        try:
            reprocessed = store.register_device(coop_id, device_id, event_key)
        except Exception as exc:
            if data_dir is not None:
                exc.add_note(
                    f"the device directory {data_dir} was made but not registered; register "
                    f"it with: kopsync central device add {made}"
                )
            raise
    key = new_user_key()
    write_seed(seed_file, key)
    now = now_text()
    authfile.change(auth_file, lambda r: r.with_device(coop_id, device_id, key.public, now=now))
    return DeviceIssued(coop_id, device_id, key.public, seed_file, event_key, data_dir, reprocessed)


def revoke_device(
    auth_file: Path, device_id: str, db_url: str | None, reason: str = RETIRED_REASON
) -> DeviceRevoked:
    """Remove a device's user; mark it retired centrally (a ``DeviceRetired`` fact) if a store
    is given. The server only forgets the user after a reload."""
    check_device_id(device_id)
    user = authfile.load(auth_file).devices.get(device_id)
    if user is None:
        raise UsageError(f"device {device_id} has no NATS credentials to revoke")
    now = now_text()
    authfile.change(auth_file, lambda r: r.without_device(device_id, now=now, reason=reason))
    retired = False
    if db_url is not None:
        with CentralStore(db_url, create=False) as store:
            retired = _retire(store, user.coop_id, device_id, reason)
    return DeviceRevoked(user.coop_id, device_id, retired)


def add_partner(auth_file: Path, partner_id: str, seed_file: Path) -> str:
    """Issue a partner's nkey (seed to ``seed_file``); return its public key."""
    check_partner_id(partner_id)
    registry = authfile.load(auth_file)
    if registry.central is None:
        raise UsageError("create the central user first: kopsync admin central-user")
    registry.with_partner(partner_id, _PROBE_NKEY, now="")
    key = new_user_key()
    write_seed(seed_file, key)
    now = now_text()
    authfile.change(auth_file, lambda r: r.with_partner(partner_id, key.public, now=now))
    return key.public


def revoke_partner(auth_file: Path, partner_id: str, reason: str = "") -> None:
    now = now_text()
    authfile.change(auth_file, lambda r: r.without_partner(partner_id, now=now, reason=reason))


def central_user(auth_file: Path, seed_file: Path, *, rotate: bool = False) -> str:
    """Issue the central services' nkey (first, or again with ``rotate``)."""
    authfile.load(auth_file).with_central(_PROBE_NKEY, rotate=rotate, now="")
    key = new_user_key()
    write_seed(seed_file, key)
    now = now_text()
    authfile.change(auth_file, lambda r: r.with_central(key.public, rotate=rotate, now=now))
    return key.public


def reload_server(pid: int) -> None:
    """Ask nats-server to re-read its configuration (what ``nats-server --signal reload`` does)."""
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise UsageError(f"no process {pid}: is nats-server running with that pid?") from None
    except PermissionError:
        raise UsageError(
            f"not allowed to signal process {pid} (run as the server's user)"
        ) from None


def read_pid_file(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read a pid from {path}: {exc}") from None


# --- central store --------------------------------------------------------------------------
def _registered(store: CentralStore, device_id: str) -> tuple[str, bytes] | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(devices.c.coop_id, devices.c.public_key).where(
                devices.c.device_id == device_id
            )
        ).first()
    return None if row is None else (str(row[0]), bytes(row[1]))


def _retire(store: CentralStore, coop_id: str, device_id: str, reason: str) -> bool:
    """Set the device's ``retired`` flag and record the fact, with the last seq committed
    of it (its siblings take its events up to there); ``False`` if it is unknown."""
    with store.engine.begin() as conn:
        last_seq = conn.execute(
            sa.select(devices.c.committed_seq).where(
                devices.c.device_id == device_id, devices.c.retired.is_(False)
            )
        ).scalar()
        done = conn.execute(
            sa.update(devices)
            .where(devices.c.device_id == device_id, devices.c.retired.is_(False))
            .values(retired=True)
        ).rowcount
    if done:
        fact = {"reason": reason, "last_seq": int(last_seq or 0)}
        store.issue("DeviceRetired", coop_id, fact, aggregate_id=device_id)
    return bool(done)


def _read_registration(path: Path, coop_id: str, device_id: str) -> bytes:
    try:
        doc = json.loads(path.read_text())
        key = bytes.fromhex(doc["public_key"])
        found = (doc["coop_id"], doc["device_id"])
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is not a device.json of kopsync edge init: {exc}") from None
    if found != (coop_id, device_id):
        raise UsageError(
            f"{path} is for device {found[1]} of cooperative {found[0]}, "
            f"not {device_id} of {coop_id}"
        )
    return key
