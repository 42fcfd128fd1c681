"""The secured server the permission tests share (one for the package: the revocation test,
which runs last, retires a device), and the ``watch`` factory of watched clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from nats.aio.client import Client
from support.nats import NatsServer
from support.permissions import (
    DEVICES,
    PARTNERS,
    Secured,
    Watch,
    admin,
    connect_as,
    prepare,
)
from support.secured import auth_config

from kopsync.cli.main import cli


@pytest.fixture(scope="package")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """Users made by kopsync admin, a server on the generated config, the kopsync streams."""
    root = tmp_path_factory.mktemp("security")
    # The deployed files; store_dir is left to the server fixture's -sd.
    config = auth_config(root)
    auth = config.users
    db_url = f"sqlite:///{root / 'central.db'}"
    seeds: dict[str, Path] = {}

    seeds["central"] = root / "central.nk"
    assert CliRunner().invoke(cli, ["central", "migrate", "--db", db_url]).exit_code == 0
    admin("central-user", "--auth", str(auth), "--out", str(seeds["central"]))
    for device_id, coop_id in DEVICES.items():
        out = root / device_id
        doc = admin("device", "add", "--coop", coop_id, "--device", device_id,
                    "--out", str(out), "--db", db_url, "--auth", str(auth))  # fmt: skip
        seeds[device_id] = Path(doc["seed_file"])
    for partner_id in PARTNERS:
        seeds[partner_id] = root / f"{partner_id}.nk"
        admin("partner", "add", "--partner", partner_id, "--out", str(seeds[partner_id]),
              "--auth", str(auth))  # fmt: skip

    server = NatsServer(root / "server", config=config.server_conf, ports=config.server_ports)
    found = Secured(server=server.start(), auth=auth, db_url=db_url, seeds=seeds)
    try:
        asyncio.run(prepare(found))
        yield found
    finally:
        found.server.kill()


@pytest.fixture
async def watch(secured: Secured) -> AsyncIterator[Any]:
    """``await watch(user)``: a connected client of ``user`` with its errors recorded."""
    opened: list[Client] = []

    async def factory(user: str, inbox: str | None = None) -> Watch:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await connect_as(secured, user, inbox=inbox, error_cb=on_error)
        opened.append(nc)
        return Watch(nc, errors)

    yield factory
    for nc in opened:
        if not nc.is_closed:
            await nc.close()
