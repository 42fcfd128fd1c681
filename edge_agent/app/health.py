"""Whether the device's store can be trusted to serve: for ``/readyz`` and the like."""

from __future__ import annotations

from edge_agent.app.agent import EdgeAgent
from sync_core.errors import IntegrityError, KopsyncError


def readiness(agent: EdgeAgent) -> list[str]:
    """What stops the store from serving (empty when it is ready).

    Cheap enough to ask often: the store must match its seal (checked once per process,
    :meth:`EdgeAgent.trust_problems`), the log's newest event must be the one the store last
    recorded (its high-water mark; a truncated or replaced log is not), and its signature
    must verify with this device's key. Every event is checked by ``kopsync edge verify``;
    durability settings are checked whenever a connection opens.
    """
    try:
        untrusted = agent.trust_problems()
        if untrusted:
            return [
                f"the store was changed outside kopsync ({'; '.join(untrusted)}); "
                "run `kopsync edge repair`"
            ]
        head = agent.head()
        mark_seq, mark_hash = agent.store.high_water()
        if head.seq != mark_seq or (mark_seq and head.hash != mark_hash):
            return [
                f"the log ends at seq {head.seq} but the store recorded up to seq {mark_seq}; "
                "run `kopsync edge verify`"
            ]
        newest = next(agent.store.events(head.seq - 1), None) if head.seq else None
        if newest is not None:
            newest.verify_signature(agent.public_key)
    except IntegrityError as exc:
        return [f"the newest event does not verify ({exc}); run `kopsync edge verify`"]
    except KopsyncError as exc:
        return [str(exc)]
    return []
