"""What ingest decides about one upload, as data: the verdicts on its events and its writes.

The data path of an upload (:mod:`central_projector.ingest.upload`, one transaction): read
what it needs, decide (pure: :mod:`.checks` for the message and each event on its own,
:mod:`.sequence` for the device's chain), then perform the writes in one place. The rules,
per envelope in the order of the upload:

- undecodable → ``undecodable``; oversize → ``oversize``; device/coop not the subject's →
  ``subject_mismatch``; unregistered device → ``unregistered_device`` (kept, re-processed on
  registration); retired device → ``retired_device``; device of another cooperative →
  ``coop_mismatch``; bad signature → ``bad_signature``; unknown type/version →
  ``unknown_type``; invalid payload → ``invalid_payload``; a central-only type from a device
  → ``not_edge_event``; same (device, seq) with another hash → ``equivocation``; a successor
  that does not link → ``broken_chain``.
- same (device, seq) with the same hash → duplicate: counted, no effect.
- ``seq == committed_seq + 1`` and linking → committed, then held successors that link are
  released in order (the first held one that does not link is quarantined ``broken_chain``).
- ``seq > committed_seq + 1`` → held behind a gap, the missing range noted once (released
  when it fills, or applied with flag ``GAP`` after the gap timeout: :mod:`.gaps`, which
  still checks the held events' links to each other); beyond ``committed_seq + 100,000`` →
  ``seq_jump``.
- HLC more than 24 h ahead of receipt → flagged ``CLOCK_SKEW`` (and counted for the device),
  and ordered as of its receipt (:func:`central_projector.record.rows.event_row`).

An upload refusing more than 16 events is quarantined whole as one ``garbage_batch`` record
(:func:`.checks.bounded`); a device over its quarantine budget is not processed at all
(:mod:`.budget`).

A message whose processing fails (not a verdict: an exception) is quarantined as a whole as
``unprocessable`` by the service (at once, or after a few deliveries if the database was
unavailable) and acked.

Facts are never dropped: everything refused is written to quarantine with its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync_core.envelope import Envelope

SKEW_LIMIT_MS = 24 * 3600 * 1000


# --- what was read --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Device:
    """The device's row in the record as the upload's transaction read it."""

    device_id: str
    coop_id: str
    public_key: bytes
    committed_seq: int
    committed_hash: bytes
    retired: bool


@dataclass(frozen=True, slots=True)
class Upload:
    """A message whose subject and batch agree: the device's envelopes, undecoded."""

    coop_id: str
    device_id: str
    events: tuple[bytes, ...]
    data: bytes  # the whole message, quarantined if the device may not upload


@dataclass(frozen=True, slots=True)
class Checked:
    """An event whose bytes, signature and schema are right (the chain is still to check)."""

    env: Envelope
    raw: bytes


# --- verdicts and writes ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Refused:
    """Quarantined with ``reason``: ``data`` is kept, nothing else happens (also a write)."""

    reason: str
    detail: str
    seq: int | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Committed:
    """Committed; ``released``: held successors let through after it, in order; ``broke``: the
    held successor after those that did not link (quarantined and removed)."""

    seq: int
    flags: str
    released: tuple[int, ...] = ()
    broke: Refused | None = None


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Received before with the same hash: no effect."""

    seq: int


@dataclass(frozen=True, slots=True)
class Held:
    """Waits behind a gap; ``gap`` is the missing range noted now (None: known already)."""

    seq: int
    flags: str
    gap: tuple[int, int] | None


Verdict = Committed | Duplicate | Held | Refused


@dataclass(frozen=True, slots=True)
class Insert:
    """A new ``events`` row with its status after the upload."""

    env: Envelope
    status: str
    flags: str


@dataclass(frozen=True, slots=True)
class Release:
    """A row stored held by an earlier upload is committed."""

    seq: int


@dataclass(frozen=True, slots=True)
class Remove:
    """A row stored held by an earlier upload broke the chain: out of the record (its bytes
    go to quarantine by the :class:`Refused` that follows)."""

    seq: int


@dataclass(frozen=True, slots=True)
class Publish:
    """Queue a committed event for its canonical subject (``gap``: applied before a missing
    predecessor arrived)."""

    env: Envelope
    gap: bool = False


@dataclass(frozen=True, slots=True)
class NoteGap:
    """A new open gap: seqs ``from_seq..to_seq`` are missing."""

    from_seq: int
    to_seq: int


Write = Insert | Release | Remove | Publish | NoteGap | Refused


@dataclass(frozen=True, slots=True)
class After:
    """The device's row after the upload (counters are increments)."""

    committed_seq: int
    committed_hash: bytes
    duplicates: int
    skewed: int
    moved: bool  # committed_seq moved: the gaps up to it are filled


@dataclass
class IngestResult:
    """What one upload did."""

    device_id: str | None = None
    committed: int = 0
    duplicates: int = 0
    held: int = 0
    released: int = 0  # events held by earlier uploads that this one let through
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    committed_seq: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything one upload does: a verdict per event and the writes, in order.

    ``after`` is None when the message was refused as a whole (nothing of the device's row
    changes but its quarantine count)."""

    device_id: str | None
    verdicts: tuple[Verdict, ...]
    writes: tuple[Write, ...]
    after: After | None = None

    @property
    def refused(self) -> tuple[Refused, ...]:
        return tuple(w for w in self.writes if isinstance(w, Refused))

    def result(self) -> IngestResult:
        commits = [v for v in self.verdicts if isinstance(v, Committed)]
        released = sum(len(v.released) for v in commits)
        return IngestResult(
            device_id=self.device_id,
            committed=len(commits) + released,
            duplicates=sum(isinstance(v, Duplicate) for v in self.verdicts),
            held=sum(isinstance(v, Held) for v in self.verdicts),
            released=released,
            quarantined=[(r.reason, r.detail) for r in self.refused],
            committed_seq=self.after.committed_seq if self.after else 0,
        )
