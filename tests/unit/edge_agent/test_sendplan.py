"""The replicator's pure planning: batches, head starts, missing ranges, re-send decisions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.app.sendplan import (
    BATCH_BYTES,
    Placed,
    Progress,
    StallWatch,
    cut,
    head_start,
    missing,
    plan_resend,
    without,
)
from sync_core.hlc import Hlc
from sync_core.protocol import HelloReply

sizes = st.lists(st.integers(1, BATCH_BYTES // 3), max_size=60)
spans = st.tuples(st.integers(1, 200), st.integers(0, 40)).map(lambda p: (p[0], p[0] + p[1]))


def reply(
    committed: int, held: tuple[tuple[int, int], ...] = (), ingest: int | None = None
) -> HelloReply:
    """A registered device's hello reply."""
    return HelloReply(True, committed, held, Hlc(1, 0), bytes(32), "central", ingest)


@given(sizes, st.integers(1, 20), st.integers(0, 25))
def test_batches_keep_every_event_in_order_within_their_limits(
    lengths: list[int], batch_events: int, first_events: int
) -> None:
    """Batches hold every event once, in order, none above the event or byte limit, the first
    none above first_events."""
    events = [(seq, bytes(n)) for seq, n in enumerate(lengths, start=1)]
    batches = list(cut(events, batch_events, first_events))
    assert [s for seqs, _ in batches for s in seqs] == [s for s, _ in events]
    for i, (seqs, items) in enumerate(batches):
        limit = min(first_events, batch_events) if i == 0 and first_events else batch_events
        assert len(items) <= limit
        assert len(items) == 1 or sum(map(len, items)) <= BATCH_BYTES
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@given(st.integers(0, 100), st.integers(0, 200), st.lists(spans, max_size=6))
def test_missing_is_exactly_what_the_central_does_not_hold(
    committed: int, upto: int, held: list[tuple[int, int]]
) -> None:
    """The missing ranges cover every seq after committed up to upto that no held range holds."""
    got = missing(committed, upto, held)
    covered = {s for a, b in got for s in range(a, b + 1)}
    holds = {s for a, b in held for s in range(a, b + 1)}
    assert covered == set(range(committed + 1, upto + 1)) - holds
    assert all(a <= b for a, b in got) and got == sorted(got)


@given(spans, spans)
def test_without_removes_exactly_the_done_range(
    span: tuple[int, int], done: tuple[int, int]
) -> None:
    """span minus done holds the seqs of span outside done."""
    seqs = {s for a, b in without(span, done) for s in range(a, b + 1)}
    assert seqs == set(range(span[0], span[1] + 1)) - set(range(done[0], done[1] + 1))


@given(st.lists(spans, max_size=8), st.integers(0, 50))
def test_acked_is_the_contiguous_acknowledged_prefix(
    done: list[tuple[int, int]], start: int
) -> None:
    """Acknowledgements arriving in any order advance acked exactly over the contiguous prefix."""
    progress = Progress(acked=start)
    progress.acknowledged(done)
    have = set(range(1, start + 1)) | {s for a, b in done for s in range(a, b + 1)}
    expected = start
    while expected + 1 in have:
        expected += 1
    assert progress.acked == expected


def test_a_head_start_needs_a_trusted_central_and_something_to_send() -> None:
    """No head start before a trusted hello or with nothing new; else one window past acked."""
    assert head_start(Progress(acked=10), 100, 50) is None
    assert head_start(Progress(acked=100, trusted=True), 100, 50) is None
    assert head_start(Progress(acked=10, trusted=True), 100, 0) is None
    assert head_start(Progress(acked=10, trusted=True), 100, 50) == (11, 60)
    assert head_start(Progress(acked=10, trusted=True), 30, 50) == (11, 30)


def test_a_batch_the_central_processed_past_is_resent_at_once() -> None:
    """When ingest_seq has passed the batch holding committed+1, the gap is re-sent as lost."""
    progress = Progress(acked=30, placed=[Placed(11, 20, 5), Placed(21, 30, 6)])
    watch = StallWatch(10.0, 120.0)
    watch.observe(10, 5, now=100.0)
    plan = plan_resend(reply(10, ((21, 30),), ingest=5), progress, watch, now=100.0)
    assert plan is not None and plan.lost and plan.ranges == [(11, 20)]


def test_a_busy_central_is_waited_for_until_it_stalls() -> None:
    """Below ingest_seq nothing is lost: no re-send until neither figure moves for the stall
    time, and that time doubles after each re-send."""
    progress = Progress(acked=20, placed=[Placed(11, 20, 9)])
    watch = StallWatch(10.0, 15.0)
    watch.observe(10, 4, now=0.0)
    assert plan_resend(reply(10, ingest=4), progress, watch, now=9.0) is None
    watch.observe(10, 6, now=9.0)  # the central processed other uploads: busy, not stalled
    assert plan_resend(reply(10, ingest=6), progress, watch, now=18.0) is None
    plan = plan_resend(reply(10, ingest=6), progress, watch, now=19.5)
    assert plan is not None and not plan.lost and plan.ranges == [(11, 20)]
    watch.resent(10, 19.5, lost=False)
    assert watch.wait_s == 15.0  # doubled, capped
    watch.observe(11, 6, now=20.0)
    assert watch.wait_s == 10.0  # progress resets it
