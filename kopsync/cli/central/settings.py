"""The settings of the central's long-running processes, one frozen object per process.

Each is built once from the command's options as resolved by :mod:`kopsync.cli.config`
(flag > ``KOPSYNC_*`` variable > ``--config`` file > default) and handed to the command,
which passes plain values down.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kopsync.connection import NatsClient


@dataclass(frozen=True, slots=True)
class IngestSettings(NatsClient):
    """``kopsync central ingest``."""

    db_url: str
    gap_timeout: float
    fetch_batch: int
    dedup_window: float | None
    js_budget: int | None
    ack_wait: float | None
    replicas: int | None
    partitions: int | None
    uploads_per_device: int | None
    quarantine_budget: int
    worker_id: str | None
    lease_ttl: float
    metrics_listen: str | None
    log_format: str
    config_path: Path | None


@dataclass(frozen=True, slots=True)
class ProjectSettings(NatsClient):
    """``kopsync central project``."""

    db_url: str
    once: bool
    batch_size: int
    poll: float
    cache_rows: int
    sqlite_cache_mib: int
    sqlite_mmap_mib: int
    metrics_listen: str | None
    as_json: bool
    log_format: str | None
    config_path: Path | None


@dataclass(frozen=True, slots=True)
class ConsoleServeSettings:
    """``kopsync central console``."""

    db_url: str
    listen: str
    secret_file: Path | None
    secure_cookies: bool
    silent_days: int
    cache_seconds: float
    log_format: str
    config_path: Path | None


@dataclass(frozen=True, slots=True)
class FanoutSettings(NatsClient):
    """``kopsync partner fanout``: ``config_path`` is the partners file, which may hold
    these settings too."""

    metrics_listen: str | None
    log_format: str
    config_path: Path
