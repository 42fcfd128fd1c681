"""A running hub follows its LAN users file: ``kopsync admin hub users`` after a device's
revocation cuts that device off the hub without a restart, the other device and its open
connection carry on, a broken users file leaves the hub admitting the last good users, and
a device added later is admitted.

The hub is ``kopsync edge hub --lan-users`` in a child process (its real nats-server),
linked to a province without credentials; the users come from the real ``kopsync admin``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from support.hub import Hub, province_server
from support.nats import HOST
from support.replication import COOP_A
from support.secured import add_device, admin, auth_config, central_user

from kopsync.connection import INBOX_ENV, NKEY_ENV

pytestmark = [pytest.mark.timeout(180), pytest.mark.filterwarnings("ignore::ResourceWarning")]

WAIT_S = 30.0  # a bound on how long the hub may take to notice; it looks every 2 s


@pytest.fixture(autouse=True)
def no_nkey_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NKEY_ENV, raising=False)
    monkeypatch.delenv(INBOX_ENV, raising=False)


async def _connect(url: str, seed: Path | None) -> Client:
    options = {} if seed is None else {"nkeys_seed": str(seed)}
    return await nats.connect(
        url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0, **options
    )


async def _admitted(url: str, seed: Path | None) -> bool:
    """A new connection with ``seed`` (none: no credentials) is accepted by the hub."""
    try:
        nc = await _connect(url, seed)
    except Exception as exc:  # nats-py's error differs by case; the server's reason is in it
        assert "uthorization" in str(exc), exc
        return False
    await nc.close()
    return True


def _said(hub: Hub) -> str:
    """What the hub command has logged so far."""
    return (hub.workdir / "hub.out").read_text(errors="replace")


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait, within :data:`WAIT_S`, until ``check()`` holds (never a timing assertion)."""
    deadline = time.monotonic() + WAIT_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        await asyncio.sleep(0.2)


async def test_hub_follows_its_lan_users(tmp_path: Path) -> None:
    """Revoking a device and writing the hub's users again refuses that device's new
    connections within a bounded wait while the other device still connects and keeps its
    open connection; a broken, refused or missing users file then changes nothing the hub
    admits; a device added afterwards is admitted."""
    auth = auth_config(tmp_path)
    central_user(auth, tmp_path / "central.nk")
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    seeds = {d: add_device(auth, COOP_A, d, tmp_path / d, db_url) for d in ("desk", "shop")}
    issued = admin("hub", "add", "--coop", COOP_A, "--out", str(tmp_path / "hub-cred"),
                   "--auth", str(auth.users))  # fmt: skip
    users_file = Path(issued["lan_users"])
    province, leaf_port = province_server(tmp_path / "province")
    hub = Hub(tmp_path / "hub", COOP_A, f"nats-leaf://{HOST}:{leaf_port}",
              "--lan-users", str(users_file))  # fmt: skip
    try:
        hub.start()
        assert await _admitted(hub.url, seeds["desk"])
        assert await _admitted(hub.url, seeds["shop"])
        assert not await _admitted(hub.url, None)
        desk_open = await _connect(hub.url, seeds["desk"])
        shop_open = await _connect(hub.url, seeds["shop"])

        admin("device", "revoke", "--device", "shop", "--auth", str(auth.users))
        written = admin("hub", "users", "--coop", COOP_A, "--out", str(users_file),
                        "--auth", str(auth.users))  # fmt: skip
        assert written["devices"] == 1

        async def shop_refused() -> bool:
            return not await _admitted(hub.url, seeds["shop"])

        await _until(shop_refused, "the hub refuses the revoked device")
        assert "lan_users_reloaded" in _said(hub)
        assert await _admitted(hub.url, seeds["desk"])
        await desk_open.flush(timeout=5)  # its connection survived the reload
        assert desk_open.is_connected

        async def shop_cut() -> bool:
            return shop_open.is_closed

        await _until(shop_cut, "the revoked device's open connection is closed")

        # a users file that is not one, or one nats-server would not load: each reported
        # once, and the hub admits what it admitted
        good = json.loads(users_file.read_text())
        nkey = good["users"][0]["nkey"]
        # one character changed: the right shape, a checksum that no longer matches
        other = "B" if nkey[9] == "A" else "A"
        forged = good["users"][0] | {"nkey": nkey[:9] + other + nkey[10:]}
        for n, text in enumerate(
            [
                json.dumps(good | {"users": [*good["users"], forged]}),
                '{"version": 1, "coop_id": "' + COOP_A + '", "users": [{"nk',
            ],
            start=1,
        ):
            broken = users_file.with_name(f".{users_file.name}.tmp")
            broken.write_text(text)
            os.replace(broken, users_file)

            async def rejected(n: int = n) -> bool:
                return _said(hub).count("lan_users_rejected") == n

            await _until(rejected, f"the hub reports the broken users file {n}")
        assert "nats-server refuses" in _said(hub)
        assert await _admitted(hub.url, seeds["desk"])
        assert not await _admitted(hub.url, seeds["shop"])
        assert not await _admitted(hub.url, None)  # never an open port
        await desk_open.flush(timeout=5)
        assert "Traceback" not in _said(hub)
        assert hub.proc is not None and hub.proc.poll() is None

        # and gone altogether: the same
        users_file.unlink()

        async def missing() -> bool:
            return "does not exist" in _said(hub)

        await _until(missing, "the hub reports the missing users file")
        assert await _admitted(hub.url, seeds["desk"])
        assert not await _admitted(hub.url, None)

        # a device added afterwards is admitted once the file is written again
        seeds["gudang"] = add_device(auth, COOP_A, "gudang", tmp_path / "gudang", db_url)
        admin("hub", "users", "--coop", COOP_A, "--out", str(users_file),
              "--auth", str(auth.users))  # fmt: skip

        async def gudang_admitted() -> bool:
            return await _admitted(hub.url, seeds["gudang"])

        await _until(gudang_admitted, "the hub admits the added device")
        assert await _admitted(hub.url, seeds["desk"])
        assert not await _admitted(hub.url, seeds["shop"])
        await desk_open.flush(timeout=5)
        assert desk_open.is_connected
        await desk_open.close()
    finally:
        hub.kill()
        province.kill()
