"""A recorder that records at most once per idempotency key, for the teller functions."""

from __future__ import annotations

from typing import Any

from edge_agent.adapters.idempotency import Once
from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent
from sync_core.envelope import Envelope


class OnceRecorder:
    """Records through ``agent`` at most once per ``once.key``.

    A teller function given this recorder records as usual the first time; given the same
    key again (a retry, also after a restart), it records nothing and returns the event the
    first request recorded, and ``replayed`` is True.
    """

    def __init__(self, agent: EdgeAgent, once: Once) -> None:
        self.agent = agent
        self.once = once
        self.replayed = False

    @property
    def coop_id(self) -> str:
        return self.agent.coop_id

    def record(
        self,
        event_type: str,
        payload: dict[str, Any],
        aggregate_id: str,
        *,
        version: int | None = None,
    ) -> Envelope:
        drafts = [Draft(event_type, aggregate_id, payload, version)]
        envelopes, self.replayed = self.agent.record_once(drafts, self.once)
        return envelopes[0]
