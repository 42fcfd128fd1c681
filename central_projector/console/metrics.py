"""The console's own metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest


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
