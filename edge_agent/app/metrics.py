"""A device's metrics while ``kopsync edge run`` replicates: what waits, and when it last
reached the central. Updated from the agent's status by the run loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Gauge


class EdgeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["coop_id", "device_id"]
        self.pending = Gauge("kopsync_edge_pending_events",
                             "Events recorded here and not yet confirmed by the central.",
                             labels, registry=registry)  # fmt: skip
        self.last_seq = Gauge("kopsync_edge_last_seq", "Seq of the newest event recorded.",
                              labels, registry=registry)  # fmt: skip
        self.confirmed = Gauge("kopsync_edge_confirmed_seq",
                               "Highest seq the central has confirmed committed.",
                               labels, registry=registry)  # fmt: skip
        self.last_contact = Gauge("kopsync_edge_last_contact_timestamp_seconds",
                                  "When the central last answered (Unix time; 0: never).",
                                  labels, registry=registry)  # fmt: skip
        self.downlink = Gauge("kopsync_edge_downlink_position",
                              "Position reached on the cooperative's downlink stream.",
                              labels, registry=registry)  # fmt: skip

    def update(self, status: Mapping[str, Any]) -> None:
        ids = (status["coop_id"], status["device_id"])
        self.pending.labels(*ids).set(status["pending"])
        self.last_seq.labels(*ids).set(status["last_seq"])
        self.confirmed.labels(*ids).set(status["confirmed_seq"])
        self.last_contact.labels(*ids).set((status["last_contact"] or 0) / 1000)
        self.downlink.labels(*ids).set(status["downlink_position"])
