"""The partner fan-out's metrics per partner, read from its counters when scraped.

``kopsync_fanout_forwarded_total{partner}`` (and ``_skipped``, ``_withheld``,
``_publish_failed``) count this process's decisions; ``kopsync_fanout_lag_events{partner}``
is what the partner's durable consumer on KOP_EVENTS has not yet delivered (polled).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from central_projector.partners.fanout import PartnerStats

COUNTERS = (
    ("forwarded", "Events forwarded to the partner's stream."),
    ("skipped", "Events outside the partner's scope."),
    ("withheld", "Events withheld (personal data the policy cannot pseudonymise)."),
    ("publish_failed", "Forwards that failed and were redelivered."),
)


class FanoutMetrics(Collector):
    def __init__(self, stats: Mapping[str, PartnerStats], registry: CollectorRegistry) -> None:
        self.stats = stats
        self.lag: dict[str, int] = {}
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        for name, help_ in COUNTERS:
            family = CounterMetricFamily(f"kopsync_fanout_{name}", help_, labels=["partner"])
            for partner, st in sorted(self.stats.items()):
                family.add_metric([partner], getattr(st, name))
            yield family
        lag = GaugeMetricFamily(
            "kopsync_fanout_lag_events",
            "Events on KOP_EVENTS not yet delivered to the partner's fan-out.",
            labels=["partner"],
        )
        for partner, n in sorted(self.lag.items()):
            lag.add_metric([partner], n)
        yield lag
