"""The projector's metrics: its own counters, and how far it is behind the record.

Read when scraped: ``kopsync_projector_position`` (the last event id folded; of a
projection worker's stages, the slowest's),
``kopsync_projector_lag_events`` (committed events not yet folded, counted up to a
million) and ``kopsync_projector_lag_seconds`` (how long the oldest of them has waited
since it was received); ``kopsync_projector_events_total`` and
``kopsync_projector_steps_total`` count this process's work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from central_projector.projection.readmodels.tables import projector_position
from central_projector.projection.steps import RunResult
from central_projector.record.tables import events

COUNT_CAP = 1_000_000


class ProjectorMetrics(Collector):
    """``names``: the position rows to follow (the projector's own; ``None``: every stage's).
    ``counts``: where this process's (events, steps) are read, else what :meth:`ran` adds."""

    def __init__(
        self,
        engine: sa.Engine,
        registry: CollectorRegistry,
        *,
        names: Collection[str] | None = None,
        counts: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.engine = engine.execution_options(kopsync_read=True)
        self.names = None if names is None else tuple(names)
        self.events = 0
        self.steps = 0
        self.counts = counts or (lambda: (self.events, self.steps))
        registry.register(self)

    def ran(self, res: RunResult) -> None:
        self.events += res.events
        self.steps += res.steps

    def lag(self) -> tuple[int, int, float]:
        """(position, committed events after it, seconds the oldest of them has waited)."""
        with self.engine.connect() as conn:
            pos = projector_position
            q = sa.select(sa.func.min(pos.c.position))
            if self.names is not None:
                q = q.where(pos.c.name.in_(self.names))
            position = int(conn.execute(q).scalar() or 0)
            after = sa.and_(events.c.status == "committed", events.c.id > position)
            capped = sa.select(events.c.id).where(after).limit(COUNT_CAP).subquery()
            behind = int(conn.execute(sa.select(sa.func.count()).select_from(capped)).scalar() or 0)
            oldest = conn.execute(
                sa.select(events.c.received_at).where(after).order_by(events.c.id).limit(1)
            ).scalar()
        waited = max(0.0, time.time() - int(oldest) / 1000) if oldest is not None else 0.0
        return position, behind, waited

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "kopsync_projector_events", "Events folded by this process.", value=self.events
        )
        yield CounterMetricFamily(
            "kopsync_projector_steps",
            "Committed projection steps of this process.",
            value=self.steps,
        )
        try:
            position, behind, waited = self.lag()
        except sa.exc.SQLAlchemyError:
            return  # the store is unreachable: /readyz says so; no stale figures
        yield GaugeMetricFamily(
            "kopsync_projector_position", "Id of the last event folded.", value=position
        )
        yield GaugeMetricFamily(
            "kopsync_projector_lag_events", "Committed events not yet folded.", value=behind
        )
        yield GaugeMetricFamily(
            "kopsync_projector_lag_seconds",
            "Seconds the oldest event not yet folded has waited since it was received.",
            value=waited,
        )


def store_ready(metrics: ProjectorMetrics) -> Callable[[], str | None]:
    """A readiness check: the store answers the lag query."""

    def ready() -> str | None:
        try:
            metrics.lag()
        except sa.exc.SQLAlchemyError as exc:
            return f"cannot read the store: {type(exc).__name__}"
        return None

    return ready
