"""``kopsync edge repair``: rebuild the rule views from the signed logs, and re-seal.

Repair trusts only what is signed. It checks the whole store (:func:`examine`), refuses if
the device's own log is broken (that needs a backup, not a fold), drops the rows of the
other logs that do not verify (kept in the ``downlink_refused`` meta record as
``tampered_in_store``), replaces every rule view with the fold of what verified, and seals
the store afresh, in one transaction. A downlink that lost rows is read again from the
start at the next sync (receiving is idempotent per issuer and seq), so a deleted central
event comes back. Every repair is noted in the ``repairs`` meta record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_agent.adapters import logs
from edge_agent.adapters.trust import SEAL, VIEWS
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.centralcheck import REFUSED_KEEP, REFUSED_META, Refusal
from edge_agent.app.integrity import BadRow, ViewDiff, examine
from edge_agent.app.syncstate import update_sync
from sync_core.errors import StoreError

REPAIRS_META = "repairs"
REPAIRS_KEEP = 20


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What a repair changed."""

    changed: tuple[ViewDiff, ...]
    dropped: tuple[BadRow, ...]
    reread: tuple[str, ...]  # the signed logs to be read again from their source
    seal_problems: tuple[str, ...]

    @property
    def changed_anything(self) -> bool:
        return bool(self.changed or self.dropped or self.reread or self.seal_problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "views_changed": [
                {"key": d.key, "was": d.stored, "now": d.folded} for d in self.changed
            ],
            "rows_dropped": [b.to_json() for b in self.dropped],
            "reread": list(self.reread),
            "seal_problems": list(self.seal_problems),
        }


def repair(agent: EdgeAgent) -> RepairReport:
    """Rebuild ``agent``'s views from its signed logs (see the module docstring)."""
    found = examine(agent)
    own_bad = [b for b in found.bad_rows if b.table == logs.DEVICE_LOG]
    if not found.chain.ok or own_bad:
        seq = found.chain.first_bad_seq if not found.chain.ok else own_bad[0].seq
        why = found.chain.reason if not found.chain.ok else own_bad[0].reason
        raise StoreError(
            f"the device's own log is broken at seq {seq} ({why}); repair rebuilds views from "
            f"signed logs but cannot mend the log itself: restore {agent.store.path} from a "
            "backup (events the central confirmed can be checked against it)"
        )
    lost = {part for part, _ in found.seal if part in logs.SIGNED_LOGS}
    lost |= {b.table for b in found.bad_rows}
    pins = agent.store.pins()
    drop = [(b.table, b.stream, b.seq) for b in found.bad_rows]
    agent.store.rebuild(found.folded, drop, pins or {})
    _note_dropped(agent, found.bad_rows)
    if logs.DOWNLINK_LOG in lost:
        update_sync(agent, {"downlink_position": 0})
    if pins is None:  # nothing vouches for the pinned key: pin the central's at next hello
        update_sync(agent, {"central_key": None, "issuer": None})
    agent.forget_trust()
    report = RepairReport(
        found.differ,
        found.bad_rows,
        tuple(sorted(lost)),
        tuple(p for part, p in found.seal if part in (SEAL, VIEWS) or part in lost),
    )
    _note_repair(agent, report)
    return report


def _note_dropped(agent: EdgeAgent, dropped: tuple[BadRow, ...]) -> None:
    central = [b for b in dropped if b.table == logs.DOWNLINK_LOG]
    if not central:
        return
    kept = list(agent.store.meta(REFUSED_META) or [])
    kept += [Refusal(0, "tampered_in_store", b.reason, b.seq).to_json() for b in central]
    agent.store.set_meta(REFUSED_META, kept[-REFUSED_KEEP:])


def _note_repair(agent: EdgeAgent, report: RepairReport) -> None:
    kept = list(agent.store.meta(REPAIRS_META) or [])
    kept.append(
        {
            "at_ms": agent.clock(),
            "views_changed": len(report.changed),
            "rows_dropped": len(report.dropped),
            "reread": list(report.reread),
        }
    )
    agent.store.set_meta(REPAIRS_META, kept[-REPAIRS_KEEP:])
