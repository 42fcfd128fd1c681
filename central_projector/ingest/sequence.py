"""The device's chain through one upload: commit, duplicate, hold, release, note gaps. Pure.

:func:`decide` answers from what was read (:class:`~central_projector.ingest.known.Known`);
when it needs a row, a floor or the open gaps it was not given, it says what is
:class:`~central_projector.ingest.known.Missing` instead, and the caller reads that and asks
again (an upload within the range :func:`first_read` names needs no second read).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

from central_projector.ingest.known import Known, Missing, Stored
from central_projector.ingest.verdict import (
    SKEW_LIMIT_MS,
    After,
    Checked,
    Committed,
    Decision,
    Device,
    Duplicate,
    Held,
    Insert,
    NoteGap,
    Publish,
    Refused,
    Release,
    Remove,
    Verdict,
    Write,
)
from sync_core.envelope import Envelope

RUN_PAGE = 512  # rows asked for at once when a commit walks past what was read
# A seq further than this beyond the committed one is refused, not held: no device has that
# many events in flight (it sends from its committed seq on, a few batches at a time), and
# held far enough ahead an event would wait for a gap no device can ever fill.
MAX_SEQ_JUMP = 100_000


def first_read(device: Device, checked: tuple[Checked | Refused, ...]) -> Missing:
    """What to read before deciding: the rows in the upload's seq range and the one after
    it (each seq and its successor, for an upload scattered over a wide range), the highest
    stored seq below it and the open gaps if anything may be held."""
    seqs = sorted({c.env.seq for c in checked if isinstance(c, Checked)})
    if not seqs:
        return Missing()
    lo, hi = seqs[0], seqs[-1] + 1
    scattered = hi - lo > 10 * len(checked) + 10
    ranges = tuple((s, s + 1) for s in seqs) if scattered else ((lo, hi),)
    beyond = device.committed_seq + 1
    return Missing(ranges, (lo,) if lo > beyond else (), open_gaps=seqs[-1] > beyond)


def decide(
    device: Device, checked: tuple[Checked | Refused, ...], known: Known, now_ms: int
) -> Decision | Missing:
    """The verdict on every event and the writes, or what must be read first."""
    seq = _Sequence(device, known, now_ms)
    try:
        for item in checked:
            seq.verdicts.append(seq.refuse(item) if isinstance(item, Refused) else seq.take(item))
    except _Need as need:
        return need.missing
    return seq.decision(device)


class _Need(Exception):
    def __init__(self, missing: Missing) -> None:
        self.missing = missing


@dataclass(slots=True)
class _Row:
    """A row of the device as this upload sees it (stored, or this upload's own)."""

    seq: int
    prev_hash: bytes
    hash: bytes
    held: bool
    envelope: bytes
    env: Envelope | None = None  # this upload's own: its Insert is writes[insert_at]
    insert_at: int = -1

    @classmethod
    def of(cls, s: Stored) -> _Row:
        return cls(s.seq, s.prev_hash, s.hash, s.held, s.envelope)


class _Sequence:
    """The device's chain as the upload goes through it, event by event."""

    def __init__(self, device: Device, known: Known, now_ms: int) -> None:
        self.known = known
        self.now_ms = now_ms
        self.committed_seq = device.committed_seq
        self.committed_hash = device.committed_hash
        self.rows: dict[int, _Row | None] = {}  # looked at so far (None: absent)
        self.own: list[int] = []  # seqs this upload inserts, sorted
        self.removed: set[int] = set()  # stored rows this upload removes
        self.open_gaps: set[int] | None = None
        self.writes: list[Write | None] = []  # None: an own insert taken back
        self.verdicts: list[Verdict] = []
        self.duplicates = self.skewed = 0

    def decision(self, device: Device) -> Decision:
        after = After(
            self.committed_seq,
            self.committed_hash,
            self.duplicates,
            self.skewed,
            moved=self.committed_seq != device.committed_seq,
        )
        writes = tuple(w for w in self.writes if w is not None)
        return Decision(device.device_id, tuple(self.verdicts), writes, after)

    def refuse(self, refused: Refused) -> Refused:
        self.writes.append(refused)
        return refused

    def row(self, seq: int, ahead: int = 1) -> _Row | None:
        if seq not in self.rows:
            if not self.known.covers(seq):
                raise _Need(Missing(((seq, seq + ahead),)))
            stored = self.known.rows.get(seq)
            self.rows[seq] = _Row.of(stored) if stored is not None else None
        return self.rows[seq]

    def take(self, checked: Checked) -> Verdict:
        env, raw = checked.env, checked.raw
        if env.seq > self.committed_seq + MAX_SEQ_JUMP:
            detail = (
                f"seq {env.seq} is more than {MAX_SEQ_JUMP:,} beyond the committed seq "
                f"{self.committed_seq}"
            )
            return self.refuse(Refused("seq_jump", detail, env.seq, raw))
        existing = self.row(env.seq)
        if existing is not None:
            if existing.hash == env.hash:
                self.duplicates += 1
                return Duplicate(env.seq)
            detail = f"seq {env.seq} was already received with other content"
            return self.refuse(Refused("equivocation", detail, env.seq, raw))
        flags = ""
        if env.hlc.wall > self.now_ms + SKEW_LIMIT_MS:
            flags = "CLOCK_SKEW"
            self.skewed += 1  # counted even if the chain check below refuses it
        if env.seq != self.committed_seq + 1:
            self._insert(env, flags, held=True)
            return Held(env.seq, flags, self._note_gap(env.seq))
        if env.prev_hash != self.committed_hash:
            detail = f"seq {env.seq} does not link to seq {self.committed_seq}"
            return self.refuse(Refused("broken_chain", detail, env.seq, raw))
        succ = self.row(env.seq + 1)
        if succ is not None and succ.prev_hash != env.hash:
            detail = f"seq {env.seq} does not link to the seq after it"
            return self.refuse(Refused("broken_chain", detail, env.seq, raw))
        row = self._insert(env, flags, held=False)
        self.committed_seq, self.committed_hash = env.seq, row.hash
        released, broke = self._advance()
        return Committed(env.seq, flags, released, broke)

    def _insert(self, env: Envelope, flags: str, *, held: bool) -> _Row:
        at = len(self.writes)
        row = _Row(env.seq, env.prev_hash, env.hash, held, env.encode(), env, at)
        self.rows[env.seq] = row
        bisect.insort(self.own, env.seq)
        self.writes.append(Insert(env, "held" if held else "committed", flags))
        if not held:
            self.writes.append(Publish(env))
        return row

    def _advance(self) -> tuple[tuple[int, ...], Refused | None]:
        """Move committed_seq over every successor already present, releasing held ones."""
        released: list[int] = []
        while (row := self.row(self.committed_seq + 1, max(RUN_PAGE, len(released)))) is not None:
            if row.prev_hash != self.committed_hash:
                if not row.held:
                    break
                self._remove(row)
                detail = f"held seq {row.seq} does not link to seq {self.committed_seq}"
                return tuple(released), self.refuse(
                    Refused("broken_chain", detail, row.seq, row.envelope)
                )
            if row.held:
                row.held = False
                if row.env is not None:
                    self._commit_own(row)
                else:
                    self.writes.append(Release(row.seq))
                self.writes.append(Publish(row.env or Envelope.decode(row.envelope)))
                released.append(row.seq)
            self.committed_seq, self.committed_hash = row.seq, row.hash
        return tuple(released), None

    def _commit_own(self, row: _Row) -> None:
        """This upload's own held row is inserted committed instead."""
        insert = self.writes[row.insert_at]
        assert isinstance(insert, Insert)
        self.writes[row.insert_at] = replace(insert, status="committed")

    def _remove(self, row: _Row) -> None:
        self.rows[row.seq] = None
        if row.env is not None:
            self.writes[row.insert_at] = None
            self.own.remove(row.seq)
        else:
            self.removed.add(row.seq)
            self.writes.append(Remove(row.seq))

    def _note_gap(self, seq: int) -> tuple[int, int] | None:
        """Note the missing range just before a held ``seq``, unless known already."""
        start = max(self._below(seq), self.committed_seq) + 1
        if start > seq - 1:
            return None
        if self.open_gaps is None:
            if self.known.open_gaps is None:
                raise _Need(Missing(open_gaps=True))
            self.open_gaps = set(self.known.open_gaps)
        if start in self.open_gaps:
            return None
        self.open_gaps.add(start)
        self.writes.append(NoteGap(start, seq - 1))
        return start, seq - 1

    def _below(self, seq: int) -> int:
        """The highest seq below ``seq`` in the record with this upload's writes so far (any
        value up to committed_seq stands for "none above committed_seq")."""
        i = bisect.bisect_left(self.own, seq)
        own = self.own[i - 1] if i else 0
        return max(own, self._stored_below(seq))

    def _stored_below(self, seq: int) -> int:
        known = self.known
        while seq - 1 > self.committed_seq:
            r = known.row_below(seq)
            u = known.uncovered_below(seq, r)
            if u is None or u <= self.committed_seq:
                found = r  # nothing stored between r and seq
            else:
                if u + 1 not in known.floors:
                    raise _Need(Missing(floors=(u + 1,)))
                found = known.floors[u + 1]  # >= r: the highest stored up to u
            if found not in self.removed:
                return found
            seq = found
        return 0
