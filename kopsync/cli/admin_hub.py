"""``kopsync admin hub``: the credentials of a cooperative's hub (``kopsync edge hub``)."""

from __future__ import annotations

from pathlib import Path

import click

from central_projector.security import authfile, hubs
from kopsync.cli.admin import auth_option, remind_reload
from kopsync.cli.common import emit_json, friendly, json_option


@click.group("hub")
def hub_group() -> None:
    """Hub credentials: one leaf credential per cooperative, and its devices' LAN users."""


@hub_group.command("add")
@click.option("--coop", "coop_id", required=True, help="The cooperative whose hub it is.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the hub (default ./kopsync-hub-COOP): its leaf credential "
    f"{hubs.LEAF_SEED} and its devices' LAN users {hubs.LAN_USERS}.",
)
@auth_option
@json_option
@friendly
def hub_add(coop_id: str, out_dir: Path | None, auth_file: Path, as_json: bool) -> None:
    """Issue a hub's leaf credential, limited to its cooperative's subjects."""
    out = out_dir or Path(f"kopsync-hub-{coop_id}")
    issued = hubs.add_hub(auth_file, coop_id, out)
    info = {
        "coop_id": coop_id,
        "nkey": issued.nkey,
        "seed_file": str(issued.seed_file),
        "lan_users": str(issued.users_file),
        "devices": issued.devices,
        "auth_file": str(auth_file),
    }
    if as_json:
        emit_json(info)
        return
    click.echo(f"hub of cooperative {coop_id}: NATS user {issued.nkey}")
    click.echo(f"  leaf credential (give it to the hub only): {issued.seed_file}")
    click.echo(f"  LAN users ({issued.devices} devices): {issued.users_file}")
    click.echo(
        f"  run: kopsync edge hub --coop {coop_id} --nkey {issued.seed_file} "
        f"--lan-users {issued.users_file} --province tls://PROVINCE:7422 --tls-ca ca.crt"
    )
    remind_reload(auth_file)


@hub_group.command("users")
@click.option("--coop", "coop_id", required=True, help="The cooperative whose hub it is.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write the file (default ./kopsync-hub-COOP/{hubs.LAN_USERS}).",
)
@auth_option
@json_option
@friendly
def hub_users(coop_id: str, out: Path | None, auth_file: Path, as_json: bool) -> None:
    """Write the hub's LAN users again (after a device of the cooperative was added or
    revoked); a hub running with this file reloads it within seconds. Reload the province
    too: the hub's permissions there follow the cooperative's devices."""
    path = out or Path(f"kopsync-hub-{coop_id}") / hubs.LAN_USERS
    devices = hubs.write_lan_users(auth_file, coop_id, path)
    authfile.write_conf(auth_file)
    if as_json:
        emit_json({"coop_id": coop_id, "lan_users": str(path), "devices": devices})
        return
    click.echo(f"wrote {path} ({devices} devices of {coop_id})")
    remind_reload(auth_file)


@hub_group.command("revoke")
@click.option("--coop", "coop_id", required=True, help="The cooperative whose hub it is.")
@click.option("--reason", default="", help="Kept in the registry's history.")
@auth_option
@friendly
def hub_revoke(coop_id: str, reason: str, auth_file: Path) -> None:
    """Withdraw a hub's leaf credential (takes effect at the next reload)."""
    hubs.revoke_hub(auth_file, coop_id, reason)
    click.echo(f"revoked the leaf credential of the hub of {coop_id}")
    remind_reload(auth_file)


@hub_group.command("list")
@auth_option
@json_option
@friendly
def hub_list(auth_file: Path, as_json: bool) -> None:
    """The cooperatives whose hub holds a leaf credential, with their devices."""
    registry = authfile.load(auth_file)
    rows = [
        {
            "coop_id": coop_id,
            "nkey": hub.nkey,
            "added_at": hub.added_at,
            "devices": [device_id for device_id, _ in registry.devices_of(coop_id)],
        }
        for coop_id, hub in sorted(registry.hubs.items())
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        devices = ", ".join(row["devices"]) or "no devices"
        click.echo(f"{row['coop_id']:20} {row['nkey']}  {row['added_at']}  ({devices})")
