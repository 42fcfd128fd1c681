"""``kopsync edge sync|run``: replicate the device's log with the central over NATS.

``sync`` is one shot: it exits 0 when the central confirmed every event, 3 when it uploaded
but the central has not committed everything yet (nothing is lost: the device keeps every
event and the next sync carries on), and 2 with one ``error:`` line when the server cannot
be reached in time. ``run`` replicates until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import Replicator, SyncReport
from edge_agent.app.settings import ReplicatorSettings
from kopsync.cli import exits
from kopsync.cli.common import (
    configure_logging,
    creds_option,
    data_option,
    emit_json,
    friendly,
    inbox_option,
    json_option,
    log_format_option,
    metrics_option,
    stop_on_signals,
    tls_options,
)
from kopsync.cli.common import nkey_option as shared_nkey_option
from kopsync.cli.config import config_option, settings_from
from kopsync.cli.edge.serve import (
    Api,
    http_option,
    prepare_api,
    say_if_untrusted,
    serve_api,
    together,
)
from kopsync.cli.edge.settings import EdgeRunSettings
from kopsync.connection import NatsClient, TlsFlags
from sync_core.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_UNCONFIRMED = exits.TRANSIENT


def nats_option(func: F) -> F:
    return click.option(
        "--nats",
        "nats_url",
        envvar="KOPSYNC_NATS_URL",
        required=True,
        help="NATS server URL ($KOPSYNC_NATS_URL); credentials from $KOPSYNC_NATS_CREDS.",
    )(func)


nkey_option = shared_nkey_option("This device's", "kopsync admin device add")


def hub_option(func: F) -> F:
    return click.option(
        "--hub",
        "hub_url",
        envvar="KOPSYNC_HUB_URL",
        default=None,
        help="The cooperative's hub on the LAN (`kopsync edge hub`, $KOPSYNC_HUB_URL): tried "
        "first, siblings share through it while the province is out of reach; --nats when it "
        "does not answer.",
    )(func)


@click.command("sync")
@nats_option
@hub_option
@creds_option
@nkey_option
@inbox_option
@tls_options
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to connect, upload and wait for the central's confirmation.",
)
@data_option
@json_option
@click.option("-v", "--verbose", is_flag=True, help="Log what the replicator does (stderr).")
@friendly
def sync_command(
    nats_url: str,
    hub_url: str | None,
    credentials: str | None,
    nkey: str | None,
    nats_inbox: str | None,
    tls: TlsFlags,
    timeout_s: float,
    data_dir: Path,
    as_json: bool,
    verbose: bool,
) -> None:
    """Upload new events, apply central events, and report what the central confirmed."""
    configure_logging(as_json=False, level=logging.INFO if verbose else logging.ERROR)
    with EdgeAgent(data_dir) as agent:
        client = NatsClient(nats_url, credentials, nkey, nats_inbox, tls)
        replicator = Replicator(agent, replicator_settings(client, hub_url))
        report = asyncio.run(replicator.sync_once(timeout_s))
    if as_json:
        emit_json(report.to_json())
    else:
        _describe(report)
    if not report.complete:
        sys.exit(EXIT_UNCONFIRMED)


def _describe(r: SyncReport) -> None:
    from kopsync.cli.human import count, decimal, plural

    resent = f", {count(r.resent)} re-sent" if r.resent else ""
    click.echo(
        f"uploaded {plural(r.uploaded, 'event')} in {plural(r.batches, 'batch', 'batches')} "
        f"({decimal(r.bytes_sent / 1024)} KiB{resent})"
    )
    if not r.central_answered:
        click.echo("the central did not answer (is `kopsync central ingest` running?)")
    elif not r.registered:
        click.echo(
            "this device is not registered centrally: its uploads wait in quarantine until "
            "`kopsync central device add device.json`"
        )
    click.echo(
        f"central confirmed seq {count(r.confirmed_seq)} of {count(r.head_seq)} "
        f"({count(r.pending)} pending)"
    )
    refused = f", refused {count(r.refused)} (see the log)" if r.refused else ""
    siblings = plural(r.siblings, "sibling's event", "siblings' events")
    click.echo(f"applied {plural(r.downloaded, 'central event')} and {siblings}{refused}")


@click.command("run")
@config_option("edge-run")
@nats_option
@hub_option
@creds_option
@nkey_option
@inbox_option
@tls_options
@http_option(None)
@data_option
@metrics_option
@log_format_option("console")
@friendly
@settings_from(EdgeRunSettings)
def run_command(settings: EdgeRunSettings) -> None:
    """Replicate continuously until Ctrl-C: reconnects by itself, syncs as events are recorded.

    With --http, the counter's API and teller page run in the same process, and that one
    listener also serves /metrics, /healthz and /readyz (no --metrics-listen then)."""
    s = settings
    http, metrics_listen = s.http, s.metrics_listen
    if http is not None and metrics_listen is not None:
        raise UsageError(
            f"--metrics-listen {metrics_listen}: with --http the API on {http} already serves "
            "/metrics, /healthz and /readyz; drop --metrics-listen (or unset "
            "$KOPSYNC_METRICS_LISTEN) and scrape the API's address"
        )
    configure_logging(as_json=s.log_format == "json", level=logging.INFO)
    with EdgeAgent(s.data_dir) as agent:
        say_if_untrusted(agent, "meanwhile it syncs only what is signed and records nothing")
        api = None if http is None else prepare_api(agent, http)
        replicator = Replicator(agent, replicator_settings(s))
        asyncio.run(_run(replicator, agent, api, metrics_listen))
    click.echo("stopped", err=True)


def replicator_settings(
    client: NatsClient | EdgeRunSettings, hub_url: str | None = None
) -> ReplicatorSettings:
    """The replicator's settings: its defaults, the NATS connection (and the hub's, with the
    same credentials: the hub knows the cooperative's devices)."""
    if hub_url is None and isinstance(client, EdgeRunSettings):
        hub_url = client.hub_url
    hub = client.connection("kopsync-edge", hub_url) if hub_url else None
    return ReplicatorSettings(client.connection("kopsync-edge"), hub=hub)


async def _run(
    replicator: Replicator, agent: EdgeAgent, api: Api | None, metrics_listen: str | None
) -> None:
    stop = asyncio.Event()
    stop_on_signals(stop.set)
    jobs = [replicator.run(stop)]
    if api is not None:
        jobs.append(serve_api(api, stop))
    if metrics_listen is None:
        await together(jobs, stop)
        return
    from prometheus_client import CollectorRegistry

    from edge_agent.app.health import readiness
    from edge_agent.app.metrics import EdgeMetrics
    from kopsync.probes import run_probed

    registry = CollectorRegistry()
    metrics = EdgeMetrics(registry)
    problems: list[str] = []

    async def status() -> None:
        # on the loop's thread, the store's own: the probe thread reads only the result
        metrics.update(agent.status())
        problems[:] = readiness(agent)

    def ready() -> str | None:
        return "; ".join(problems) or None

    await status()
    polls = [(2.0, status)]
    await run_probed(together(jobs, stop), metrics_listen, registry, ready=ready, polls=polls)
