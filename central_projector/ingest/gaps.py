"""Gap timeouts, decided: events held behind a gap too old are applied, flagged ``GAP``. Pure.

A gap whose missing events have not arrived within the timeout stops holding up its
device: every event of the device still held is committed with the flag ``GAP`` and
published with the header ``Kop-Flags: GAP``, and the gap is marked timed out. The
device's ``committed_seq`` stays below the gap, so its hello still asks for the missing
events, which commit normally when they come.
"""

from __future__ import annotations

from dataclasses import dataclass

from central_projector.ingest.verdict import Publish
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
class GapTimeouts:
    applied: tuple[Applied, ...]  # in gap order, then seq order
    timed_out: tuple[int, ...]  # gap ids


def time_out(expired: list[ExpiredGap], held: list[HeldEvent]) -> GapTimeouts:
    """Apply the held events of every device with an expired gap (``held`` in seq order)."""
    by_device: dict[str, list[HeldEvent]] = {}
    for row in held:
        by_device.setdefault(row.device_id, []).append(row)
    applied: list[Applied] = []
    for gap in expired:
        for row in by_device.pop(gap.device_id, []):
            flags = " ".join(sorted({*row.flags.split(), "GAP"}))
            applied.append(Applied(row.id, flags, Publish(Envelope.decode(row.envelope), gap=True)))
    return GapTimeouts(tuple(applied), tuple(g.id for g in expired))
