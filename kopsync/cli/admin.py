"""``kopsync admin``: NATS credentials for devices, partners and the central.

The server's users live in an include file (``--auth``, ``$KOPSYNC_NATS_AUTH``, default
``deploy/nats/auth/users.conf``) generated from the registry beside it (``users.json``).
After any change, reload the server: ``kopsync admin reload --pid PID``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from central_projector.record.store import DEFAULT_URL
from central_projector.security import admin, authfile
from kopsync.cli import exits
from kopsync.cli.common import emit_json, friendly, json_option
from sync_core.protocol import device_inbox_prefix, partner_inbox_prefix

F = TypeVar("F", bound=Callable[..., Any])


def auth_option(func: F) -> F:
    return click.option(
        "--auth",
        "auth_file",
        envvar=authfile.AUTH_ENV,
        type=click.Path(dir_okay=False, path_type=Path),
        default=authfile.DEFAULT_AUTH_FILE,
        show_default=True,
        help="The generated nats-server include file ($KOPSYNC_NATS_AUTH); "
        "its registry is the .json beside it.",
    )(func)


@click.group(name="admin", epilog=exits.HELP)
def admin_group() -> None:
    """Issue and revoke NATS credentials (nkeys) for devices, hubs, partners and the central."""


@admin_group.command("central-user")
@auth_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("central.nk"),
    show_default=True,
    help="Where to write the central's nkey seed (a new file, mode 0600).",
)
@click.option("--rotate", is_flag=True, help="Replace the central's existing key.")
@json_option
@friendly
def central_user(auth_file: Path, out: Path, rotate: bool, as_json: bool) -> None:
    """Create the nkey of the central services (ingest, outbox, hello, partner fan-out)."""
    public = admin.central_user(auth_file, out, rotate=rotate)
    if as_json:
        emit_json({"nkey": public, "seed_file": str(out), "auth_file": str(auth_file)})
        return
    click.echo(f"central user {public}; seed in {out} (mode 0600)")
    click.echo(f"run the central services with --nkey {out} (or KOPSYNC_NATS_NKEY={out})")
    remind_reload(auth_file)


@admin_group.group()
def device() -> None:
    """Device credentials: one nkey user per device."""


@device.command("add")
@click.option("--coop", "coop_id", required=True, help="Cooperative id (region code first).")
@click.option("--device", "device_id", required=True, help="Device id, at most 32 characters.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the device (default ./kopsync-device-DEVICE): its nkey seed nats.nk "
    "and, unless --registration is given, a new device data directory with its event key.",
)
@click.option(
    "--registration",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The device.json of a device made with `kopsync edge init`: register its event key "
    "(its private half stays on the device) instead of making one here.",
)
@click.option(
    "--db",
    "db_url",
    envvar="KOPSYNC_DB_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="SQLAlchemy URL of the central store ($KOPSYNC_DB_URL).",
)
@auth_option
@json_option
@friendly
def device_add(
    coop_id: str,
    device_id: str,
    out_dir: Path | None,
    registration: Path | None,
    db_url: str,
    auth_file: Path,
    as_json: bool,
) -> None:
    """Issue a device's NATS credential and register its event-signing key centrally."""
    out = out_dir or Path(f"kopsync-device-{device_id}")
    issued = admin.add_device(
        auth_file, coop_id, device_id, out, db_url, registration, make_device=_make_device
    )
    info = {
        "coop_id": issued.coop_id,
        "device_id": issued.device_id,
        "nkey": issued.nkey,
        "seed_file": str(issued.seed_file),
        "inbox_prefix": device_inbox_prefix(device_id),
        "event_public_key": issued.event_public_key.hex(),
        "data_dir": str(issued.data_dir) if issued.data_dir else None,
        "reprocessed": issued.reprocessed,
        "auth_file": str(auth_file),
    }
    if as_json:
        emit_json(info)
        return
    click.echo(f"device {device_id} of cooperative {coop_id}: NATS user {issued.nkey}")
    click.echo(f"  nkey seed (give it to the device only): {issued.seed_file}")
    if issued.data_dir is not None:
        click.echo(f"  device data directory with its event key: {issued.data_dir}")
    click.echo(f"  event key {issued.event_public_key.hex()} registered centrally")
    _remind_hub(auth_file, coop_id)
    remind_reload(auth_file)


@device.command("revoke")
@click.option("--device", "device_id", required=True, help="Device id.")
@click.option(
    "--db",
    "db_url",
    envvar="KOPSYNC_DB_URL",
    default=None,
    help="Central store ($KOPSYNC_DB_URL): mark the device retired there too.",
)
@click.option("--reason", default=admin.RETIRED_REASON, show_default=True)
@auth_option
@json_option
@friendly
def device_revoke(
    device_id: str, db_url: str | None, reason: str, auth_file: Path, as_json: bool
) -> None:
    """Withdraw a device's NATS credential (takes effect at the next reload)."""
    done = admin.revoke_device(auth_file, device_id, db_url, reason)
    if as_json:
        emit_json({"device_id": device_id, "coop_id": done.coop_id, "retired": done.retired})
        return
    click.echo(f"revoked the NATS credential of device {device_id} ({done.coop_id})")
    if done.retired:
        click.echo("  marked retired in the central store (DeviceRetired issued)")
    elif db_url is None:
        click.echo("  central store untouched (no --db): its event key stays registered")
    _remind_hub(auth_file, done.coop_id)
    remind_reload(auth_file)


@device.command("list")
@auth_option
@json_option
@friendly
def device_list(auth_file: Path, as_json: bool) -> None:
    """The devices that hold a NATS credential."""
    registry = authfile.load(auth_file)
    rows = [
        {"device_id": k, "coop_id": v.coop_id, "nkey": v.nkey, "added_at": v.added_at}
        for k, v in sorted(registry.devices.items())
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['device_id']:32} {row['coop_id']:20} {row['nkey']}  {row['added_at']}")


@admin_group.group()
def partner() -> None:
    """Partner credentials: read their own partner stream, nothing else."""


@partner.command("add")
@click.option("--partner", "partner_id", required=True, help="Partner id, as in the partners file.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the partner's nkey seed (default ./PARTNER.nk).",
)
@auth_option
@json_option
@friendly
def partner_add(partner_id: str, out: Path | None, auth_file: Path, as_json: bool) -> None:
    """Issue a partner's NATS credential."""
    seed_file = out or Path(f"{partner_id}.nk")
    public = admin.add_partner(auth_file, partner_id, seed_file)
    info = {
        "partner": partner_id,
        "nkey": public,
        "seed_file": str(seed_file),
        "inbox_prefix": partner_inbox_prefix(partner_id),
    }
    if as_json:
        emit_json(info)
        return
    click.echo(f"partner {partner_id}: NATS user {public}; seed in {seed_file} (mode 0600)")
    click.echo(f"  its clients must use the inbox prefix {info['inbox_prefix']}")
    remind_reload(auth_file)


@partner.command("revoke")
@click.option("--partner", "partner_id", required=True, help="Partner id.")
@click.option("--reason", default="", help="Kept in the registry's history.")
@auth_option
@friendly
def partner_revoke(partner_id: str, reason: str, auth_file: Path) -> None:
    """Withdraw a partner's NATS credential (takes effect at the next reload)."""
    admin.revoke_partner(auth_file, partner_id, reason)
    click.echo(f"revoked the NATS credential of partner {partner_id}")
    remind_reload(auth_file)


@admin_group.command("render")
@auth_option
@friendly
def render_cmd(auth_file: Path) -> None:
    """Write the include file again from its registry."""
    authfile.write_conf(auth_file)
    click.echo(f"wrote {auth_file}")


@admin_group.command("reload")
@click.option("--pid", type=int, default=None, help="nats-server's process id.")
@click.option(
    "--pid-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="nats-server's pid_file instead of --pid.",
)
@friendly
def reload_cmd(pid: int | None, pid_file: Path | None) -> None:
    """Make nats-server re-read its configuration (SIGHUP): new users, revoked ones cut off."""
    if (pid is None) == (pid_file is None):
        raise click.UsageError("give exactly one of --pid and --pid-file")
    if pid is None:
        assert pid_file is not None
        pid = admin.read_pid_file(pid_file)
    admin.reload_server(pid)
    click.echo(f"asked nats-server (pid {pid}) to reload its configuration")


def remind_reload(auth_file: Path) -> None:
    click.echo(f"wrote {auth_file}; apply it with: kopsync admin reload --pid $(pidof nats-server)")


def _remind_hub(auth_file: Path, coop_id: str) -> None:
    """The cooperative's hub keeps its own list of the devices it admits."""
    if coop_id in authfile.load(auth_file).hubs:
        click.echo(
            f"  its cooperative has a hub: give it the new device list "
            f"(kopsync admin hub users --coop {coop_id}); it reloads the file by itself"
        )


def _make_device(out: Path, coop_id: str, device_id: str) -> tuple[bytes, Path]:
    """A device data directory as ``kopsync edge init`` makes it: its key and registration."""
    from edge_agent.app.agent import REGISTRATION_NAME, EdgeAgent

    with EdgeAgent.init(out, coop_id, device_id) as agent:
        return agent.public_key, out / REGISTRATION_NAME


def _add_groups() -> None:
    from kopsync.cli.admin_hub import hub_group
    from kopsync.cli.admin_tls import tls_group

    admin_group.add_command(tls_group)
    admin_group.add_command(hub_group)


_add_groups()
