"""``kopsync central project-worker``: one of several projection workers, by partition."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import click

from central_projector.projection.scaleout.routing import stage_names
from central_projector.projection.scaleout.worker import ProjectionWorker
from kopsync.cli.central.options import lease_ttl_option, worker_id_option, worker_name
from kopsync.cli.central.project import db_option
from kopsync.cli.common import (
    configure_logging,
    emit_json,
    friendly,
    json_option,
    log_format_option,
    metrics_option,
)
from sync_core.errors import UsageError


@click.command("project-worker")
@db_option
@click.option(
    "--partitions",
    type=click.IntRange(1, 4096),
    envvar="KOPSYNC_PROJECT_PARTITIONS",
    required=True,
    help="Cooperative partitions; the same on every worker "
    "($KOPSYNC_PROJECT_PARTITIONS). Stages: cross, p0ofN … p{N-1}ofN.",
)
@worker_id_option
@click.option(
    "--stages", default=None, help="Comma-separated stages this worker may take (default: all)."
)
@click.option(
    "--max-stages",
    type=click.IntRange(1, 4097),
    default=None,
    help="Hold at most this many stages at once (default: as many as it may take).",
)
@lease_ttl_option
@click.option(
    "--poll",
    type=click.FloatRange(0.05, 3600),
    default=1.0,
    show_default=True,
    help="Seconds between rounds of renewing, claiming and projecting.",
)
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="Events read per transaction.",
)
@click.option("--once", is_flag=True, help="One round: claim, project what is committed, exit.")
@metrics_option
@json_option
@log_format_option(None)
@friendly
def project_worker(
    db_url: str,
    partitions: int,
    worker_id: str | None,
    stages: str | None,
    max_stages: int | None,
    lease_ttl: float,
    poll: float,
    batch_size: int,
    once: bool,
    metrics_listen: str | None,
    as_json: bool,
    log_format: str | None,
) -> None:
    """Project the stages this worker holds a lease on, taking over those of dead workers."""
    configure_logging(as_json=(log_format or ("json" if as_json else "console")) == "json")
    wid = worker_name(worker_id)
    chosen = [s.strip() for s in stages.split(",") if s.strip()] if stages else None
    if chosen is not None:
        names = stage_names(partitions)
        bad = [s for s in chosen if s not in names]
        if bad:
            raise UsageError(f"--stages: no stage {bad[0]} with --partitions {partitions}")
    worker = ProjectionWorker(
        db_url,
        partitions,
        wid,
        ttl_s=lease_ttl,
        max_stages=max_stages,
        stages=chosen,
        batch_size=batch_size,
        create=False,
    )
    try:
        if once:
            started = time.perf_counter()
            worker.claim()
            n = worker.catch_up()
            seconds = round(time.perf_counter() - started, 3)
            summary = {
                "worker": wid,
                "stages": sorted(worker.held),
                "events": n,
                "seconds": seconds,
            }
            if as_json:
                emit_json(summary)
            else:
                click.echo(
                    f"worker {wid}: {n} events on {', '.join(sorted(worker.held)) or 'no stage'}"
                )
            return
        stop = threading.Event()
        with contextlib.suppress(ValueError):  # not the main thread (tests): no handler
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.ExitStack() as probes:
            if metrics_listen is not None:
                from prometheus_client import CollectorRegistry

                from central_projector.projection.metrics import ProjectorMetrics, store_ready
                from kopsync.probes import ProbeServer

                registry = CollectorRegistry()
                metrics = ProjectorMetrics(
                    worker.engine,
                    registry,
                    counts=lambda: (worker.stats.events, worker.stats.steps),
                )
                probes.enter_context(
                    ProbeServer(metrics_listen, registry, ready=store_ready(metrics))
                )
            with contextlib.suppress(KeyboardInterrupt):
                worker.run(stop, poll)
    finally:
        worker.close()
