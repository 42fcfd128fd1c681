"""What to send, decided before anything is sent: batches, head starts, re-sends. Pure.

The replicator keeps a :class:`Progress` per process (what JetStream acknowledged, where it
stored it, whether the central has been trusted), asks these functions what to publish or
re-send next, and then does the I/O.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sync_core.batch import MAX_BATCH_BYTES
from sync_core.protocol import HelloReply

Span = tuple[int, int]  # an inclusive seq range

# Raw bytes per batch: half the ingest limit leaves room for the msgpack framing.
BATCH_BYTES = MAX_BATCH_BYTES // 2
# The first batch of a head start (published before the hello's answer) is small, so that its
# acknowledgement comes back soon after the link does.
HEAD_START_FIRST = 50


@dataclass(frozen=True, slots=True)
class Placed:
    """Where JetStream stored a batch: its KOP_INGEST stream sequence."""

    first: int
    last: int
    stream_seq: int


@dataclass(slots=True)
class Progress:
    """What this process knows of its uploads; a fresh process starts from the central's word."""

    acked: int = 0  # highest seq JetStream acknowledged, contiguously from the start
    placed: list[Placed] = field(default_factory=list)  # acked, not yet committed centrally
    trusted: bool = False  # a hello in this process answered with the pinned central key
    central_seen: bool = True  # to log the central going away once, not every cycle

    def acknowledged(self, spans: Iterable[Span]) -> None:
        """Advance ``acked`` over the acknowledged spans that continue it, in seq order (a
        head start and the ranges after it complete in any order)."""
        for first, last in sorted(spans):
            if first <= self.acked + 1:
                self.acked = max(self.acked, last)


def cut(
    events: Iterable[tuple[int, bytes]], batch_events: int, first_events: int = 0
) -> Iterator[tuple[list[int], list[bytes]]]:
    """The (seqs, envelope bytes) of each batch: at most ``batch_events`` events and
    :data:`BATCH_BYTES` bytes; the first batch at most ``first_events`` if that is given."""
    seqs: list[int] = []
    items: list[bytes] = []
    size = 0
    limit = min(first_events, batch_events) if first_events > 0 else batch_events
    for seq, data in events:
        if items and (len(items) >= limit or size + len(data) > BATCH_BYTES):
            yield seqs, items
            seqs, items, size = [], [], 0
            limit = batch_events
        seqs.append(seq)
        items.append(bytes(data))
        size += len(data)
    if items:
        yield seqs, items


def head_start(progress: Progress, head: int, events: int) -> Span | None:
    """The range to publish alongside the hello, before its answer: about one
    bandwidth-delay product past what JetStream acknowledged, so a link that just came back
    carries events during the hello's round trip.

    Only once a hello in this process has shown the pinned central key: the first contact
    waits for the hello, which may refuse the central. A head start JetStream already stored
    (its acknowledgement lost with the link) is stored again or de-duplicated by JetStream;
    the central de-duplicates by ``(device_id, seq)``.
    """
    if not progress.trusted or events <= 0 or progress.acked >= head:
        return None
    return progress.acked + 1, min(head, progress.acked + events)


def missing(committed: int, upto: int, held: Iterable[Span]) -> list[Span]:
    """The seq ranges in ``committed+1 .. upto`` the central does not hold."""
    ranges: list[Span] = []
    nxt = committed + 1
    for first, last in sorted(held):
        if first > nxt:
            ranges.append((nxt, min(first - 1, upto)))
        nxt = max(nxt, last + 1)
    if nxt <= upto:
        ranges.append((nxt, upto))
    return [(a, b) for a, b in ranges if a <= b]


def without(span: Span, done: Span) -> list[Span]:
    """``span`` minus ``done`` (both inclusive seq ranges)."""
    pieces = [(span[0], min(span[1], done[0] - 1)), (max(span[0], done[1] + 1), span[1])]
    return [(a, b) for a, b in pieces if a <= b]


def lost(placed: list[Placed], committed: int, ingest_seq: int | None) -> bool:
    """Whether the central processed past the message holding ``committed + 1`` without it."""
    holding = [p for p in placed if p.first <= committed + 1 <= p.last]
    if not holding:
        return True  # sent before the central forgot it (a restored central database)
    if ingest_seq is None:
        return False  # an older central: only the stall timer can tell
    # The latest placement counts: a re-send may still be queued behind other uploads.
    return max(p.stream_seq for p in holding) <= ingest_seq


@dataclass(slots=True)
class StallWatch:
    """When the central last moved: its committed seq for this device, or its ingest position.

    A central that keeps processing other devices' uploads is busy, not losing ours; one where
    neither moves for ``wait_s`` gets a re-send, and the wait doubles after each (up to
    ``max_s``) until the committed seq moves again.
    """

    stall_s: float
    max_s: float
    committed: int = -1
    committed_at: float = 0.0
    floor: int | None = None
    floor_at: float = 0.0
    wait_s: float = 0.0

    def __post_init__(self) -> None:
        self.wait_s = self.stall_s

    def observe(self, committed: int, floor: int | None, now: float) -> None:
        if committed > self.committed:
            self.committed, self.committed_at, self.wait_s = committed, now, self.stall_s
        if floor != self.floor:
            self.floor, self.floor_at = floor, now

    def idle_s(self, now: float) -> float:
        return now - max(self.committed_at, self.floor_at)

    def resent(self, committed: int, now: float, *, lost: bool) -> None:
        self.committed, self.committed_at = committed, now
        if not lost:
            self.wait_s = min(self.wait_s * 2, self.max_s)


@dataclass(frozen=True, slots=True)
class Resend:
    """Ranges to publish again, and why."""

    ranges: list[Span]
    lost: bool  # the central processed past them (else it stood still too long)
    why: str


def plan_resend(
    reply: HelloReply, progress: Progress, watch: StallWatch, now: float
) -> Resend | None:
    """What to re-send after ``reply``, if anything (call only while the central has not
    committed everything JetStream acknowledged)."""
    committed = reply.committed_seq
    gone = lost(progress.placed, committed, reply.ingest_seq)
    idle = watch.idle_s(now)
    if not gone and idle < watch.wait_s:
        return None
    ranges = missing(committed, progress.acked, reply.held)
    return Resend(ranges, gone, "lost" if gone else f"no progress for {idle:.1f} s")


class Backoff:
    """Jittered exponential backoff: ``initial * 2**n`` capped, times a factor in [0.5, 1]."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial, self.cap, self.n = initial, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.initial * 2.0**self.n)
        self.n = min(self.n + 1, 16)
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.n = 0
