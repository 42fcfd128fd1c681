"""A projection worker: holds leases on some stages and keeps them caught up.

Every worker of a deployment is started with the same ``partitions``; each one, every
``poll`` seconds, renews the leases it holds, tries to take stages whose lease is free or
expired (up to ``max_stages``), and steps each held stage up to the store's barrier. A
worker that dies stops renewing; its stages expire after ``ttl`` and the next poll of a
survivor takes them: takeover within ``ttl + poll`` seconds. A stage is only ever
stepped under its lease's fence, so two workers never apply the same stage at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
import structlog

from central_projector.projection.projector import Projector
from central_projector.projection.scaleout.routing import stage_names
from central_projector.projection.scaleout.stage import StageProjector, stage_held
from central_projector.record import leases
from central_projector.record.tables import events

log = structlog.get_logger("kopsync.projector")


@dataclass
class WorkerStats:
    events: int = 0
    steps: int = 0
    taken: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


class ProjectionWorker:
    """Projects the stages it holds a lease on."""

    def __init__(
        self,
        url: str,
        partitions: int,
        worker_id: str,
        *,
        ttl_s: float = 10.0,
        max_stages: int | None = None,
        stages: Sequence[str] | None = None,
        batch_size: int = 5000,
        clock: Callable[[], int] = leases.now_ms,
        create: bool = True,
    ) -> None:
        names = stage_names(partitions)
        unknown = [s for s in stages or () if s not in names]
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]}; the stages are {', '.join(names)}")
        self.projector = Projector(url, batch_size=batch_size, create=create)
        self.engine: sa.Engine = self.projector.engine
        self.partitions = partitions
        self.worker_id = worker_id
        self.ttl_ms = int(ttl_s * 1000)
        self.candidates = list(stages) if stages else names
        # A worker pinned to some stages (--stages) holds them all; the others share.
        self.shares = not stages
        self.max_stages = max_stages or len(self.candidates)
        self.clock = clock
        self.stages = {s: StageProjector(self.projector, s, partitions, batch_size) for s in names}
        self.held: dict[str, int] = {}  # stage -> fencing token
        self.stats = WorkerStats()

    def close(self) -> None:
        for stage, token in list(self.held.items()):
            try:
                leases.release(self.engine, stage, self.worker_id, token)
            except Exception as exc:  # the store is gone: the lease expires by itself
                log.warning("lease_release_failed", stage=stage, error=repr(exc))
        self.held.clear()
        self.projector.close()

    def claim(self) -> None:
        """Renew what is held, take free stages up to this worker's share, hand back the rest."""
        now = self.clock()
        limit = self.max_stages
        if self.shares:
            share = leases.fair_share(
                self.engine, "project", self.worker_id, len(self.candidates), self.ttl_ms, now
            )
            limit = min(limit, share)
        while len(self.held) > limit:  # another worker joined: hand stages over
            stage, held = self.held.popitem()
            leases.release(self.engine, stage, self.worker_id, held)
        for stage in self.candidates:
            if stage not in self.held and len(self.held) >= limit:
                continue
            token = leases.acquire(self.engine, stage, self.worker_id, self.ttl_ms, now)
            if token is None:
                if self.held.pop(stage, None) is not None:
                    self.stats.lost.append(stage)
                    log.warning("lease_lost", stage=stage, worker=self.worker_id)
                continue
            if self.held.get(stage) != token:
                self.stats.taken.append(stage)
                log.info("lease_taken", stage=stage, worker=self.worker_id, token=token)
            self.held[stage] = token

    def catch_up(self) -> int:
        """Step every held stage up to the barrier; events folded."""
        upto = self.projector.barrier()
        self._forget_vanished_held()
        done = 0
        for stage, token in list(self.held.items()):
            sp = self.stages[stage]
            while True:
                try:
                    res = sp.step(self.worker_id, token, self.ttl_ms, self.clock(), upto)
                except leases.LeaseLost:
                    self.held.pop(stage, None)
                    self.stats.lost.append(stage)
                    log.warning("lease_lost", stage=stage, worker=self.worker_id)
                    break
                self.stats.steps += 1
                done += res.events
                if res.read < sp.batch_size:
                    break
        self.stats.events += done
        return done

    def _forget_vanished_held(self) -> None:
        """A held event the store later quarantined (broken chain) will never commit."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(stage_held).where(
                    ~sa.exists().where(events.c.id == stage_held.c.event_pk)
                )
            )

    def run(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Claim and catch up every ``poll_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.claim()
                self.catch_up()
            except Exception as exc:  # the store is down: retry at the next poll
                log.error("projection_round_failed", worker=self.worker_id, error=repr(exc))
            stop.wait(poll_s)
