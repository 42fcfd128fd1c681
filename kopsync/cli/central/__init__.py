"""``kopsync central``: the province data centre's commands.

The store is ``--db`` (or ``$KOPSYNC_DB_URL``, default ``sqlite:///kopsync-central.db``); the
NATS server is ``--nats`` (or ``$KOPSYNC_NATS_URL``), with credentials from
``$KOPSYNC_NATS_CREDS`` when set, and the central's nkey seed from ``--nkey`` (or
``$KOPSYNC_NATS_NKEY``) on a server with kopsync's NATS security (``kopsync admin``). The
services (``ingest``, ``project``, ``console``) also read a ``--config`` TOML file
(:mod:`kopsync.cli.config`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
from prometheus_client import CollectorRegistry

from central_projector.ingest.outbox import flush_outbox
from central_projector.ingest.service import CentralService
from central_projector.ingest.streams import StreamSettings
from central_projector.record.store import DEFAULT_URL, CentralStore
from kopsync.cli import exits
from kopsync.cli.central.options import lease_ttl_option, worker_id_option, worker_name
from kopsync.cli.central.settings import IngestSettings
from kopsync.cli.common import (
    configure_logging,
    creds_option,
    emit_json,
    friendly,
    inbox_option,
    json_option,
    log_format_option,
    metrics_option,
    parse_json_object,
    stop_on_signals,
    tls_options,
)
from kopsync.cli.common import nkey_option as shared_nkey_option
from kopsync.cli.config import config_option, settings_from
from kopsync.connection import TlsFlags, nats_connection

F = TypeVar("F", bound=Callable[..., Any])


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_url",
        envvar="KOPSYNC_DB_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="SQLAlchemy URL of the central store ($KOPSYNC_DB_URL).",
    )(func)


def nats_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "--nats",
        "nats_url",
        envvar="KOPSYNC_NATS_URL",
        required=required,
        help="NATS server URL ($KOPSYNC_NATS_URL); credentials from $KOPSYNC_NATS_CREDS.",
    )


nkey_option = shared_nkey_option("The central's", "kopsync admin central-user")


@click.group(epilog=exits.HELP)
def central() -> None:
    """Run the central ingest service, register devices, issue central events."""


@central.command()
@config_option("central-ingest")
@nats_option(required=True)
@db_option
@creds_option
@nkey_option
@inbox_option
@tls_options
@click.option(
    "--gap-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds events wait behind a seq gap before they are applied, flagged GAP.",
)
@click.option(
    "--fetch-batch",
    type=int,
    default=64,
    show_default=True,
    help="Messages per pull from the ingest consumer.",
)
@click.option(
    "--dedup-window",
    envvar="KOPSYNC_DEDUP_WINDOW_S",
    type=float,
    default=None,
    help="JetStream de-dup window of KOP_INGEST in seconds ($KOPSYNC_DEDUP_WINDOW_S, default 120).",
)
@click.option(
    "--js-budget",
    envvar="KOPSYNC_JS_BUDGET_BYTES",
    type=int,
    default=None,
    help="Bytes of JetStream file storage the four streams may use together "
    "($KOPSYNC_JS_BUDGET_BYTES, default 48 GiB).",
)
@click.option(
    "--ack-wait",
    type=float,
    default=None,
    help="Seconds before an unacknowledged upload is redelivered (default 30).",
)
@click.option(
    "--replicas",
    envvar="KOPSYNC_JS_REPLICAS",
    type=click.IntRange(1, 5),
    default=None,
    help="JetStream replicas of every stream: 3 on a 3-node cluster "
    "($KOPSYNC_JS_REPLICAS, default 1).",
)
@click.option(
    "--partitions",
    envvar="KOPSYNC_INGEST_PARTITIONS",
    type=click.IntRange(1, 1024),
    default=None,
    help="Split KOP_INGEST by cooperative into N partitions, one lease each; the same on every "
    "ingest worker ($KOPSYNC_INGEST_PARTITIONS, default 1: one shared consumer).",
)
@click.option(
    "--uploads-per-device",
    envvar="KOPSYNC_UPLOADS_PER_DEVICE",
    type=click.IntRange(10),
    default=None,
    help="Uploads KOP_INGEST keeps per device subject, the oldest dropped first: at most this "
    "many of one device's messages are ever ahead of another's ($KOPSYNC_UPLOADS_PER_DEVICE, "
    "default 1000).",
)
@click.option(
    "--quarantine-budget",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Quarantine records one device may cause at once (then one a second); while it is "
    "spent its uploads are acknowledged unprocessed.",
)
@worker_id_option
@lease_ttl_option
@metrics_option
@log_format_option("json")
@friendly
@settings_from(IngestSettings)
def ingest(settings: IngestSettings) -> None:
    """Run the ingest service (until SIGINT/SIGTERM): uploads, hello, outbox, gap timeouts."""
    s = settings
    configure_logging(as_json=s.log_format == "json")
    given: dict[str, Any] = {
        "dedup_window_s": s.dedup_window,
        "budget_bytes": s.js_budget,
        "ack_wait_s": s.ack_wait,
        "replicas": s.replicas,
        "ingest_partitions": s.partitions,
        "uploads_per_device": s.uploads_per_device,
    }
    streams = replace(StreamSettings(), **{k: v for k, v in given.items() if v is not None})
    wid = worker_name(s.worker_id)
    store = CentralStore(s.db_url, create=False)
    try:
        service = CentralService(
            store,
            s.connection("kopsync-central"),
            gap_timeout_s=s.gap_timeout,
            fetch_batch=s.fetch_batch,
            settings=streams,
            worker_id=wid,
            lease_ttl_s=s.lease_ttl,
            quarantine_burst=s.quarantine_budget,
        )
        asyncio.run(_serve(service, s.metrics_listen))
    finally:
        store.close()


async def _serve(service: CentralService, metrics_listen: str | None) -> None:
    stop_on_signals(service.stop)
    if metrics_listen is None:
        await service.run()
        return
    from central_projector.ingest.metrics import IngestMetrics
    from kopsync.probes import run_probed
    from sync_core.protocol import INGEST_CONSUMER, INGEST_STREAM

    registry = CollectorRegistry()
    metrics = IngestMetrics(service.stats, registry)

    async def pending() -> None:
        for consumer in [INGEST_CONSUMER, *service.partitions_held]:
            with contextlib.suppress(Exception):  # not made yet, or not this worker's
                info = await service.js.consumer_info(INGEST_STREAM, consumer, timeout=5)
                metrics.pending[consumer] = int(info.num_pending or 0)

    def ready() -> str | None:
        return None if service.ready.is_set() else "not connected to NATS and subscribed yet"

    await run_probed(service.run(), metrics_listen, registry, ready=ready, polls=[(5.0, pending)])


@central.command()
@click.argument("event_type")
@click.option("--coop", "coop_id", required=True, help="The cooperative it is issued to.")
@click.option("--json", "payload_json", required=True, help="The payload as a JSON object.")
@click.option("--aggregate", "aggregate_id", required=True, help="Id of the aggregate.")
@db_option
@nats_option(required=False)
@creds_option
@nkey_option
@inbox_option
@tls_options
@click.option("--print-json", "as_json", is_flag=True, help="Print the issued event as JSON.")
@friendly
def issue(
    event_type: str,
    coop_id: str,
    payload_json: str,
    aggregate_id: str,
    db_url: str,
    nats_url: str | None,
    credentials: str | None,
    nkey: str | None,
    nats_inbox: str | None,
    tls: TlsFlags,
    as_json: bool,
) -> None:
    """Issue a central event TYPE to a cooperative's devices (EntitlementGranted, CardBlocked…).

    It is stored and queued; the running ingest service publishes it, or, with --nats, this
    command publishes the queue at once.
    """
    payload = parse_json_object(payload_json)
    with CentralStore(db_url, create=False) as store:
        env = store.issue(event_type, coop_id, payload, aggregate_id)
        published = (
            asyncio.run(
                flush_outbox(
                    store,
                    nats_connection(
                        nats_url,
                        "kopsync-central-issue",
                        credentials=credentials,
                        nkey=nkey,
                        inbox_prefix=nats_inbox,
                        tls=tls,
                    ),
                )
            )
            if nats_url
            else None
        )
    if as_json:
        emit_json(
            {
                "issuer": env.device_id,
                "seq": env.seq,
                "event_id": env.event_id,
                "type": env.type,
                "coop_id": env.coop_id,
                "aggregate_id": env.aggregate_id,
                "published": published,
            }
        )
        return
    click.echo(
        f"issued {env.type} {env.aggregate_id} to {env.coop_id} as {env.device_id}:{env.seq}"
    )
    if published is None:
        click.echo("queued: the running `kopsync central ingest` publishes it")
    else:
        click.echo(f"published {published} queued message(s)")


@central.group()
def device() -> None:
    """Register the devices whose uploads the central accepts."""


@device.command("add")
@click.argument("registration", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@json_option
@friendly
def device_add(registration: Path, db_url: str, as_json: bool) -> None:
    """Register the device.json written by `kopsync edge init`; re-process its waiting uploads."""
    with CentralStore(db_url, create=False) as store:
        device_id, coop_id, reprocessed = store.register_from_file(registration)
    if as_json:
        emit_json({"device_id": device_id, "coop_id": coop_id, "reprocessed": reprocessed})
    else:
        click.echo(f"registered device {device_id} of cooperative {coop_id}")
        if reprocessed:
            click.echo(f"re-processed {reprocessed} upload(s) that waited for the registration")


@central.command()
@db_option
@json_option
@friendly
def status(db_url: str, as_json: bool) -> None:
    """One row per device: committed seq, last seen, gaps, held, quarantined, and the hub it
    last synced through (via)."""
    from central_projector.reporting.reader import CentralReader

    with CentralReader(db_url) as reader:
        rows = reader.device_status()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no devices registered (kopsync central device add DEVICE.json)")
        return
    from kopsync.cli.human import count, when

    click.echo(
        f"{'coop_id':<16} {'device_id':<16} {'committed_seq':>13}  {'last_seen':<24} "
        f"{'gaps':>5} {'held':>6} {'quarantined':>11}  via"
    )
    for r in rows:
        click.echo(
            f"{r['coop_id']:<16} {r['device_id']:<16} {count(r['committed_seq']):>13}  "
            f"{when(r['last_seen'], r['coop_id']):<24} {count(r['gaps']):>5} "
            f"{count(r['held']):>6} {count(r['quarantined']):>11}  "
            # via: the cooperative's hub it last synced through; "-": directly
            f"{r.get('via') or '-'}"
        )


@central.command()
@db_option
@json_option
@friendly
def verify(db_url: str, as_json: bool) -> None:
    """Re-check every stored event's signature, hash and chain; name every bad row."""
    from central_projector.reporting.reader import CentralReader

    with CentralReader(db_url) as reader:
        report = reader.verify()
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "devices": report.devices,
                "bad": [{"device_id": b.device_id, "seq": b.seq, "reason": b.reason}
                        for b in report.bad],
            }
        )  # fmt: skip
    elif report.ok:
        from kopsync.cli.human import plural

        click.echo(
            f"ok: {plural(report.checked, 'event')} of {plural(report.devices, 'device')} verify"
        )
    else:
        for b in report.bad:
            click.echo(f"BROKEN {b.device_id} seq {b.seq}: {b.reason}", err=True)
    if not report.ok:
        raise SystemExit(1)


from kopsync.cli.central.project import register  # noqa: E402  (the read-model commands)

register(central)

from kopsync.cli.central.replay import replay  # noqa: E402  (kopsync central replay)
from kopsync.cli.central.workers import project_worker  # noqa: E402  (scale-out workers)

central.add_command(replay)
central.add_command(project_worker)

from kopsync.cli.central.report import register as register_reports  # noqa: E402

register_reports(central)

from kopsync.cli.central.console import register as register_console  # noqa: E402

register_console(central)

from kopsync.cli.central.migrate import migrate  # noqa: E402  (kopsync central migrate)

central.add_command(migrate)
