"""What a device knows about its replication: the ``sync`` meta record and sync reports.

The ``sync`` meta map holds ``confirmed_seq`` (highest seq the central committed, as of the
last hello), ``last_contact`` (wall ms of that hello), ``downlink_position`` (KOP_DOWN stream
sequence applied up to), ``sibling_position`` (KOP_EVENTS stream sequence read up to, see
:mod:`edge_agent.app.siblings`), and the pinned ``central_key`` and ``issuer``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edge_agent.app.agent import EdgeAgent

SYNC_META = "sync"


def read_sync(agent: EdgeAgent) -> dict[str, Any]:
    value = agent.store.meta(SYNC_META)
    return dict(value) if isinstance(value, dict) else {}


def update_sync(agent: EdgeAgent, changes: dict[str, Any]) -> None:
    agent.store.set_meta(SYNC_META, read_sync(agent) | changes)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync did: events published (re-sends included), confirmed and downloaded."""

    uploaded: int
    batches: int
    resent: int
    bytes_sent: int
    confirmed_seq: int
    head_seq: int
    downloaded: int
    refused: int
    central_answered: bool
    registered: bool
    siblings: int = 0

    @property
    def pending(self) -> int:
        return max(self.head_seq - self.confirmed_seq, 0)

    @property
    def complete(self) -> bool:
        return self.registered and self.confirmed_seq >= self.head_seq

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"pending": self.pending, "complete": self.complete}


@dataclass(slots=True)
class Tally:
    """Counts of one sync, filled in as it goes."""

    uploaded: int = 0
    batches: int = 0
    resent: int = 0
    bytes_sent: int = 0
    downloaded: int = 0
    refused: int = 0
    siblings: int = 0  # siblings' events taken in
    central_answered: bool = False
    registered: bool = False
