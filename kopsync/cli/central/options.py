"""Command-line options every scale-out worker takes (``central ingest``, ``project-worker``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import click

from sync_core.ids import check_id

worker_id_option: Callable[[Any], Any] = click.option(
    "--worker-id",
    envvar="KOPSYNC_WORKER_ID",
    default=None,
    help="This worker's lease owner name ($KOPSYNC_WORKER_ID; default host-pid).",
)
lease_ttl_option: Callable[[Any], Any] = click.option(
    "--lease-ttl",
    "lease_ttl",
    type=click.FloatRange(0.5, 3600),
    default=10.0,
    show_default=True,
    help="Seconds a lease lasts unrenewed: a dead worker's partitions move after about this.",
)


def worker_name(given: str | None) -> str:
    """The worker id given, else ``host-pid`` (unique per process), checked as an id."""
    return check_id(given or f"{socket.gethostname()}-{os.getpid()}", "worker id")
