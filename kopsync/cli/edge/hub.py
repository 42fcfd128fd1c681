"""``kopsync edge hub``: the cooperative's on-site NATS server, a leaf node of the province.

Writes the hub's configuration (:mod:`edge_agent.app.hub`) into ``--dir``, starts the pinned
nats-server with it, creates the KOP_LAN stream and runs until Ctrl-C or SIGTERM (the
server is stopped with it). Devices on the LAN then run ``kopsync edge run --hub URL``.

With ``--lan-users`` the hub follows that file (:mod:`kopsync.cli.edge.hubreload`): when
``kopsync admin hub users`` writes it again, the configuration is written again and
nats-server reloads it (SIGHUP), so a revoked device is cut off and a new one admitted
without a restart and without dropping the other devices.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import click
import structlog

from edge_agent.app.hub import HubSettings, ensure_lan_stream, render_config
from edge_agent.app.hubauth import LocalUser
from edge_agent.app.hubusers import UsersFile
from kopsync.cli.common import configure_logging, friendly, stop_on_signals
from kopsync.cli.config import config_option
from kopsync.cli.edge.hubreload import UsersReload, write_private
from kopsync.devnats import dies_with_parent, nats_server_binary
from sync_core.errors import LinkDown, UsageError
from sync_core.ids import check_coop_id
from sync_core.protocol import PROVINCE_DOMAIN
from sync_core.transport import ConnectOptions, Link, TlsFiles
from sync_core.transport.options import read_seed_file

log = structlog.get_logger("kopsync.edge.hub")
READY_S = 20.0


@click.command("hub")
@config_option("edge-hub")
@click.option("--coop", "coop_id", required=True, help="The cooperative this hub serves.")
@click.option(
    "--province",
    "province_leaf",
    required=True,
    help="The province's leafnode URL(s), comma-separated: tls://HOST:7422 (with --tls-ca), "
    "or nats-leaf://HOST:7422 for a development province without TLS.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kopsync-hub"),
    show_default=True,
    help="Where the configuration, the JetStream store and the log go.",
)
@click.option("--listen", default="0.0.0.0:4222", show_default=True, help="Where devices connect.")
@click.option("--monitor-port", type=int, default=None, help="nats-server's HTTP monitoring.")
@click.option(
    "--nkey",
    "leaf_nkey",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The hub's leaf credential for the link to the province (leaf.nk of "
    "`kopsync admin hub add`).",
)
@click.option("--tls-ca", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The installation's CA (pinned) to verify a tls:// province by.")  # fmt: skip
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Client certificate for the province, if it asks for one.")  # fmt: skip
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Key of --tls-cert.")  # fmt: skip
@click.option(
    "--lan-users",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The devices allowed on the LAN port (lan-users.json of `kopsync admin hub add`); "
    "without it the port is open to anyone on the LAN.",
)
@click.option("--lan-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TLS certificate of the LAN port (kopsync admin tls server).")  # fmt: skip
@click.option("--lan-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Key of --lan-cert.")  # fmt: skip
@click.option(
    "--province-domain",
    default=PROVINCE_DOMAIN,
    show_default=True,
    help="The province's JetStream domain (a province without credentials).",
)
@click.option("--print-config", is_flag=True, help="Print the configuration and exit.")
@friendly
def hub_command(
    coop_id: str,
    province_leaf: str,
    directory: Path,
    listen: str,
    monitor_port: int | None,
    leaf_nkey: Path | None,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    lan_users: Path | None,
    lan_cert: Path | None,
    lan_key: Path | None,
    province_domain: str,
    print_config: bool,
    config_path: Path | None,
) -> None:
    """Run the cooperative's hub: devices share their events through it on the LAN, and
    reach the province through it whenever the satellite is up."""
    configure_logging(as_json=False, level=logging.INFO)
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise UsageError(f"--listen {listen!r} is not HOST:PORT (for example 0.0.0.0:4222)")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert needs --tls-key, and --tls-key needs --tls-cert")
    if (lan_cert is None) != (lan_key is None):
        raise UsageError("--lan-cert needs --lan-key, and --lan-key needs --lan-cert")
    settings = HubSettings(
        coop_id=check_coop_id(coop_id),
        province_leaf=tuple(u.strip() for u in province_leaf.split(",") if u.strip()),
        directory=directory,
        host=host or "0.0.0.0",
        port=int(port),
        monitor_port=monitor_port,
        leaf_nkey=leaf_nkey,
        leaf_ca=tls_ca,
        leaf_cert=tls_cert,
        leaf_key=tls_key,
        lan_users=lan_users,
        lan_cert=lan_cert,
        lan_key=lan_key,
        province_domain=province_domain,
    )
    seed = None if leaf_nkey is None else read_seed_file(leaf_nkey)
    users = None if lan_users is None else UsersFile.load(lan_users, settings.coop_id)
    local = LocalUser.new()  # the hub's own user, for this run only
    text = render_config(settings, seed, None if users is None else users.users, local)
    if print_config:
        click.echo(text.replace(seed, "<seed>") if seed else text, nl=False)
        return
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "hub.conf"
    write_private(config, text)
    follow = None if users is None else UsersReload(settings, config, seed, users, local)
    asyncio.run(_serve(settings, config, local if users is not None else None, follow))
    click.echo("hub stopped", err=True)


async def _serve(
    settings: HubSettings, config: Path, local: LocalUser | None, follow: UsersReload | None
) -> None:
    stop = asyncio.Event()
    stop_on_signals(stop.set)
    with (settings.directory / "nats-server.log").open("ab") as out:
        proc = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=dies_with_parent(),  # a killed hub command leaves no server behind
        )
    following: asyncio.Task[None] | None = None
    try:
        await _prepare(settings, proc, local)
        if follow is not None:
            following = asyncio.create_task(follow.follow(proc))
        click.echo(f"hub of {settings.coop_id} ready at {settings.url}", err=True)
        while not stop.is_set() and proc.poll() is None:
            if following is not None and following.done():
                following.result()  # its failure is the hub's: never serve with stale users
            await asyncio.sleep(0.2)
        if proc.poll() is not None and not stop.is_set():
            raise UsageError(
                f"nats-server exited with code {proc.returncode}; see "
                f"{settings.directory / 'nats-server.log'}"
            )
    finally:
        if following is not None:
            following.cancel()
        if proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _prepare(
    settings: HubSettings, proc: subprocess.Popen[bytes], local: LocalUser | None
) -> None:
    """Wait until the hub answers, then create its stream (as the hub's own user)."""
    own_tls = None if settings.lan_cert is None else TlsFiles(str(settings.lan_cert), exact=True)
    options = ConnectOptions.for_url(
        settings.url,
        name="kopsync-hub",
        nkey_seed_value=None if local is None else local.seed,
        tls=own_tls,
        reconnect_wait_s=0.1,
    )
    link = Link(options)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_S
    while True:
        if proc.poll() is not None:
            raise UsageError(
                f"nats-server exited with code {proc.returncode} at start; see "
                f"{settings.directory / 'nats-server.log'}"
            )
        try:
            # no reconnect: the open itself retries every 0.1 s within its second
            await link.open(1.0, allow_reconnect=False)
            break
        except LinkDown as exc:
            if loop.time() > deadline:
                raise UsageError(f"the hub did not answer at {settings.url}: {exc}") from None
    try:
        await ensure_lan_stream(link.js, settings)
    finally:
        await link.close()
