"""The settings of a device's long-running process, ``kopsync edge run``, one frozen object.

Built once from its options as resolved by :mod:`kopsync.cli.config` (flag > ``KOPSYNC_*``
variable > ``--config`` file > default). Like every ``kopsync edge`` module, this loads no
central code (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kopsync.connection import NatsClient


@dataclass(frozen=True, slots=True)
class EdgeRunSettings(NatsClient):
    """``kopsync edge run``."""

    hub_url: str | None
    http: str | None
    data_dir: Path
    metrics_listen: str | None
    log_format: str
    config_path: Path | None
