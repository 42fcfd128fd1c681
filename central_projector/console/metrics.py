"""The console's own metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from central_projector.record.tables import devices


class ConsoleMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "kopsync_console_requests",
            "Pages served, by page and status.",
            ["page", "status"],
            registry=r,
        )
        self.seconds = Histogram(
            "kopsync_console_page_seconds",
            "Server time of a page, by page.",
            ["page"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=r,
        )
        self.logins = Counter(
            "kopsync_console_logins",
            "Login attempts by outcome (ok, refused).",
            ["outcome"],
            registry=r,
        )
        self.decisions = Counter(
            "kopsync_console_decisions",
            "Conflict decisions recorded, by kind.",
            ["kind"],
            registry=r,
        )
        self.errors = Counter(
            "kopsync_console_errors",
            "Pages answered with an error, by status.",
            ["status"],
            registry=r,
        )

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class DeviceCollector(Collector):
    """``kopsync_central_device_last_seen_timestamp_seconds{coop_id,device_id}``: when the
    central last heard from each device not retired (0: never), read from the store when
    scraped; the alert on silent devices is written over it."""

    def __init__(self, engine: sa.Engine, registry: CollectorRegistry) -> None:
        self.engine = engine
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "kopsync_central_device_last_seen_timestamp_seconds",
            "When the central last heard from the device (Unix time; 0: never).",
            labels=["coop_id", "device_id"],
        )
        q = sa.select(devices.c.coop_id, devices.c.device_id, devices.c.last_seen).where(
            devices.c.retired.is_(False)
        )
        try:
            with self.engine.connect() as conn:
                for coop_id, device_id, seen in conn.execute(q):
                    family.add_metric([coop_id, device_id], int(seen or 0) / 1000)
        except sa.exc.SQLAlchemyError:
            return  # /readyz tells the store is unreachable
        yield family
