"""Recording the generator's commands in batches of a given size."""

from __future__ import annotations

from collections import Counter
from typing import Any

from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError, RuleViolation


class SimulationError(KopsyncError):
    """The generator produced a command the local rules refuse (a generator bug)."""


class Pending:
    """A queued command; ``envelope`` once its batch is recorded."""

    __slots__ = ("draft", "envelope")

    def __init__(self, draft: Draft, envelope: Envelope | None = None) -> None:
        self.draft = draft
        self.envelope = envelope


class Batch:
    """A teller recorder that records the commands it is given ``size`` at a time."""

    def __init__(self, agent: EdgeAgent, size: int) -> None:
        self.agent = agent
        self.size = size
        self.queue: list[Pending] = []
        self.recorded: list[Envelope] = []
        self.dropped = 0  # refused because of siblings' events (see flush)

    @property
    def coop_id(self) -> str:
        return self.agent.coop_id

    def record(self, event_type: str, payload: dict[str, Any], aggregate_id: str) -> Pending:
        pending = Pending(Draft(event_type, aggregate_id, payload))
        self.queue.append(pending)
        return pending

    def flush(self) -> None:
        if not self.queue:
            return
        try:
            envs = self.agent.record_many([p.draft for p in self.queue])
        except RuleViolation as exc:
            if not self.agent.store.sibling_heads():
                raise self._refused(exc) from exc
            # A sibling's event arrived between deciding and recording (a sale of the same
            # goods, a redemption on the same allowance): record what the rules still take,
            # one at a time, and leave the rest for the generator to replace.
            self._one_by_one()
            return
        except KopsyncError as exc:
            raise self._refused(exc) from exc
        for p, env in zip(self.queue, envs, strict=True):
            p.envelope = env
        self.recorded.extend(envs)
        self.queue.clear()

    def _one_by_one(self) -> None:
        for p in self.queue:
            try:
                [p.envelope] = self.agent.record_many([p.draft])
            except RuleViolation:
                self.dropped += 1
                continue
            self.recorded.append(p.envelope)
        self.queue.clear()

    def _refused(self, exc: Exception | None = None) -> SimulationError:
        kinds = dict(Counter(p.draft.type for p in self.queue))
        return SimulationError(f"simulated command refused ({exc}); batch: {kinds}")

    def event_id(self, pending: Pending) -> str:
        """The event id of a command, recording its batch now if need be.

        Recording earlier changes only when a transaction commits, never what is
        recorded, so the run stays the same whatever the batch size.
        """
        if pending.envelope is None:
            self.flush()
        assert pending.envelope is not None
        return pending.envelope.event_id
