"""``kopsync edge serve|token`` and ``--http``: the counter's API and teller page.

``serve`` runs the API alone (a device that does not sync, or a test); ``run --http``
runs it in the same process as the replicator. Bound to loopback by default; any other
address needs the device's access token, which ``edge init`` shows once and ``edge token``
replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.token import make_token, stored_digest
from kopsync.cli.common import (
    configure_logging,
    data_option,
    emit_json,
    friendly,
    json_option,
    log_format_option,
    stop_on_signals,
)
from sync_core.errors import StoreTampered, UsageError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_HTTP = "127.0.0.1:8470"


def http_option(default: str | None) -> Callable[[F], F]:
    return click.option(
        "--http",
        "http",
        envvar="KOPSYNC_EDGE_HTTP",
        default=default,
        metavar="HOST:PORT",
        show_default=default is not None,
        help="Serve the counter's API and teller page here ($KOPSYNC_EDGE_HTTP); "
        "beyond loopback it needs the device's access token.",
    )


@dataclass
class Api:
    """The API of one agent, its socket bound, ready to serve."""

    app: Any
    sock: socket.socket
    url: str


def say_if_untrusted(agent: EdgeAgent, meanwhile: str) -> None:
    """One ``error:`` line at start-up if the store was changed outside kopsync."""
    try:
        agent.ensure_trusted()
    except StoreTampered as exc:
        click.echo(f"error: {exc}; {meanwhile}", err=True)


def prepare_api(agent: EdgeAgent, address: str) -> Api:
    """Bind ``address`` and build the app (refused beyond loopback without a token); the
    same listener serves ``/metrics`` beside ``/healthz`` and ``/readyz``."""
    from edge_agent.http.access import is_loopback
    from edge_agent.http.app import build_app
    from edge_agent.http.metrics import metrics_route
    from edge_agent.http.server import listen, parse_address

    host, port = parse_address(address)
    local = is_loopback(host)
    digest = stored_digest(agent.data_dir)
    if not local and digest is None:
        raise UsageError(
            f"--http {address} is beyond loopback and this device has no access token; "
            "make one with `kopsync edge token` (shown once), or bind to 127.0.0.1"
        )
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = build_app(
        agent,
        token_digest=None if local else digest,
        loopback=local,
        extra_routes=[metrics_route(agent)],
    )
    return Api(app, sock, f"http://{shown}:{bound}/")


async def serve_api(api: Api, stop: asyncio.Event) -> None:
    from edge_agent.http.server import serve

    click.echo(f"teller page and API on {api.url} (OpenAPI: {api.url}openapi.json)", err=True)
    await serve(api.app, api.sock, stop)


async def together(jobs: list[Coroutine[Any, Any, None]], stop: asyncio.Event) -> None:
    """Run ``jobs`` until all end; the first to fail stops the others, then its error rises."""
    tasks = [asyncio.ensure_future(j) for j in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        stop.set()
        for t in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await t
    for t in done:
        t.result()


@click.command("serve")
@http_option(DEFAULT_HTTP)
@data_option
@log_format_option("console")
@friendly
def serve_command(http: str, data_dir: Path, log_format: str) -> None:
    """Serve the counter's API and teller page until Ctrl-C, without syncing."""
    configure_logging(as_json=log_format == "json", level=logging.INFO)
    with EdgeAgent(data_dir) as agent:
        say_if_untrusted(agent, "meanwhile the API answers 503 store_not_trusted")
        api = prepare_api(agent, http)
        asyncio.run(_serve(api))
    click.echo("stopped", err=True)


async def _serve(api: Api) -> None:
    stop = asyncio.Event()
    stop_on_signals(stop.set)
    await serve_api(api, stop)


@click.command("token")
@data_option
@json_option
@friendly
def token_command(data_dir: Path, as_json: bool) -> None:
    """Make a new access token for the API beyond loopback (shown once; the old one stops)."""
    EdgeAgent(data_dir).close()  # only for a device that exists
    token = make_token(data_dir)
    if as_json:
        emit_json({"http_token": token})
    else:
        show_token(token)


def show_token(token: str) -> None:
    click.echo(f"API access token (shown once, keep it safe): {token}")
    click.echo("send it as `Authorization: Bearer TOKEN` when the API listens beyond loopback")
