"""The ingest service's metrics, read from its counters when scraped.

- ``kopsync_ingest_messages_total``, ``..._committed_events_total``,
  ``..._duplicate_events_total``, ``..._held_events_total``, ``..._errors_total``,
  ``..._over_budget_total`` (uploads of a device over its quarantine budget, acked
  unprocessed), ``..._purges_total`` (purges of such a device's pending uploads)
- ``kopsync_ingest_quarantined_total{reason}``: refused input by reason code
- ``kopsync_ingest_upload_lag_seconds``: how long the last upload waited in KOP_INGEST
  between the server storing it and its commit here
- ``kopsync_ingest_consumer_pending{consumer}``: uploads the durable consumer has not yet
  delivered (polled from JetStream)
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from central_projector.ingest.stats import ServiceStats


class IngestMetrics(Collector):
    def __init__(self, stats: ServiceStats, registry: CollectorRegistry) -> None:
        self.stats = stats
        self.pending: dict[str, int] = {}
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        for name, value, help_ in (
            ("messages", s.messages, "Upload messages taken from KOP_INGEST."),
            ("committed_events", s.committed, "Events committed to the central store."),
            ("duplicate_events", s.duplicates, "Events already committed (no effect)."),
            ("held_events", s.held, "Events held behind a gap in their device's seq."),
            ("errors", s.ingest_errors, "Uploads that failed and were redelivered."),
            ("over_budget", s.over_budget, "Uploads acked unprocessed: device over budget."),
            ("purges", s.purges, "Purges of an over-budget device's pending uploads."),
        ):
            yield CounterMetricFamily(f"kopsync_ingest_{name}", help_, value=value)
        q = CounterMetricFamily(
            "kopsync_ingest_quarantined", "Input quarantined, by reason.", labels=["reason"]
        )
        for reason, n in sorted(s.quarantined_by.items()):
            q.add_metric([reason], n)
        yield q
        yield GaugeMetricFamily(
            "kopsync_ingest_upload_lag_seconds",
            "Seconds the last upload waited in KOP_INGEST before its commit.",
            value=s.upload_lag_ms / 1000,
        )
        p = GaugeMetricFamily(
            "kopsync_ingest_consumer_pending",
            "Uploads not yet delivered to ingest, per durable consumer.",
            labels=["consumer"],
        )
        for consumer, n in sorted(self.pending.items()):
            p.add_metric([consumer], n)
        yield p
