"""The ingest service's counters, for its logs, its metrics and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from central_projector.ingest.verdict import IngestResult


@dataclass(slots=True)
class ServiceStats:
    """Counters of one ingest service since it started."""

    messages: int = 0
    committed: int = 0
    duplicates: int = 0
    held: int = 0
    quarantined: int = 0
    ingest_errors: int = 0
    acked: int = 0
    hellos: int = 0
    published: int = 0
    resubscribed: int = 0
    released: int = 0
    over_budget: int = 0  # uploads skipped while their device had spent its quarantine budget
    purges: int = 0  # purges of an over-budget device's pending uploads from KOP_INGEST
    quarantined_by: dict[str, int] = field(default_factory=dict)  # reason -> messages
    upload_lag_ms: int = 0  # the last upload's wait in KOP_INGEST before its commit

    def add(self, result: IngestResult) -> None:
        """Count what one upload did."""
        self.committed += result.committed
        self.duplicates += result.duplicates
        self.held += result.held
        for reason, _ in result.quarantined:
            self.refused(reason)

    def refused(self, reason: str) -> None:
        self.quarantined += 1
        self.quarantined_by[reason] = self.quarantined_by.get(reason, 0) + 1

    def as_log(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}
