"""``kopsync partner``: feed partner topics, watch them, make keys, check the partners file.

The NATS server is ``--nats`` (or ``$KOPSYNC_NATS_URL``), credentials from
``$KOPSYNC_NATS_CREDS`` when set, and an nkey seed from ``--nkey`` (or ``$KOPSYNC_NATS_NKEY``)
on a server with kopsync's NATS security: the central's for ``fanout``, the partner's for
``tail``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from central_projector.partners.config import load
from central_projector.partners.fanout import FanoutService
from central_projector.partners.tail import Tailed, format_json, format_line, parse_since, tail
from kopsync.cli import exits
from kopsync.cli.central import nats_option
from kopsync.cli.central.settings import FanoutSettings
from kopsync.cli.common import (
    configure_logging,
    creds_option,
    emit_json,
    friendly,
    inbox_option,
    json_option,
    log_format_option,
    metrics_option,
    nkey_option,
    stop_on_signals,
    tls_options,
)
from kopsync.cli.config import config_option as settings_config_option
from kopsync.cli.config import file_keys, settings_from
from kopsync.connection import TlsFlags, nats_connection
from sync_core.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The partners file (TOML, one [[partner]] table per partner).",
)


@click.group(epilog=exits.HELP)
def partner() -> None:
    """Partner topics: pseudonymised, filtered event streams for banks, Bulog, ministries."""


@partner.command()
@settings_config_option(
    "partner-fanout",
    reserved=("partner",),
    required=True,
    help="The partners file (TOML, one [[partner]] table per partner); its top-level keys "
    "and a [partner-fanout] table may also set this command's options, as in every "
    "service's --config ($KOPSYNC_CONFIG).",
)
@nats_option(required=True)
@creds_option
@nkey_option("The central's")
@inbox_option
@tls_options
@metrics_option
@log_format_option("json")
@friendly
@settings_from(FanoutSettings)
def fanout(settings: FanoutSettings) -> None:
    """Feed every partner's stream from KOP_EVENTS (until SIGINT/SIGTERM)."""
    config = load(settings.config_path, settings_keys=file_keys(fanout))
    configure_logging(as_json=settings.log_format == "json")
    service = FanoutService(config, settings.connection("kopsync-partner-fanout"))
    metrics_listen = settings.metrics_listen

    async def serve() -> None:
        stop_on_signals(service.stop)
        if metrics_listen is None:
            await service.run()
        else:
            await _serve_with_probes(service, metrics_listen)

    asyncio.run(serve())


async def _serve_with_probes(service: FanoutService, listen: str) -> None:
    from prometheus_client import CollectorRegistry

    from central_projector.ingest.streams import EVENTS
    from central_projector.partners.metrics import FanoutMetrics
    from kopsync.probes import run_probed

    registry = CollectorRegistry()
    metrics = FanoutMetrics(service.stats, registry)

    async def lag() -> None:
        for p in service.config.partners:
            with contextlib.suppress(Exception):  # its consumer is not made yet
                info = await service.js.consumer_info(EVENTS, p.consumer, timeout=5)
                metrics.lag[p.id] = int(info.num_pending or 0)

    def ready() -> str | None:
        return None if service.ready.is_set() else "not every partner subscribed yet"

    await run_probed(service.run(), listen, registry, ready=ready, polls=[(5.0, lag)])


@partner.command("tail")
@nats_option(required=True)
@click.option(
    "--filter",
    "subject_filter",
    required=True,
    help="Partner topic filter, e.g. kop.partner.bank-kalteng.62.> or kop.partner.*.*.6401.>",
)
@click.option("--since", default=None, help="From this ISO time or this long ago (2h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N events.")
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds without an event.",
)
@creds_option
@nkey_option("The partner's")
@tls_options
@friendly
def tail_(
    nats_url: str,
    subject_filter: str,
    since: str | None,
    as_json: bool,
    limit: int | None,
    idle_exit: float | None,
    credentials: str | None,
    nkey: str | None,
    tls: TlsFlags,
) -> None:
    """Print the events of partner topics, one line each (Ctrl-C stops)."""
    # The events go to stdout; the connection's own troubles, if any, to stderr.
    configure_logging(as_json=False, level=logging.WARNING)
    start = parse_since(since, dt.datetime.now(dt.UTC)) if since else None
    render = format_json if as_json else format_line

    def emit(t: Tailed) -> None:
        click.echo(render(t))

    async def run() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop.set)
        await tail(
            nats_connection(
                nats_url, "kopsync-partner-tail", credentials=credentials, nkey=nkey, tls=tls
            ),
            subject_filter,
            emit,
            since=start,
            limit=limit,
            idle_exit_s=idle_exit,
            stop=stop,
        )

    try:
        asyncio.run(run())
    except BrokenPipeError:
        # `kopsync partner tail … | head`: the reader is gone, which is no error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (silences the exit-time flush)


@partner.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def keygen(file: Path) -> None:
    """Write a new random 32-byte HMAC key (hex) to FILE, readable by its owner only."""
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(
            f"{file} exists; refusing to overwrite a key (pseudonyms would change)"
        ) from None
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    click.echo(f"wrote a new HMAC key to {file}")


@partner.command()
@config_option
@json_option
@friendly
def check(config_path: Path, as_json: bool) -> None:
    """Check the partners file and show each partner's scope (keys are not shown)."""
    config = load(config_path, settings_keys=file_keys(fanout))
    if as_json:
        emit_json(
            [
                {
                    "id": p.id,
                    "stream": p.stream,
                    "regions": list(p.regions) if p.regions is not None else "*",
                    "areas": sorted(p.areas),
                    "types": sorted(p.types) if p.types is not None else "*",
                    "retention_days": p.retention_days,
                }
                for p in config.partners
            ]
        )
        return
    for p in config.partners:
        regions = ",".join(p.regions) if p.regions is not None else "*"
        types = ",".join(sorted(p.types)) if p.types is not None else "*"
        click.echo(
            f"{p.id:<16} {p.stream:<28} regions={regions} "
            f"areas={','.join(sorted(p.areas))} types={types}"
        )
