"""The pure ingest decision: verdicts per event and the writes, against an in-memory record."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central_projector.ingest import checks, sequence
from central_projector.ingest.gaps import ExpiredGap, HeldEvent, time_out
from central_projector.ingest.known import Known, Missing, Stored
from central_projector.ingest.verdict import (
    SKEW_LIMIT_MS,
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
)
from central_projector.record.rows import event_row
from sync_core import subjects
from sync_core.batch import encode_batch
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, DeviceKey

COOP, DEVICE = "6401050012", "kasir-1"
NOW = 1_790_000_000_000
KEY = DeviceKey(bytes(range(32)))
N = 12


def _event(seq: int, prev: bytes, *, price: int | None = None, wall: int = NOW - 10_000) -> bytes:
    env = seal(
        KEY,
        event_id=f"00000000-0000-4000-8000-{seq:012d}",
        coop_id=COOP,
        device_id=DEVICE,
        seq=seq,
        hlc=Hlc(wall + seq, 0),
        type="PriceSet",
        version=1,
        aggregate_id="BRS-5",
        payload={"sku": "BRS-5", "unit_price": price if price is not None else 70_000 + seq},
        prev_hash=prev,
    )
    return env.encode()


def _chain(n: int) -> list[bytes]:
    out, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        out.append(_event(seq, prev))
        prev = Envelope.decode(out[-1]).hash
    return out


CHAIN = _chain(N)
# Events a faulty or hostile device could add: a validly signed twin of seq 3 that links
# to seq 2, seq 7 linking to nothing, and one far beyond the chain (an upload scattered wide).
TWIN_3 = _event(3, Envelope.decode(CHAIN[1]).hash, price=1)
UNLINKED_7 = _event(7, b"\x07" * 32)
FAR = _event(400, b"\x09" * 32)
POOL = [*CHAIN, TWIN_3, UNLINKED_7, FAR]


@dataclass
class Record:
    """The test's model of one device in the central record, changed only by decisions."""

    rows: dict[int, Stored] = field(default_factory=dict)
    gaps: list[list[object]] = field(default_factory=list)  # [from, to, status]
    committed_seq: int = 0
    committed_hash: bytes = GENESIS_HASH

    def device(self) -> Device:
        return Device(DEVICE, COOP, KEY.public_key, self.committed_seq, self.committed_hash, False)

    def read(self, want: Missing, known: Known) -> Known:
        rows = {s: r for s, r in self.rows.items() if any(lo <= s <= hi for lo, hi in want.ranges)}
        floors = {s: max((x for x in self.rows if x < s), default=0) for s in want.floors}
        gaps = frozenset(int(g[0]) for g in self.gaps if g[2] == "open")  # type: ignore[call-overload]
        return known.merged(Known(rows, want.ranges, floors, gaps if want.open_gaps else None))

    def everything(self) -> Known:
        gaps = frozenset(int(g[0]) for g in self.gaps if g[2] == "open")  # type: ignore[call-overload]
        return Known(dict(self.rows), ((1, 2**63 - 1),), {}, gaps)

    def apply(self, d: Decision) -> None:
        for w in d.writes:
            if isinstance(w, Insert):
                env = w.env
                stored = Stored(env.seq, env.prev_hash, env.hash, w.status == "held", env.encode())
                assert env.seq not in self.rows, "(device_id, seq) is unique"
                self.rows[env.seq] = stored
            elif isinstance(w, Release):
                assert self.rows[w.seq].held
                self.rows[w.seq] = replace(self.rows[w.seq], held=False)
            elif isinstance(w, Remove):
                del self.rows[w.seq]
            elif isinstance(w, NoteGap):
                self.gaps.append([w.from_seq, w.to_seq, "open"])
        if d.after is not None:
            self.committed_seq, self.committed_hash = d.after.committed_seq, d.after.committed_hash
            if d.after.moved:
                for g in self.gaps:
                    if int(g[1]) <= self.committed_seq:  # type: ignore[call-overload]
                        g[2] = "filled"


def _decide(record: Record, raws: list[bytes], start: Known | None = None) -> Decision:
    """Decide an upload of ``raws``, reading from ``record`` whatever is missing."""
    data = encode_batch(COOP, DEVICE, raws)
    upload = checks.open_upload(subjects.upload(COOP, DEVICE), data)
    assert not isinstance(upload, Decision)
    device = record.device()
    checked = checks.check(upload, device)
    known = start or record.read(sequence.first_read(device, checked), Known())
    for _ in range(200):
        out = sequence.decide(device, checked, known, NOW)
        if isinstance(out, Decision):
            return out
        more = record.read(out, known)
        assert more != known, f"asked again for what it had: {out}"
        known = more
    raise AssertionError("no decision after 200 reads")


def _upload(record: Record, raws: list[bytes]) -> Decision:
    d = _decide(record, raws)
    record.apply(d)
    return d


batches = st.lists(st.lists(st.integers(0, N - 1), min_size=1, max_size=5), max_size=10)


@given(batches)
def test_any_delivery_order_with_duplicates_commits_the_chain_once(order: list[list[int]]) -> None:
    """Batches in any order, repeated or shuffled inside, commit each event of the chain exactly
    once, keep every seq up to committed_seq committed, and leave no gap open at the end."""
    record = Record()
    committed: list[int] = []
    for batch in [*order, list(range(N))]:
        d = _upload(record, [CHAIN[i] for i in batch])
        assert not d.refused
        for v in d.verdicts:
            if isinstance(v, Committed):
                committed += [v.seq, *v.released]
        assert all(not record.rows[s].held for s in range(1, record.committed_seq + 1))
        assert all(s > record.committed_seq for s, r in record.rows.items() if r.held)
    assert sorted(committed) == list(range(1, N + 1))
    assert record.committed_seq == N
    assert all(g[2] == "filled" for g in record.gaps)


@given(batches.filter(bool), st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=6))
def test_what_was_read_first_never_changes_the_decision(
    before: list[list[int]], batch: list[int]
) -> None:
    """Deciding from nothing read, from the first read, or from the whole record gives the same
    decision, whatever the record holds (held runs, gaps, removed rows, scattered uploads)."""
    record = Record()
    for b in before:
        _upload(record, [POOL[i] for i in b])
    raws = [POOL[i] for i in batch]
    first = _decide(record, raws)
    assert _decide(record, raws, Known()) == first
    assert _decide(record, raws, record.everything()) == first


@given(st.lists(st.integers(0, N - 1), min_size=1, max_size=8))
def test_a_second_delivery_has_no_effect(batch: list[int]) -> None:
    """An upload delivered again, after the first was recorded, is all duplicates or held again."""
    record = Record()
    _upload(record, [CHAIN[i] for i in batch])
    again = _decide(record, [CHAIN[i] for i in batch])
    assert all(isinstance(v, Duplicate) for v in again.verdicts)
    assert again.writes == ()


def test_a_gap_holds_successors_notes_the_range_once_and_releases_them() -> None:
    """Events after a missing seq are held behind one noted gap and released when it fills."""
    record = Record()
    _upload(record, CHAIN[:2])
    held = _upload(record, CHAIN[4:6])
    assert held.verdicts == (Held(5, "", (3, 4)), Held(6, "", None))
    assert _upload(record, CHAIN[6:7]).verdicts == (Held(7, "", None),)
    filled = _upload(record, CHAIN[2:4])
    assert filled.verdicts == (Committed(3, ""), Committed(4, "", released=(5, 6, 7)))
    assert [w for w in filled.writes if isinstance(w, Release)] == [Release(5), Release(6),
                                                                     Release(7)]  # fmt: skip
    assert filled.result().committed == 5 and filled.result().released == 3
    assert record.gaps == [[3, 4, "filled"]]


def test_an_upload_in_reverse_order_commits_its_own_held_events_directly() -> None:
    """Events of one upload held then released by a later one of it are inserted committed."""
    d = _upload(Record(), list(reversed(CHAIN[:3])))
    assert [(w.env.seq, w.status) for w in d.writes if isinstance(w, Insert)] == [
        (3, "committed"),
        (2, "committed"),
        (1, "committed"),
    ]
    assert [w.env.seq for w in d.writes if isinstance(w, Publish)] == [1, 2, 3]
    assert [w for w in d.writes if isinstance(w, NoteGap)] == [NoteGap(1, 2)]


def test_a_held_successor_that_does_not_link_is_quarantined_and_removed() -> None:
    """When a commit reaches a held event that does not link, that one goes to quarantine."""
    record = Record()
    _upload(record, [CHAIN[0], UNLINKED_7, CHAIN[5]])
    d = _upload(record, CHAIN[1:5])
    last = d.verdicts[-1]
    assert isinstance(last, Committed) and last.released == (6,)
    assert last.broke is not None and (last.broke.reason, last.broke.seq) == ("broken_chain", 7)
    assert Remove(7) in d.writes and 7 not in record.rows
    assert _upload(record, CHAIN[6:7]).verdicts == (Committed(7, ""),)


@pytest.mark.parametrize(
    ("raws", "reason"),
    [
        ([TWIN_3], "equivocation"),
        ([_event(4, b"\x01" * 32)], "broken_chain"),
        ([b"\xc1garbage"], "undecodable"),
    ],
)
def test_bad_events_are_refused_with_their_reason(raws: list[bytes], reason: str) -> None:
    """An equivocating twin, an event that does not link and garbage are each refused."""
    record = Record()
    _upload(record, CHAIN[:3])
    d = _upload(record, raws)
    assert [(r.reason, r.data) for r in d.refused] == [(reason, raws[0])]


def test_a_commit_that_does_not_link_to_its_held_successor_is_refused() -> None:
    """The event that would commit is refused when the held one after it does not link to it."""
    record = Record()
    _upload(record, [CHAIN[0], _event(3, b"\x03" * 32)])
    d = _upload(record, [CHAIN[1]])
    assert d.verdicts[0] == Refused(
        "broken_chain", "seq 2 does not link to the seq after it", 2, CHAIN[1]
    )


def test_clock_skew_is_flagged_and_counted() -> None:
    """An event stamped over 24 h after its receipt commits, flagged CLOCK_SKEW and counted."""
    raw = _event(1, GENESIS_HASH, wall=NOW + SKEW_LIMIT_MS + 5)
    d = _upload(Record(), [raw])
    assert d.verdicts == (Committed(1, "CLOCK_SKEW"),)
    assert d.after is not None and d.after.skewed == 1


@pytest.mark.parametrize(
    ("subject", "data", "reason"),
    [
        ("kop.up.x", encode_batch(COOP, DEVICE, CHAIN[:1]), "subject_mismatch"),
        (subjects.upload(COOP, DEVICE), b"not zstd", "undecodable"),
        (subjects.upload(COOP, DEVICE), encode_batch(COOP, "kasir-2", CHAIN[:1]),
         "subject_mismatch"),
    ],
)  # fmt: skip
def test_a_message_refused_as_a_whole(subject: str, data: bytes, reason: str) -> None:
    """A wrong subject or an undecodable batch is one refusal holding the whole message."""
    d = checks.open_upload(subject, data)
    assert isinstance(d, Decision) and d.after is None
    assert [(r.reason, r.seq, r.data) for r in d.refused] == [(reason, None, data)]


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        (None, "unregistered_device"),
        (Device(DEVICE, COOP, KEY.public_key, 0, GENESIS_HASH, True), "retired_device"),
        (Device(DEVICE, "6472021005", KEY.public_key, 0, GENESIS_HASH, False), "coop_mismatch"),
    ],
)
def test_a_device_that_may_not_upload(device: Device | None, reason: str) -> None:
    """An unregistered, retired or other cooperative's device has its whole message refused."""
    data = encode_batch(COOP, DEVICE, CHAIN[:2])
    upload = checks.open_upload(subjects.upload(COOP, DEVICE), data)
    assert not isinstance(upload, Decision)
    d = checks.admit(upload, device)
    assert isinstance(d, Decision)
    assert [(r.reason, r.data) for r in d.refused] == [(reason, data)]


def test_a_gap_timeout_applies_each_device_held_events_once_flagged_gap() -> None:
    """Every held event of a device with an expired gap is applied once, flagged GAP, in order."""
    held = [
        HeldEvent(11, DEVICE, CHAIN[4], ""),
        HeldEvent(12, DEVICE, CHAIN[5], "CLOCK_SKEW"),
        HeldEvent(20, "kasir-2", CHAIN[0], ""),
    ]
    plan = time_out([ExpiredGap(1, DEVICE), ExpiredGap(2, DEVICE)], held)
    assert [(a.id, a.flags, a.publish.gap) for a in plan.applied] == [
        (11, "GAP", True),
        (12, "CLOCK_SKEW GAP", True),
    ]
    assert plan.timed_out == (1, 2)


def test_held_events_after_a_timed_out_gap_must_link_to_each_other() -> None:
    """Only the first held event after the hole goes unchecked: a held event that directly
    follows another but does not link to it is quarantined broken_chain and removed, a gap is
    noted at its seq, and the held events after it stay held."""
    forged_6 = _event(6, b"\x66" * 32, price=1)
    held = [
        HeldEvent(11, DEVICE, CHAIN[4], ""),
        HeldEvent(12, DEVICE, forged_6, ""),
        HeldEvent(13, DEVICE, CHAIN[6], ""),
    ]
    plan = time_out([ExpiredGap(1, DEVICE)], held)
    assert [a.id for a in plan.applied] == [11]
    [broken] = plan.broken
    assert (broken.id, broken.refused.reason, broken.refused.seq) == (12, "broken_chain", 6)
    assert (broken.gap.from_seq, broken.gap.to_seq, broken.refused.data) == (6, 6, forged_6)
    assert broken.subject == subjects.upload(COOP, DEVICE)
    assert plan.timed_out == (1,)


def test_a_seq_far_beyond_the_committed_one_is_refused_not_held() -> None:
    """A validly signed event 100,001 seqs ahead (or at 2**62) is quarantined seq_jump; one
    100,000 ahead is held as before."""
    record = Record()
    far, farther = _event(100_000, b"\x01" * 32), _event(2**62, b"\x02" * 32, price=1)
    d = _upload(record, [_event(100_001, b"\x03" * 32), farther, far])
    assert [getattr(v, "reason", type(v).__name__) for v in d.verdicts] == [
        "seq_jump",
        "seq_jump",
        "Held",
    ]
    assert d.refused[1].detail == f"seq {2**62} is more than 100,000 beyond the committed seq 0"


def test_a_skewed_event_is_ordered_as_of_its_receipt() -> None:
    """An event flagged CLOCK_SKEW keeps its signed clock in its envelope, but its row orders
    it at its receipt (counter 0); an unflagged event's row keeps its clock."""
    skewed = Envelope.decode(_event(1, GENESIS_HASH, wall=NOW + 100 * 365 * 86_400_000))
    row = event_row(skewed, "committed", "CLOCK_SKEW", NOW)
    assert (row["hlc_wall"], row["hlc_counter"]) == (NOW, 0)
    assert Envelope.decode(row["envelope"]).hlc == skewed.hlc
    honest = Envelope.decode(CHAIN[0])
    row = event_row(honest, "committed", "", NOW)
    assert (row["hlc_wall"], row["hlc_counter"]) == (honest.hlc.wall, honest.hlc.counter)


PURE = ("checks", "gaps", "known", "sequence", "verdict")


@pytest.mark.parametrize("name", PURE)
def test_the_ingest_decision_imports_no_io(name: str) -> None:
    """The deciding modules import no database, NATS or asyncio, and of ingest only each other."""
    path = Path(checks.__file__).with_name(f"{name}.py")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] not in {"sqlalchemy", "nats", "asyncio", "sqlite3"}, module
            if module.startswith("central_projector."):
                assert module.removeprefix("central_projector.ingest.") in PURE, module
