"""``/metrics`` on the agent's own API listener (``edge run --http``): one listener per
device, beside ``/healthz`` and ``/readyz``, instead of a second port for the probes.

The series are those of :class:`edge_agent.app.metrics.EdgeMetrics`, read from the agent's
status at each scrape (in a worker thread: the store's reads wait for SQLite).
``prometheus_client`` is loaded at the first scrape, not before: most counter devices are
never scraped, and it is about 1.1 MB of a Raspberry Pi's memory.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge_agent.app.agent import EdgeAgent


def metrics_route(agent: EdgeAgent) -> Route:
    """``GET /metrics``: the device's series as of the scrape, in the Prometheus text format."""
    made: list[Any] = []  # the registry and the series, at the first scrape

    async def scrape(request: Request) -> Response:
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

        from edge_agent.app.metrics import EdgeMetrics

        if not made:
            registry = CollectorRegistry()
            made[:] = [registry, EdgeMetrics(registry)]
        registry, metrics = made
        metrics.update(await anyio.to_thread.run_sync(agent.status))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", scrape, methods=["GET"])
