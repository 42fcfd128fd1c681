"""Central ingest: verify, de-duplicate, commit, hold or quarantine one upload.

Rules (docs/PROTOCOL.md, BRIEF §3), applied per envelope in seq order, all in
the caller's transaction:

- undecodable → ``undecodable``; oversize → ``oversize``; device/coop not the
  subject's → ``subject_mismatch``; unregistered device → ``unregistered_device``
  (kept, re-processed on registration); retired device → ``retired_device``;
  device of another cooperative →
  ``coop_mismatch``; bad signature → ``bad_signature``; unknown type/version →
  ``unknown_type``; invalid payload → ``invalid_payload``; a central-only type
  from a device → ``not_edge_event``; same (device, seq) with another hash →
  ``equivocation``; a successor that does not link → ``broken_chain``.
- same (device, seq) with the same hash → duplicate: counted, no effect.
- ``seq == committed_seq + 1`` and linking → committed, then held successors
  that link are released in order.
- ``seq > committed_seq + 1`` → held behind a gap (released when it fills, or
  applied with flag ``GAP`` after the gap timeout).
- HLC more than 24 h ahead of receipt → committed with flag ``CLOCK_SKEW``.
Facts are never dropped: everything refused lands in quarantine with its bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from central_projector.record.tables import devices, events, gaps, outbox, quarantine
from schemas import REGISTRY
from sync_core import codec, subjects
from sync_core.batch import Oversize, decode_batch
from sync_core.envelope import Envelope
from sync_core.errors import DecodeError, SignatureInvalid, UnknownEventType, ValidationError
from sync_core.ids import check_coop_id, check_device_id

SKEW_LIMIT_MS = 24 * 3600 * 1000


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


def parse_upload_subject(subject: str) -> tuple[str, str]:
    parts = subject.split(".")
    if len(parts) != 4 or parts[:2] != ["kop", "up"]:
        raise ValueError(f"'{subject}' is not an upload subject kop.up.COOP.DEVICE")
    return check_coop_id(parts[2]), check_device_id(parts[3])


def process_upload(
    conn: sa.Connection, subject: str, data: bytes, now_ms: int, *, lock: bool
) -> IngestResult:
    """Verify and record one upload message inside the caller's transaction."""
    res = _process(conn, subject, data, now_ms, lock=lock)
    if res.device_id is not None and res.quarantined:
        # Counted for every refusal, whole-message ones included (no-op for unknown devices).
        conn.execute(
            sa.update(devices)
            .where(devices.c.device_id == res.device_id)
            .values(quarantined=devices.c.quarantined + len(res.quarantined))
        )
    return res


def _process(
    conn: sa.Connection, subject: str, data: bytes, now_ms: int, *, lock: bool
) -> IngestResult:
    res = IngestResult()
    try:
        coop_id, device_id = parse_upload_subject(subject)
    except ValueError as exc:
        _quarantine(conn, res, now_ms, subject, "subject_mismatch", str(exc), None, None, data)
        return res
    res.device_id = device_id
    try:
        batch = decode_batch(data)
    except Oversize as exc:
        _quarantine(conn, res, now_ms, subject, "oversize", str(exc), device_id, None, data)
        return res
    except DecodeError as exc:
        _quarantine(conn, res, now_ms, subject, "undecodable", str(exc), device_id, None, data)
        return res
    if (batch.coop_id, batch.device_id) != (coop_id, device_id):
        detail = f"batch says {batch.coop_id}/{batch.device_id}, subject {coop_id}/{device_id}"
        _quarantine(conn, res, now_ms, subject, "subject_mismatch", detail, device_id, None, data)
        return res
    q = sa.select(devices).where(devices.c.device_id == device_id)
    dev = conn.execute(q.with_for_update() if lock else q).mappings().first()
    if dev is None:
        detail = f"device {device_id} is not registered; `kopsync central device add` it"
        _quarantine(
            conn, res, now_ms, subject, "unregistered_device", detail, device_id, None, data
        )
        return res
    if dev["retired"]:
        detail = f"device {device_id} is retired; its uploads are kept here, not committed"
        _quarantine(conn, res, now_ms, subject, "retired_device", detail, device_id, None, data)
        return res
    if dev["coop_id"] != coop_id:
        detail = f"device {device_id} belongs to {dev['coop_id']}, not {coop_id}"
        _quarantine(conn, res, now_ms, subject, "coop_mismatch", detail, device_id, None, data)
        return res
    state = _DeviceState(dict(dev))
    _prefetch(conn, state, batch.events)
    before = state.committed_seq
    for raw in batch.events:
        _ingest_one(conn, res, state, subject, raw, now_ms)
    _flush(conn, state)
    if state.committed_seq != before:
        _close_filled_gaps(conn, state, now_ms)
    conn.execute(
        sa.update(devices)
        .where(devices.c.device_id == device_id)
        .values(
            committed_seq=state.committed_seq,
            committed_hash=state.committed_hash,
            last_seen=now_ms,
            duplicates=devices.c.duplicates + res.duplicates,
            clock_skew=devices.c.clock_skew + state.skewed,
        )
    )
    res.committed_seq = state.committed_seq
    return res


class _DeviceState:
    def __init__(self, row: dict[str, Any]) -> None:
        self.device_id: str = row["device_id"]
        self.coop_id: str = row["coop_id"]
        self.public_key: bytes = row["public_key"]
        self.committed_seq: int = row["committed_seq"]
        self.committed_hash: bytes = row["committed_hash"]
        self.skewed = 0
        # Rows of this device by seq (None: known absent), read once per upload, and the
        # writes of this upload, sent with executemany at the end (or before a rare path).
        self.rows: dict[int, dict[str, Any] | None] = {}
        self.new_events: list[dict[str, Any]] = []
        self.new_outbox: list[dict[str, Any]] = []
        self.released: list[int] = []


_ROW_COLUMNS = (events.c.seq, events.c.prev_hash, events.c.hash, events.c.status, events.c.envelope)


def _prefetch(conn: sa.Connection, st: _DeviceState, raws: list[bytes]) -> None:
    """Read the rows an upload's seq range (and the seq after it) can touch, in one query."""
    seqs = [s for s in (_peek_seq(r) for r in raws) if s is not None]
    if not seqs:
        return
    lo, hi = min(seqs), max(seqs) + 1
    if hi - lo > 10 * len(raws) + 10:
        return  # a scattered upload: look rows up one by one instead
    for seq in range(lo, hi + 1):
        st.rows[seq] = None
    for r in conn.execute(
        sa.select(*_ROW_COLUMNS).where(
            events.c.device_id == st.device_id, events.c.seq >= lo, events.c.seq <= hi
        )
    ).mappings():
        st.rows[int(r["seq"])] = dict(r)


def _peek_seq(raw: bytes) -> int | None:
    try:
        wire = codec.decode(raw)
    except DecodeError:
        return None
    seq = wire.get("seq") if isinstance(wire, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _flush(conn: sa.Connection, st: _DeviceState) -> None:
    if st.new_events:
        conn.execute(sa.insert(events), st.new_events)
        for row in st.new_events:
            del row["device_id"]  # from now on a stored row: a release must update it
        st.new_events = []
    if st.released:
        conn.execute(
            sa.update(events)
            .where(events.c.device_id == st.device_id, events.c.seq == sa.bindparam("s"))
            .values(status="committed"),
            [{"s": s} for s in st.released],
        )
        st.released = []
    if st.new_outbox:
        conn.execute(sa.insert(outbox), st.new_outbox)
        st.new_outbox = []


def _ingest_one(
    conn: sa.Connection,
    res: IngestResult,
    st: _DeviceState,
    subject: str,
    raw: bytes,
    now_ms: int,
) -> None:
    def refuse(reason: str, detail: str, seq: int | None) -> None:
        _quarantine(conn, res, now_ms, subject, reason, detail, st.device_id, seq, raw)

    try:
        env = Envelope.decode(raw)
    except DecodeError as exc:
        refuse("undecodable", str(exc), None)
        return
    if env.device_id != st.device_id:
        refuse("subject_mismatch", f"event of device {env.device_id} in its upload", env.seq)
        return
    if env.coop_id != st.coop_id:
        refuse("coop_mismatch", f"device of {st.coop_id} publishing for {env.coop_id}", env.seq)
        return
    try:
        env.verify_signature(st.public_key)
    except SignatureInvalid as exc:
        refuse("bad_signature", str(exc), env.seq)
        return
    try:
        schema = REGISTRY.get(env.type, env.version)
        REGISTRY.validate(env.type, env.payload, env.version)
    except UnknownEventType as exc:
        refuse("unknown_type", str(exc), env.seq)
        return
    except ValidationError as exc:
        refuse("invalid_payload", str(exc), env.seq)
        return
    if "edge" not in schema.origin:
        refuse("not_edge_event", f"{env.type} is issued centrally only", env.seq)
        return
    existing = _row(conn, st, env.seq)
    if existing is not None:
        if existing["hash"] == env.hash:
            res.duplicates += 1
        else:
            refuse(
                "equivocation", f"seq {env.seq} was already received with other content", env.seq
            )
        return
    flags = ""
    if env.hlc.wall > now_ms + SKEW_LIMIT_MS:
        flags = "CLOCK_SKEW"
        st.skewed += 1
    if env.seq == st.committed_seq + 1:
        if env.prev_hash != st.committed_hash:
            refuse(
                "broken_chain", f"seq {env.seq} does not link to seq {st.committed_seq}", env.seq
            )
            return
        succ = _row(conn, st, env.seq + 1)
        if succ is not None and succ["prev_hash"] != env.hash:
            refuse("broken_chain", f"seq {env.seq} does not link to the seq after it", env.seq)
            return
        _insert(conn, env, "committed", flags, now_ms, st)
        res.committed += 1
        st.committed_seq, st.committed_hash = env.seq, env.hash
        _advance(conn, res, st, subject, now_ms)
    else:
        _insert(conn, env, "held", flags, now_ms, st)
        res.held += 1
        _flush(conn, st)
        _note_gap(conn, st, env.seq, now_ms)


def _advance(
    conn: sa.Connection, res: IngestResult, st: _DeviceState, subject: str, now_ms: int
) -> None:
    """Move committed_seq over every successor already present, releasing held ones."""
    while (row := _row(conn, st, st.committed_seq + 1)) is not None:
        if row["prev_hash"] != st.committed_hash:
            if row["status"] == "held":
                _flush(conn, st)
                conn.execute(
                    sa.delete(events).where(
                        events.c.device_id == st.device_id, events.c.seq == row["seq"]
                    )
                )
                st.rows[int(row["seq"])] = None
                _quarantine(
                    conn,
                    res,
                    now_ms,
                    subject,
                    "broken_chain",
                    f"held seq {row['seq']} does not link to seq {st.committed_seq}",
                    st.device_id,
                    row["seq"],
                    row["envelope"],
                )
            break
        if row["status"] == "held":
            row["status"] = "committed"
            if "device_id" not in row:  # a stored row, not one of this upload's own
                st.released.append(int(row["seq"]))
            _enqueue_event(conn, Envelope.decode(row["envelope"]), into=st.new_outbox)
            res.committed += 1
            res.released += 1
        st.committed_seq, st.committed_hash = row["seq"], row["hash"]


def _close_filled_gaps(conn: sa.Connection, st: _DeviceState, now_ms: int) -> None:
    conn.execute(
        sa.update(gaps)
        .where(
            gaps.c.device_id == st.device_id,
            gaps.c.to_seq <= st.committed_seq,
            gaps.c.status != "filled",
        )
        .values(status="filled", closed_at=now_ms)
    )


def _note_gap(conn: sa.Connection, st: _DeviceState, seq: int, now_ms: int) -> None:
    """Record the missing range just before a held ``seq``, unless already known."""
    below = conn.execute(
        sa.select(sa.func.max(events.c.seq)).where(
            events.c.device_id == st.device_id, events.c.seq < seq
        )
    ).scalar()
    start = max(int(below or 0), st.committed_seq) + 1
    if start > seq - 1:
        return
    known = conn.execute(
        sa.select(gaps.c.id).where(
            gaps.c.device_id == st.device_id, gaps.c.from_seq == start, gaps.c.status == "open"
        )
    ).first()
    if known is None:
        conn.execute(
            sa.insert(gaps).values(
                device_id=st.device_id,
                from_seq=start,
                to_seq=seq - 1,
                detected_at=now_ms,
                status="open",
            )
        )


def release_expired_gaps(conn: sa.Connection, now_ms: int, timeout_ms: int) -> int:
    """Apply events held behind gaps older than the timeout, flagged GAP; return how many."""
    expired = (
        conn.execute(
            sa.select(gaps).where(
                gaps.c.status == "open", gaps.c.detected_at <= now_ms - timeout_ms
            )
        )
        .mappings()
        .all()
    )
    released = 0
    for gap in expired:
        held = conn.execute(
            sa.select(events.c.id, events.c.envelope, events.c.flags)
            .where(events.c.device_id == gap["device_id"], events.c.status == "held")
            .order_by(events.c.seq)
        ).all()
        for row_id, envelope, flags in held:
            new_flags = " ".join(sorted({*flags.split(), "GAP"}))
            conn.execute(
                sa.update(events)
                .where(events.c.id == row_id)
                .values(status="committed", flags=new_flags)
            )
            _enqueue_event(conn, Envelope.decode(envelope), gap=True)
            released += 1
        conn.execute(
            sa.update(gaps)
            .where(gaps.c.id == gap["id"])
            .values(status="timed_out", closed_at=now_ms)
        )
    return released


def _row(conn: sa.Connection, st: _DeviceState, seq: int) -> dict[str, Any] | None:
    if seq not in st.rows:
        found = (
            conn.execute(
                sa.select(*_ROW_COLUMNS).where(
                    events.c.device_id == st.device_id, events.c.seq == seq
                )
            )
            .mappings()
            .first()
        )
        st.rows[seq] = dict(found) if found is not None else None
    return st.rows[seq]


def _insert(
    conn: sa.Connection,
    env: Envelope,
    status: str,
    flags: str,
    now_ms: int,
    st: _DeviceState | None = None,
) -> None:
    """Record an event: at once, or (with ``st``) queued for the upload's executemany."""
    row = {
        "device_id": env.device_id,
        "seq": env.seq,
        "event_id": env.event_id,
        "coop_id": env.coop_id,
        "type": env.type,
        "version": env.version,
        "aggregate_id": env.aggregate_id,
        "hlc_wall": env.hlc.wall,
        "hlc_counter": env.hlc.counter,
        "prev_hash": env.prev_hash,
        "hash": env.hash,
        "envelope": env.encode(),
        "received_at": now_ms,
        "status": status,
        "flags": flags,
    }
    if st is None:
        conn.execute(sa.insert(events), [row])
        if status == "committed":
            _enqueue_event(conn, env)
        return
    st.new_events.append(row)  # the same dict: a release below updates what is inserted
    st.rows[env.seq] = row
    if status == "committed":
        _enqueue_event(conn, env, into=st.new_outbox)


def _enqueue_event(
    conn: sa.Connection,
    env: Envelope,
    *,
    gap: bool = False,
    into: list[dict[str, Any]] | None = None,
) -> None:
    area = REGISTRY.get(env.type).area
    headers = {"Kop-Flags": "GAP"} if gap else {}
    item = {
        "subject": subjects.canonical(env.coop_id, area, env.type),
        "data": env.encode(),
        "msg_id": f"{env.device_id}:{env.seq}",
        "headers": json.dumps(headers),
    }
    if into is None:
        conn.execute(sa.insert(outbox), [item])
    else:
        into.append(item)


def _quarantine(
    conn: sa.Connection,
    res: IngestResult,
    now_ms: int,
    subject: str,
    reason: str,
    detail: str,
    device_id: str | None,
    seq: int | None,
    data: bytes,
) -> None:
    qid = conn.execute(
        sa.insert(quarantine).values(
            received_at=now_ms,
            subject=subject[:255],
            reason=reason,
            detail=detail,
            device_id=device_id,
            seq=seq,
            data=data,
        )
    ).inserted_primary_key
    headers = {"Kop-Reason": reason, "Kop-Detail": detail[:500], "Kop-Subject": subject[:255]}
    conn.execute(
        sa.insert(outbox).values(
            subject=subjects.quarantine(reason),
            data=data,
            msg_id=f"q:{qid[0] if qid else now_ms}",
            headers=json.dumps(headers),
        )
    )
    res.quarantined.append((reason, detail))
