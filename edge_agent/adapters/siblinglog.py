"""Taking in a batch of siblings' events: judge each, store what is taken, hold what waits.

Decide, then act, in one write transaction: every message (and every one held from before)
is judged by :func:`edge_agent.domain.siblings.judge` against the registry views and the
chains as stored so far; taking one may make a held one takeable (its predecessor, its
sibling's registration), so judging repeats until nothing more is taken. What still waits is
held again; the taken events fold into the views (:func:`edge_agent.adapters.received.fold_in`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent.adapters import received
from edge_agent.adapters.viewtable import ViewWrite
from edge_agent.domain.base import View
from edge_agent.domain.devices import device_key
from edge_agent.domain.siblings import HOLD, REFUSE, TAKE, Identity, Verdict, decode, judge
from sync_core.envelope import Envelope
from sync_core.hlc import Hlc


@dataclass(slots=True)
class SiblingReceipt:
    """What one batch did: events taken, duplicates, refusals, messages still held."""

    taken: list[Envelope] = field(default_factory=list)
    duplicates: int = 0
    refused: list[Verdict] = field(default_factory=list)
    held: int = 0


def take_in(
    w: ViewWrite,
    insert: Callable[[Envelope], None],
    me: Identity,
    datas: list[bytes],
    clock: Hlc,
    now_ms: int,
) -> SiblingReceipt:
    """Judge ``datas`` and the held messages; ``insert`` the taken ones, fold them into the
    views of ``w``."""
    c = w.c
    receipt = SiblingReceipt()

    def known(device_id: str) -> View | None:
        key = device_key(device_id)
        w.load([key])
        return w.views[key]

    pending: list[Envelope] = []
    for data in [*datas, *received.take_held(c)]:
        decoded = decode(data)
        if isinstance(decoded, Verdict):
            receipt.refused.append(decoded)
        else:
            pending.append(decoded)
    pending.sort(key=lambda e: (e.device_id, e.seq))
    waiting: dict[tuple[str, int], Verdict] = {}
    moved = True
    while pending and moved:
        moved, later = False, []
        for env in pending:
            verdict = judge(
                env,
                me,
                known,
                lambda d: received.sibling_head(c, d),
                lambda d, s: received.sibling_hash_at(c, d, s),
            )
            if verdict.action == TAKE:
                insert(env)
                receipt.taken.append(env)
                moved = True
            elif verdict.action == HOLD:
                waiting[(env.device_id, env.seq)] = verdict
                later.append(env)
            elif verdict.action == REFUSE:
                receipt.refused.append(verdict)
            else:
                receipt.duplicates += verdict.action != "skip"
        pending = later
    for env in pending:
        received.hold(c, env, waiting[(env.device_id, env.seq)].reason)
    receipt.held = len(pending)
    received.fold_in(w, me.device_id, receipt.taken, clock, now_ms)
    return receipt
