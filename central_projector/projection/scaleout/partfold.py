"""The partitioned projection in memory: each stage folds its events into shared rows.

The reference for the SQL workers (:mod:`central_projector.projection.scaleout.worker`) and what
the equality property compares with the single fold: for any set of events and any
number of partitions, folding each stage on its own (in any order of stages, each
stage in any batching) gives the same read models as one fold of everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from central_projector.projection.folds import Event, apply
from central_projector.projection.folds.base import MemoryState
from central_projector.projection.scaleout.routing import select, stage_names
from central_projector.projection.scaleout.scoped import ScopedState


class PartitionedMemoryProjector:
    """Every stage of a ``partitions``-way projection over one shared :class:`MemoryState`."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.state = MemoryState()
        self.shadows = {stage: MemoryState() for stage in stage_names(partitions)}
        self.seen: dict[str, set[tuple[str, int]]] = {s: set() for s in self.shadows}

    def apply_stage(self, stage: str, events: Iterable[Event]) -> int:
        """Fold the events of ``stage`` among ``events`` (duplicates ignored, as the store)."""
        seen = self.seen[stage]
        fresh: dict[tuple[str, int], Event] = {}
        for ev in select(events, stage, self.partitions):
            k = (ev.device_id, ev.seq)
            if k not in seen and k not in fresh:
                fresh[k] = ev
        seen.update(fresh)
        return apply(ScopedState(stage, self.state, self.shadows[stage]), fresh.values())
