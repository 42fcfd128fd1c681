"""Gap timeouts, decided: events held behind a gap too old are applied, flagged ``GAP``. Pure.

A gap whose missing events have not arrived within the timeout stops holding up its
device: the events of the device still held are committed with the flag ``GAP`` and
published with the header ``Kop-Flags: GAP``, and the gap is marked timed out. The
device's ``committed_seq`` stays below the gap, so its hello still asks for the missing
events, which commit normally when they come.

Only the first held event after a hole goes unchecked (its predecessor is what is
missing): every held event that directly follows another must link to it. One that does
not is quarantined ``broken_chain`` and removed, and the held events after it stay held
behind a new gap at its seq (released by a later timeout, or when the device re-sends it).
"""

from __future__ import annotations

from dataclasses import dataclass

from central_projector.ingest.verdict import NoteGap, Publish, Refused
from sync_core import subjects
from sync_core.envelope import Envelope


@dataclass(frozen=True, slots=True)
class ExpiredGap:
    id: int
    device_id: str


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """An event row still held (``id`` is the row's key)."""

    id: int
    device_id: str
    envelope: bytes
    flags: str


@dataclass(frozen=True, slots=True)
class Applied:
    """A held row now committed with ``flags``, and its outbox item."""

    id: int
    flags: str
    publish: Publish


@dataclass(frozen=True, slots=True)
class Broken:
    """A held row that does not link to the held row before it: removed and quarantined, and
    the seq it leaves empty noted as a new gap."""

    id: int
    device_id: str
    subject: str  # the device's upload subject, as its quarantine record names it
    refused: Refused
    gap: NoteGap


@dataclass(frozen=True, slots=True)
class GapTimeouts:
    applied: tuple[Applied, ...]  # in gap order, then seq order
    timed_out: tuple[int, ...]  # gap ids
    broken: tuple[Broken, ...] = ()


def time_out(expired: list[ExpiredGap], held: list[HeldEvent]) -> GapTimeouts:
    """Apply the held events of every device with an expired gap (``held`` in seq order)."""
    by_device: dict[str, list[HeldEvent]] = {}
    for row in held:
        by_device.setdefault(row.device_id, []).append(row)
    applied: list[Applied] = []
    broken: list[Broken] = []
    for gap in expired:
        prev: Envelope | None = None
        for row in by_device.pop(gap.device_id, []):
            env = Envelope.decode(row.envelope)
            if prev is not None and env.seq == prev.seq + 1 and env.prev_hash != prev.hash:
                detail = f"held seq {env.seq} does not link to held seq {prev.seq}"
                refused = Refused("broken_chain", detail, env.seq, row.envelope)
                subject = subjects.upload(env.coop_id, env.device_id)
                hole = NoteGap(env.seq, env.seq)
                broken.append(Broken(row.id, row.device_id, subject, refused, hole))
                break  # the rest wait behind the seq it leaves empty
            flags = " ".join(sorted({*row.flags.split(), "GAP"}))
            applied.append(Applied(row.id, flags, Publish(env, gap=True)))
            prev = env
    return GapTimeouts(tuple(applied), tuple(g.id for g in expired), tuple(broken))
