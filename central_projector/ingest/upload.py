"""One upload in the caller's transaction: read what it needs, decide (pure), write.

The rules are in :mod:`central_projector.ingest.verdict`; deciding is
:mod:`central_projector.ingest.checks` and :mod:`central_projector.ingest.sequence`. Here
are only the record's reads and writes, each in one place. The caller's transaction holds
the upload's effects and its ``(device_id, seq)`` rows together.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from central_projector.ingest import checks, sequence
from central_projector.ingest.gaps import ExpiredGap, HeldEvent, time_out
from central_projector.ingest.known import Known, Missing, Stored
from central_projector.ingest.verdict import (
    Decision,
    Device,
    IngestResult,
    Insert,
    NoteGap,
    Publish,
    Refused,
    Release,
    Remove,
)
from central_projector.record.rows import canonical_item, event_row
from central_projector.record.tables import devices, events, gaps, outbox, quarantine
from sync_core import subjects
from sync_core.errors import InvalidId, StoreError

MAX_SEQ = 2**63 - 1  # the column's range: a read past it asks for nothing more


def process_upload(
    conn: sa.Connection, subject: str, data: bytes, now_ms: int, *, lock: bool
) -> IngestResult:
    """Verify and record one upload message inside the caller's transaction."""
    decision = _decide(conn, subject, data, now_ms, lock=lock)
    _write(conn, decision, subject, now_ms)
    return decision.result()


def quarantine_message(
    conn: sa.Connection, subject: str, data: bytes, reason: str, detail: str, now_ms: int
) -> None:
    """Quarantine a whole message ingest did not process (``unprocessable``, ``over_budget``)."""
    try:
        device_id: str | None = subjects.parse_upload(subject).device_id
    except InvalidId:
        device_id = None
    _write(conn, checks.whole(device_id, reason, detail, data), subject, now_ms)


def _decide(conn: sa.Connection, subject: str, data: bytes, now_ms: int, *, lock: bool) -> Decision:
    upload = checks.open_upload(subject, data)
    if isinstance(upload, Decision):
        return upload
    device = checks.admit(upload, _read_device(conn, upload.device_id, lock=lock))
    if isinstance(device, Decision):
        return device
    checked = checks.check(upload, device)
    refused = tuple(c for c in checked if isinstance(c, Refused))
    if len(refused) > checks.MAX_REFUSED_EVENTS:  # garbage already: no need to read anything
        return checks.bounded(Decision(device.device_id, refused, refused), upload)
    known = _read(conn, device.device_id, sequence.first_read(device, checked), Known())
    while isinstance(out := sequence.decide(device, checked, known, now_ms), Missing):
        more = _read(conn, device.device_id, out, known)
        if more == known:
            raise StoreError(f"ingest of {subject} asked for what it had read: {out}")
        known = more
    return checks.bounded(out, upload)


# --- reads --------------------------------------------------------------------------------------
def _read_device(conn: sa.Connection, device_id: str, *, lock: bool) -> Device | None:
    q = sa.select(devices).where(devices.c.device_id == device_id)
    row = conn.execute(q.with_for_update() if lock else q).mappings().first()
    if row is None:
        return None
    return Device(
        row["device_id"],
        row["coop_id"],
        row["public_key"],
        int(row["committed_seq"]),
        row["committed_hash"],
        bool(row["retired"]),
    )


_ROW_COLUMNS = (events.c.seq, events.c.prev_hash, events.c.hash, events.c.status, events.c.envelope)


def _read(conn: sa.Connection, device_id: str, want: Missing, known: Known) -> Known:
    """``known`` with what ``want`` names read from the record."""
    ranges = tuple((lo, min(hi, MAX_SEQ)) for lo, hi in want.ranges if lo <= MAX_SEQ)
    rows: dict[int, Stored] = {}
    if ranges:
        where = sa.or_(*(events.c.seq.between(lo, hi) for lo, hi in ranges))
        q = sa.select(*_ROW_COLUMNS).where(events.c.device_id == device_id, where)
        for r in conn.execute(q):
            rows[int(r[0])] = Stored(int(r[0]), r[1], r[2], r[3] == "held", r[4])
    floors = {}
    for s in want.floors:
        below = conn.execute(
            sa.select(sa.func.max(events.c.seq)).where(
                events.c.device_id == device_id, events.c.seq < s
            )
        ).scalar()
        floors[s] = int(below or 0)
    open_gaps = None
    if want.open_gaps:
        open_gaps = frozenset(
            int(r[0])
            for r in conn.execute(
                sa.select(gaps.c.from_seq).where(
                    gaps.c.device_id == device_id, gaps.c.status == "open"
                )
            )
        )
    return known.merged(Known(rows, ranges, floors, open_gaps))


# --- writes -------------------------------------------------------------------------------------
def _write(conn: sa.Connection, d: Decision, subject: str, now_ms: int) -> None:
    """Every write of the decision, in its order within each table."""
    removed: list[int] = []
    inserted: list[dict[str, Any]] = []
    released: list[dict[str, Any]] = []
    noted: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    for w in d.writes:
        if isinstance(w, Insert):
            inserted.append(event_row(w.env, w.status, w.flags, now_ms))
        elif isinstance(w, Publish):
            queued.append(canonical_item(w.env, gap=w.gap))
        elif isinstance(w, Refused):
            queued.append(_quarantine(conn, w, d.device_id, subject, now_ms))
        elif isinstance(w, Release):
            released.append({"s": w.seq})
        elif isinstance(w, Remove):
            removed.append(w.seq)
        elif isinstance(w, NoteGap):
            noted.append({"device_id": d.device_id, "from_seq": w.from_seq, "to_seq": w.to_seq,
                          "detected_at": now_ms, "status": "open"})  # fmt: skip
    of_device = events.c.device_id == d.device_id
    if removed:  # before the inserts: a removed seq may come again in the same upload
        conn.execute(sa.delete(events).where(of_device, events.c.seq.in_(removed)))
    if inserted:
        conn.execute(sa.insert(events), inserted)
    if released:
        update = sa.update(events).where(of_device, events.c.seq == sa.bindparam("s"))
        conn.execute(update.values(status="committed"), released)
    if noted:
        conn.execute(sa.insert(gaps), noted)
    if queued:
        conn.execute(sa.insert(outbox), queued)
    _write_device(conn, d, now_ms)


def _write_device(conn: sa.Connection, d: Decision, now_ms: int) -> None:
    if d.device_id is None:
        return
    a, refused = d.after, len(d.refused)
    if a is None:
        if refused:  # counted for whole-message refusals too (no row: nothing to count)
            conn.execute(
                sa.update(devices)
                .where(devices.c.device_id == d.device_id)
                .values(quarantined=devices.c.quarantined + refused)
            )
        return
    if a.moved:
        conn.execute(
            sa.update(gaps)
            .where(
                gaps.c.device_id == d.device_id,
                gaps.c.to_seq <= a.committed_seq,
                gaps.c.status != "filled",
            )
            .values(status="filled", closed_at=now_ms)
        )
    conn.execute(
        sa.update(devices)
        .where(devices.c.device_id == d.device_id)
        .values(
            committed_seq=a.committed_seq,
            committed_hash=a.committed_hash,
            last_seen=now_ms,
            duplicates=devices.c.duplicates + a.duplicates,
            clock_skew=devices.c.clock_skew + a.skewed,
            quarantined=devices.c.quarantined + refused,
        )
    )


def _quarantine(
    conn: sa.Connection, r: Refused, device_id: str | None, subject: str, now_ms: int
) -> dict[str, Any]:
    """Write the quarantine row; return its outbox item (its id names the message)."""
    qid = conn.execute(
        sa.insert(quarantine).values(
            received_at=now_ms,
            subject=subject[:255],
            reason=r.reason,
            detail=r.detail,
            device_id=device_id,
            seq=r.seq,
            data=r.data,
        )
    ).inserted_primary_key
    headers = {"Kop-Reason": r.reason, "Kop-Detail": r.detail[:500], "Kop-Subject": subject[:255]}
    return {
        "subject": subjects.quarantine(r.reason),
        "data": r.data,
        "msg_id": f"q:{qid[0] if qid else now_ms}",
        "headers": json.dumps(headers),
    }


# --- gap timeouts -------------------------------------------------------------------------------
def release_expired_gaps(conn: sa.Connection, now_ms: int, timeout_ms: int) -> int:
    """Apply events held behind gaps older than the timeout, flagged GAP; return how many."""
    expired = [
        ExpiredGap(int(r[0]), r[1])
        for r in conn.execute(
            sa.select(gaps.c.id, gaps.c.device_id)
            .where(gaps.c.status == "open", gaps.c.detected_at <= now_ms - timeout_ms)
            .order_by(gaps.c.id)
        )
    ]
    if not expired:
        return 0
    held = [
        HeldEvent(int(r[0]), r[1], r[2], r[3])
        for r in conn.execute(
            sa.select(events.c.id, events.c.device_id, events.c.envelope, events.c.flags)
            .where(
                events.c.device_id.in_({g.device_id for g in expired}),
                events.c.status == "held",
            )
            .order_by(events.c.device_id, events.c.seq)
        )
    ]
    plan = time_out(expired, held)
    for b in plan.broken:
        conn.execute(sa.delete(events).where(events.c.id == b.id))
        conn.execute(
            sa.insert(outbox), [_quarantine(conn, b.refused, b.device_id, b.subject, now_ms)]
        )
        conn.execute(sa.insert(gaps).values(device_id=b.device_id, from_seq=b.gap.from_seq,
                     to_seq=b.gap.to_seq, detected_at=now_ms, status="open"))  # fmt: skip
        conn.execute(
            sa.update(devices)
            .where(devices.c.device_id == b.device_id)
            .values(quarantined=devices.c.quarantined + 1)
        )
    if plan.applied:
        conn.execute(
            sa.update(events)
            .where(events.c.id == sa.bindparam("row_id"))
            .values(status="committed", flags=sa.bindparam("new_flags")),
            [{"row_id": a.id, "new_flags": a.flags} for a in plan.applied],
        )
        conn.execute(
            sa.insert(outbox), [canonical_item(a.publish.env, gap=True) for a in plan.applied]
        )
    conn.execute(
        sa.update(gaps)
        .where(gaps.c.id.in_(plan.timed_out))
        .values(status="timed_out", closed_at=now_ms)
    )
    return len(plan.applied)
