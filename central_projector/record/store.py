"""The central store: system of record on SQLAlchemy (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

from central_projector.ingest import upload as ingest
from central_projector.ingest.verdict import IngestResult
from central_projector.migrations.state import require_current
from central_projector.record.dbengine import connect_error, make_engine
from central_projector.record.issuer import checked_payload, has_registration, issue_in, note_path
from central_projector.record.meta import PSEUDONYM_KEY, ensure_meta
from central_projector.record.status import device_status
from central_projector.record.tables import (
    central_meta,
    devices,
    events,
    outbox,
    quarantine,
)
from sync_core import codec, hlc
from sync_core.envelope import Envelope
from sync_core.errors import DecodeError, StoreError, UsageError
from sync_core.hlc import Hlc
from sync_core.ids import check_coop_id, check_device_id, check_id
from sync_core.protocol import HelloReply, HelloRequest
from sync_core.signing import GENESIS_HASH, DeviceKey

log = structlog.get_logger("kopsync.central")

ISSUER_ID = "central"
DEFAULT_URL = "sqlite:///kopsync-central.db"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message to publish after commit."""

    id: int
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str]


class CentralStore:
    """Devices, the verified event record, quarantine and the outbox."""

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True) -> None:
        """Open the store at ``url``, which must be migrated to this code's schema.

        With ``create`` (tests, tools) a database with no kopsync tables is migrated here;
        the commands pass ``create=False``: only ``kopsync central migrate`` makes a store.
        """
        self.url = url
        self.engine = make_engine(url, must_exist=not create)
        # Writers take SQLite's write lock at BEGIN (see dbengine); reads opt out of it.
        self._write = self.engine
        self._read = self.engine.execution_options(kopsync_read=True)
        self._lock_rows = self.engine.dialect.name != "sqlite"
        try:
            require_current(self.engine, create=create)
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise connect_error(url, exc) from exc
        except StoreError:
            self.engine.dispose()
            raise
        self.issuer_id = ISSUER_ID
        ensure_meta(self._read, self._write, "issuer_key", lambda: DeviceKey.generate().seed)
        ensure_meta(self._read, self._write, "hlc", lambda: codec.encode(hlc.ZERO.to_wire()))
        ensure_meta(self._read, self._write, PSEUDONYM_KEY, lambda: os.urandom(32))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> CentralStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- devices ----------------------------------------------------------------------
    def register_device(
        self, coop_id: str, device_id: str, public_key: bytes, now_ms: int | None = None
    ) -> int:
        """Register a device key and tell its cooperative (``DeviceRegistered`` on the downlink,
        issued once per device); re-process its uploads that waited in quarantine."""
        check_coop_id(coop_id)
        check_device_id(device_id)
        if len(public_key) != 32:
            raise UsageError("a device public key is 32 bytes (64 hex characters)")
        now = now_ms if now_ms is not None else _now()
        with self._write.begin() as conn:
            row = conn.execute(
                sa.select(devices.c.coop_id, devices.c.public_key).where(
                    devices.c.device_id == device_id
                )
            ).first()
            if row is not None:
                if (row[0], row[1]) != (coop_id, public_key):
                    raise UsageError(
                        f"device {device_id} is already registered with another cooperative "
                        "or key; retire it first or choose another device id"
                    )
            else:
                conn.execute(
                    sa.insert(devices).values(
                        device_id=device_id,
                        coop_id=coop_id,
                        public_key=public_key,
                        registered_at=now,
                        retired=False,
                        committed_seq=0,
                        committed_hash=GENESIS_HASH,
                        quarantined=0,
                        duplicates=0,
                        clock_skew=0,
                    )
                )
            if not has_registration(conn, self.issuer_id, device_id):
                # The devices of the cooperative verify this device's events by this fact.
                fact = {"coop_id": coop_id, "public_key": public_key}
                self._issue(conn, "DeviceRegistered", coop_id, fact, device_id, now)
            waiting = conn.execute(
                sa.select(quarantine.c.id, quarantine.c.subject, quarantine.c.data)
                .where(
                    quarantine.c.device_id == device_id,
                    quarantine.c.reason == "unregistered_device",
                    quarantine.c.resolved_at.is_(None),
                )
                .order_by(quarantine.c.id)
            ).all()
        for qid, subject, data in waiting:
            with self._write.begin() as conn:
                conn.execute(
                    sa.update(quarantine).where(quarantine.c.id == qid).values(resolved_at=now)
                )
                ingest.process_upload(conn, subject, data, now, lock=self._lock_rows)
        return len(waiting)

    def register_from_file(self, path: Path) -> tuple[str, str, int]:
        """Register the ``device.json`` written by ``kopsync edge init``."""
        try:
            doc = json.loads(path.read_text())
            device_id, coop_id = doc["device_id"], doc["coop_id"]
            key = bytes.fromhex(doc["public_key"])
        except FileNotFoundError:
            raise UsageError(f"{path} does not exist") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"{path} is not a device registration file (device.json with device_id, "
                f"coop_id, public_key): {exc}"
            ) from None
        return device_id, coop_id, self.register_device(coop_id, device_id, key)

    # --- ingest -----------------------------------------------------------------------
    def process_upload(
        self,
        subject: str,
        data: bytes,
        now_ms: int,
        fence: Callable[[sa.Connection], None] | None = None,
    ) -> IngestResult:
        """Verify and record one upload message in one transaction (``fence`` runs first)."""
        with self._write.begin() as conn:
            if fence is not None:
                fence(conn)
            return ingest.process_upload(conn, subject, data, now_ms, lock=self._lock_rows)

    def quarantine_message(
        self,
        subject: str,
        data: bytes,
        reason: str,
        detail: str,
        now_ms: int,
        fence: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        """Quarantine a whole message ingest did not process: one it keeps failing on
        (``unprocessable``), or one of a device over its quarantine budget (``over_budget``)."""
        with self._write.begin() as conn:
            if fence is not None:
                fence(conn)
            ingest.quarantine_message(conn, subject, data, reason, detail, now_ms)

    @staticmethod
    def unavailable(exc: BaseException) -> bool:
        """Whether ``exc`` says the database could not be used (worth a retry later), as
        opposed to something in the message itself that no retry will change."""
        return isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError | OSError
        )

    def release_expired_gaps(self, now_ms: int, timeout_ms: int) -> int:
        with self._write.begin() as conn:
            return ingest.release_expired_gaps(conn, now_ms, timeout_ms)

    def hello(self, request: HelloRequest, now_ms: int) -> HelloReply:
        """Answer a device's reconciliation handshake (docs/PROTOCOL.md).

        A hello is not signed: whoever may publish on the subject can say anything in it. So an
        unregistered device's hello changes nothing here (it is answered from reads alone), and
        the central's clock takes in a registered device's only when it is near the central's
        own wall with a sane counter (:func:`sync_core.hlc.adoptable`): one device cannot drag
        the central's clock, and through every hello every other device's, into its future.
        """
        device_id = request.device_id
        with self._read.connect() as conn:
            dev = conn.execute(
                sa.select(devices.c.coop_id, devices.c.committed_seq).where(
                    devices.c.device_id == device_id
                )
            ).first()
            if dev is None or dev[0] != request.coop_id:
                clock = hlc.send(self._stored_clock(conn), now_ms)  # not kept: nothing written
                key = self._issuer_key(conn).public_key
                return HelloReply(False, 0, (), clock, key, self.issuer_id)
        committed = int(dev[1])
        with self._write.begin() as conn:
            held_seqs = [
                int(r[0])
                for r in conn.execute(
                    sa.select(events.c.seq)
                    .where(
                        events.c.device_id == device_id,
                        events.c.seq > committed,
                        events.c.status == "held",
                    )
                    .order_by(events.c.seq)
                )
            ]
            conn.execute(
                sa.update(devices).where(devices.c.device_id == device_id).values(last_seen=now_ms)
            )
            note_path(conn, device_id, request.via, now_ms)
            seen = request.hlc if hlc.adoptable(request.hlc, now_ms) else hlc.ZERO
            clock = self._clock(conn, now_ms, seen)
            key = self._issuer_key(conn).public_key
        return HelloReply(True, committed, _ranges(held_seqs), clock, key, self.issuer_id)

    # --- outbox -----------------------------------------------------------------------
    def outbox(self, limit: int = 500) -> list[OutboxItem]:
        with self._read.connect() as conn:
            rows = conn.execute(sa.select(outbox).order_by(outbox.c.id).limit(limit)).all()
        return [OutboxItem(r.id, r.subject, r.data, r.msg_id, json.loads(r.headers)) for r in rows]

    def mark_published(self, ids: list[int]) -> None:
        if ids:
            with self._write.begin() as conn:
                conn.execute(sa.delete(outbox).where(outbox.c.id.in_(ids)))

    # --- central issuer ---------------------------------------------------------------
    def _issuer_key(self, conn: sa.Connection) -> DeviceKey:
        row = conn.execute(
            sa.select(central_meta.c.value).where(central_meta.c.key == "issuer_key")
        ).one()
        return DeviceKey(row[0])

    def central_public_key(self) -> bytes:
        with self._read.connect() as conn:
            return self._issuer_key(conn).public_key

    def _stored_clock(self, conn: sa.Connection) -> Hlc:
        """The central's clock as last kept. One that cannot be read (a counter beyond 64 bits,
        taken in from a hello before hellos were bounded) starts again from the wall: every
        hello and issue would fail on it otherwise, until its wall had passed."""
        row = conn.execute(
            sa.select(central_meta.c.value).where(central_meta.c.key == "hlc")
        ).first()
        if row is None:
            return hlc.ZERO
        try:
            return Hlc.from_wire(codec.decode(row[0]))
        except (DecodeError, ValueError) as exc:
            log.warning("central_clock_reset", error=str(exc))
            return hlc.ZERO

    def _clock(self, conn: sa.Connection, now_ms: int, seen: Hlc = hlc.ZERO) -> Hlc:
        """Advance the central's clock (past ``seen``: a device's clock it may adopt), kept."""
        last = self._stored_clock(conn)
        new = hlc.receive(last, seen, now_ms) if seen != hlc.ZERO else hlc.send(last, now_ms)
        value = codec.encode(new.to_wire())
        updated = conn.execute(
            sa.update(central_meta).where(central_meta.c.key == "hlc").values(value=value)
        )
        if updated.rowcount == 0:
            conn.execute(sa.insert(central_meta).values(key="hlc", value=value))
        return new

    def issue(
        self,
        event_type: str,
        coop_id: str,
        payload: dict[str, Any],
        aggregate_id: str,
        now_ms: int | None = None,
    ) -> Envelope:
        """Record a centrally issued event and queue it for the cooperative's downlink."""
        check_coop_id(coop_id)
        check_id(aggregate_id, "aggregate id")
        checked_payload(event_type, payload)
        now = now_ms if now_ms is not None else _now()
        with self._write.begin() as conn:
            return self._issue(conn, event_type, coop_id, payload, aggregate_id, now)

    def _issue(
        self,
        conn: sa.Connection,
        event_type: str,
        coop_id: str,
        payload: dict[str, Any],
        aggregate_id: str,
        now: int,
    ) -> Envelope:
        return issue_in(
            conn,
            key=self._issuer_key(conn),
            issuer_id=self.issuer_id,
            clock=self._clock(conn, now),
            lock_rows=self._lock_rows,
            event_type=event_type,
            coop_id=coop_id,
            payload=payload,
            aggregate_id=aggregate_id,
            now_ms=now,
        )

    # --- reading ----------------------------------------------------------------------
    def committed(self, device_id: str) -> list[tuple[int, bytes]]:
        with self._read.connect() as conn:
            return [
                (int(r[0]), bytes(r[1]))
                for r in conn.execute(
                    sa.select(events.c.seq, events.c.envelope)
                    .where(events.c.device_id == device_id, events.c.status == "committed")
                    .order_by(events.c.seq)
                )
            ]

    def quarantined(self, device_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(
            quarantine.c.id,
            quarantine.c.reason,
            quarantine.c.detail,
            quarantine.c.device_id,
            quarantine.c.seq,
            quarantine.c.subject,
            quarantine.c.received_at,
            quarantine.c.resolved_at,
        ).order_by(quarantine.c.id)
        if device_id is not None:
            q = q.where(quarantine.c.device_id == device_id)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def device_status(self) -> list[dict[str, Any]]:
        """One row per device: committed seq, last seen, gaps, held, quarantined, skew, and
        the hub it last synced through (``via``; ``None``: directly)."""
        with self._read.connect() as conn:
            return device_status(conn)


def _ranges(seqs: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for s in seqs:
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return tuple((a, b) for a, b in out)


def _now() -> int:
    return time.time_ns() // 1_000_000


__all__ = ["CentralStore", "IngestResult", "OutboxItem", "StoreError"]
