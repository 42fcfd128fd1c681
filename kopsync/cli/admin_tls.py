"""``kopsync admin tls``: the CA and certificates that encrypt every NATS link.

::

    kopsync admin tls ca --out DIR                                  DIR/ca.crt, DIR/ca.key
    kopsync admin tls server --ca DIR --out OUT --name HOST [--name IP …]
    kopsync admin tls client --ca DIR --out OUT --name kasir-1      (servers that verify clients)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from central_projector.security import certs
from kopsync.cli.common import emit_json, friendly, json_option

F = TypeVar("F", bound=Callable[..., Any])

out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write into (made with mode 0700 if missing); existing files are "
    "never overwritten.",
)
ca_option = click.option(
    "--ca",
    "ca_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The CA's directory (ca.crt and ca.key, from `kopsync admin tls ca`).",
)


def days_option(default: int) -> Callable[[F], F]:
    return click.option(
        "--days", type=int, default=default, show_default=True, help="Days of validity."
    )


@click.group("tls")
def tls_group() -> None:
    """A private CA for the province's NATS links, and server and client certificates."""


@tls_group.command("ca")
@out_option
@click.option("--name", default="kopsync NATS CA", show_default=True, help="The CA's name.")
@days_option(certs.CA_DAYS)
@json_option
@friendly
def ca_cmd(out: Path, name: str, days: int, as_json: bool) -> None:
    """Make the CA: give ca.crt to every client (--tls-ca) and server; keep ca.key offline."""
    _report(certs.make_ca(out, name, days=days), as_json)
    if not as_json:
        click.echo(f"clients pin it with --tls-ca {out / certs.CA_CERT} and tls:// URLs")


@tls_group.command("server")
@ca_option
@out_option
@click.option(
    "--name",
    "names",
    multiple=True,
    required=True,
    help="A host name or IP address clients connect to (repeat for each).",
)
@click.option(
    "--file-name",
    default=certs.SERVER_NAME,
    show_default=True,
    help="Base name of the files (e.g. nats-1 for nats-1.crt/.key).",
)
@days_option(certs.LEAF_DAYS)
@json_option
@friendly
def server_cmd(
    ca_dir: Path, out: Path, names: tuple[str, ...], file_name: str, days: int, as_json: bool
) -> None:
    """A NATS server's certificate for the names clients use (tls {} in deploy/nats/)."""
    _report(certs.make_server(ca_dir, out, names, days=days, file_name=file_name), as_json)


@tls_group.command("client")
@ca_option
@out_option
@click.option("--name", required=True, help="Who it is for (a device, partner or service id).")
@days_option(certs.LEAF_DAYS)
@json_option
@friendly
def client_cmd(ca_dir: Path, out: Path, name: str, days: int, as_json: bool) -> None:
    """A client certificate, for servers that verify clients (--tls-cert, --tls-key)."""
    _report(certs.make_client(ca_dir, out, name, days=days), as_json)


def _report(issued: certs.Issued, as_json: bool) -> None:
    info = {
        "cert": str(issued.cert),
        "key": str(issued.key),
        "subject": issued.subject,
        "names": list(issued.names),
        "not_after": issued.not_after.isoformat(),
    }
    if as_json:
        emit_json(info)
        return
    names = f" for {', '.join(issued.names)}" if issued.names else ""
    click.echo(f"wrote {issued.cert}{names}, valid until {issued.not_after:%Y-%m-%d}")
    click.echo(f"  its key {issued.key} (mode 0600): only its owner may read it")
