"""The device's durable log: eventsourcing's SQLite recorder, one stream per device.

Layout (one SQLite file, WAL, synchronous=FULL):

- ``device_events``: eventsourcing's application recorder table. The device's
  log is one stream whose ``originator_id`` is the device id and whose
  ``originator_version`` is ``seq``, so the recorder's primary key makes ``seq``
  unique and the append below makes it gapless. ``state`` holds the canonical,
  signed envelope bytes, never re-encoded.
- ``downlink_events``: the same recorder for events issued centrally, keyed by
  (issuer device id, issuer seq), so receiving one twice is a no-op.
- ``views``: the small per-entity states the local rules read (see
  :mod:`edge_agent.domain.base`), written in the same transaction as the event
  they fold in: deciding never replays history, so append cost stays flat.
  The chain head is the last stored event itself (its seq, its hash, its HLC),
  so an append writes only the event and the views it changed.
- ``meta``: identity and sync positions; ``@clock`` (a view) keeps the HLC
  advanced past clocks seen from the central.
- ``sibling_events``: the cooperative's other devices' events (:mod:`.received`), folded with
  the device's own and the central's in the total order.
- ``@seal`` (a view): the keyed digest of the views and the signed logs that every write
  leaves (:mod:`edge_agent.adapters.seal`); :meth:`EdgeStore.check_seal` is the start-up
  check, ``kopsync edge verify`` the full one, and ``kopsync edge repair`` re-seals.
- ``refs``: which events mention which entity (:mod:`edge_agent.adapters.refs`), and
  ``idempotency``: the events each client key recorded
  (:mod:`edge_agent.adapters.idempotency`); both written in the append's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from edge_agent.adapters import idempotency, logs, received, refs, siblinglog, trust, viewtable
from edge_agent.adapters.head import CLOCK_KEY, Head, get_head
from edge_agent.adapters.idempotency import Once
from edge_agent.adapters.reads import MARK_KEY, StoreReads
from edge_agent.adapters.seal import SEAL_KEY, Seal
from edge_agent.adapters.sqlite_durable import (
    Writer,
    open_datastore,
    prepare_file,
    read_transaction,
    write_transaction,
)
from edge_agent.adapters.viewtable import ViewWrite
from edge_agent.domain import rule_for
from edge_agent.domain.base import Proposed, Rule, View
from edge_agent.domain.fold import apply_event
from edge_agent.domain.siblings import Identity
from schemas import REGISTRY
from sync_core import codec, hlc
from sync_core.envelope import Envelope, seal
from sync_core.errors import CentralKeyChanged, StoreError, StoreExists, StoreNotFound
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import DeviceKey


@dataclass(frozen=True, slots=True)
class Draft:
    """An event the caller wants recorded; the store seals it."""

    type: str
    aggregate_id: str
    payload: dict[str, Any]
    version: int | None = None


class ConcurrentAppend(Exception):
    """Another process appended between our read of the head and our insert."""


class EdgeStore(StoreReads):
    """Append-only, signed, chained log of one device, with its rule views."""

    def __init__(self, db_path: Path, seal_key: bytes) -> None:
        self.path = db_path
        self._seal_key = seal_key
        self._ds = open_datastore(str(db_path))
        self._writer = Writer(self._ds)
        self.log = SQLiteApplicationRecorder(self._ds, events_table_name=logs.DEVICE_LOG)
        self.downlink = SQLiteApplicationRecorder(self._ds, events_table_name=logs.DOWNLINK_LOG)
        self.siblings = SQLiteApplicationRecorder(self._ds, events_table_name=logs.SIBLING_LOG)
        with self._writer.transaction() as c:
            for recorder in (self.log, self.downlink, self.siblings):
                recorder._create_table(c)
            c.execute(received.CREATE_HELD)
            c.execute(viewtable.CREATE)
            c.execute(_CREATE_META)
        self.coop_id, self.device_id = self._identity()
        with self._writer.transaction() as c:
            for ddl in idempotency.CREATE:
                c.execute(ddl)
            refs.create(c, lambda first, last: self._stored_events(c, first, last))
        self._head: Head | None = None

    # --- lifecycle ------------------------------------------------------------------
    @classmethod
    def create(cls, db_path: Path, coop_id: str, device_id: str, seal_key: bytes) -> EdgeStore:
        if db_path.exists():
            raise StoreExists(f"a store already exists at {db_path}; refusing to overwrite it")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        prepare_file(db_path)
        ds = open_datastore(str(db_path))
        with write_transaction(ds) as c:
            c.execute(_CREATE_META)
            c.execute(viewtable.CREATE)
            _put_meta(c, "identity", {"coop_id": coop_id, "device_id": device_id})
            viewtable.write(c, {SEAL_KEY: viewtable.pack(Seal().to_view(seal_key))})
        ds.close()
        return cls(db_path, seal_key)

    @classmethod
    def open(cls, db_path: Path, seal_key: bytes) -> EdgeStore:
        if not db_path.exists():
            raise cls.not_found(db_path)
        return cls(db_path, seal_key)

    @staticmethod
    def not_found(db_path: Path) -> StoreNotFound:
        return StoreNotFound(
            f"no kopsync store at {db_path}; run `kopsync edge init --coop ID --device ID` first"
        )

    def close(self) -> None:
        self._writer.close()
        self._ds.close()

    def _identity(self) -> tuple[str, str]:
        ident = self.meta("identity")
        if not isinstance(ident, dict):
            raise StoreError(f"{self.path} is not an initialised kopsync store")
        return ident["coop_id"], ident["device_id"]

    # --- appending ------------------------------------------------------------------
    @contextmanager
    def group(self) -> Iterator[None]:
        """One durable transaction (one fsync) for the appends this thread makes in the
        block: each append is a savepoint, so one refused is undone alone; all the others
        are durable when the block ends, or none if the commit fails (then it raises)."""
        try:
            with self._writer.group():
                yield
        except BaseException:
            self._head = None  # the cached head may be one the commit did not keep
            raise

    def append(
        self,
        key: DeviceKey,
        drafts: list[Draft],
        now_ms: Callable[[], int],
        *,
        check: bool = True,
    ) -> list[Envelope]:
        """Check, seal and durably record ``drafts`` in one transaction (all or nothing)."""
        return self.append_once(key, drafts, now_ms, None, check=check)[0]

    def append_once(
        self,
        key: DeviceKey,
        drafts: list[Draft],
        now_ms: Callable[[], int],
        once: Once | None,
        *,
        check: bool = True,
    ) -> tuple[list[Envelope], bool]:
        """:meth:`append` at most once per ``once.key``: (envelopes, whether replayed).

        A key that already recorded returns the events it recorded then, and records
        nothing; the key is claimed in the same transaction as the events it records.
        """
        # Decide what can be decided without the store before taking the write lock.
        prepared = [self._prepare(d) for d in drafts]
        keys = [k for _, _, p, rule in prepared for k in rule.keys(p)]
        try:
            return self._append(key, prepared, keys, now_ms, check, once)
        except ConcurrentAppend:
            self._head = None  # another process appended: reload the head and decide again
            return self._append(key, prepared, keys, now_ms, check, once)

    def _append(
        self,
        key: DeviceKey,
        prepared: list[tuple[int, dict[str, Any], Proposed, Rule]],
        keys: list[str],
        now_ms: Callable[[], int],
        check: bool,
        once: Once | None,
    ) -> tuple[list[Envelope], bool]:
        sealed: list[Envelope] = []
        with self._writer.transaction() as c:
            done = None if once is None else idempotency.find(c, once)
            if done is not None:
                return self._stored_events(c, *done), True
            w = ViewWrite(c, self._seal_key)
            views = w.views
            head = self._current_head(c, w, keys)
            for version, payload, proposed, _ in prepared:
                apply_event(views, proposed, w.load, check=check)
                stamp = hlc.send(head.hlc, now_ms())
                env = seal(
                    key,
                    event_id=proposed.event_id,
                    coop_id=self.coop_id,
                    device_id=self.device_id,
                    seq=head.seq + 1,
                    hlc=stamp,
                    type=proposed.type,
                    version=version,
                    aggregate_id=proposed.aggregate_id,
                    payload=payload,
                    prev_hash=head.hash,
                    payload_is_canonical=True,
                )
                try:
                    self._insert(w, self.log, env, self.device_id)
                except sqlite3.IntegrityError as exc:
                    raise ConcurrentAppend from exc
                head = Head(env.seq, env.hash, stamp)
                sealed.append(env)
            # A high-water mark beside the views (same statement, no extra round trip), so
            # that `verify` also detects a log whose newest events were deleted.
            views[MARK_KEY] = {"seq": head.seq, "hash": head.hash}
            w.save()
            refs.index(c, sealed)
            if once is not None and sealed:
                idempotency.claim(c, once, sealed[0].seq, sealed[-1].seq, now_ms())
            self._head = None
        self._head = head
        return sealed, False

    def _stored_events(self, c: SQLiteCursor, first: int = 1, last: int = 2**62) -> list[Envelope]:
        c.execute(
            "SELECT state FROM device_events WHERE originator_id=? "
            "AND originator_version BETWEEN ? AND ? ORDER BY originator_version",
            (self.device_id, first, last),
        )
        return [Envelope.decode(bytes(row[0])) for row in c.fetchall()]

    def _current_head(self, c: SQLiteCursor, w: ViewWrite, keys: list[str]) -> Head:
        """The chain head, cached between appends of this process.

        A stale cache (another process appended meanwhile) cannot fork the chain: the
        next seq is then taken, the insert fails on the recorder's primary key, and the
        append is decided again on the fresh head. The clock view is always re-read.
        """
        if self._head is None:
            return get_head(c, self.device_id, w, keys)
        w.load([CLOCK_KEY, MARK_KEY, *keys])
        seen = w.views.pop(CLOCK_KEY)
        clock = Hlc.from_wire(seen["hlc"]) if seen else hlc.ZERO
        return Head(self._head.seq, self._head.hash, max(self._head.hlc, clock))

    def _prepare(self, d: Draft) -> tuple[int, dict[str, Any], Proposed, Rule]:
        version = d.version or REGISTRY.latest_version(d.type)
        payload = REGISTRY.validate(d.type, d.payload, version)
        _, current = REGISTRY.upcast(d.type, version, payload)
        proposed = Proposed(
            d.type, d.aggregate_id, current, new_event_id(), self.device_id, self.coop_id
        )
        return version, payload, proposed, rule_for(d.type)

    def receive_central(self, envs: list[Envelope], now_ms: int) -> list[Envelope]:
        """Apply centrally issued events once each, in the total order (see
        :mod:`edge_agent.adapters.received`); returns those that were new."""
        applied: list[Envelope] = []
        with self._writer.transaction() as c:
            w = ViewWrite(c, self._seal_key)
            head = get_head(c, self.device_id, w, [])
            seen = set()
            for env in envs:
                at = (env.device_id, env.seq)
                if at in seen or received.is_stored(c, logs.DOWNLINK_LOG, *at):
                    continue
                seen.add(at)
                self._insert(w, self.downlink, env, env.device_id)
                applied.append(env)
            received.fold_in(w, self.device_id, applied, head.hlc, now_ms)
            w.save()
        return applied

    def receive_siblings(
        self, datas: list[bytes], now_ms: int, issuer: str
    ) -> siblinglog.SiblingReceipt:
        """Judge, store and fold siblings' events (and those held from before)."""
        me = Identity(self.coop_id, self.device_id, issuer)
        with self._writer.transaction() as c:
            w = ViewWrite(c, self._seal_key)
            head = get_head(c, self.device_id, w, [])
            insert = lambda env: self._insert(w, self.siblings, env, env.device_id)  # noqa: E731
            receipt = siblinglog.take_in(w, insert, me, datas, head.hlc, now_ms)
            w.save()
        return receipt

    def observe_clock(self, remote: Hlc, now_ms: int) -> Hlc:
        """Advance the persisted HLC past a clock seen from the central."""
        with self._writer.transaction() as c:
            w = ViewWrite(c, self._seal_key)
            head = get_head(c, self.device_id, w, [])
            new = hlc.receive(head.hlc, remote, now_ms)
            w.views[CLOCK_KEY] = {"hlc": new.to_wire()}
            w.save()
        return new

    def _insert(
        self, w: ViewWrite, recorder: SQLiteApplicationRecorder, env: Envelope, stream: str
    ) -> None:
        """Insert ``env`` into a signed log, counted by the seal ``w`` saves."""
        stored = logs.stored(env, stream)
        recorder._insert_events(w.c, [stored])
        w.logged(recorder.events_table_name, stream, env.seq, stored.state)

    # --- trust ----------------------------------------------------------------------
    def check_seal(self, *, full: bool = False) -> list[tuple[str, str]]:
        """What differs from the store's seal (see :mod:`edge_agent.adapters.trust`)."""
        with read_transaction(self._ds) as c:
            return trust.check(c, self._seal_key, full=full)

    def pins(self) -> dict[str, bytes] | None:
        """The issuers the seal trusts and their keys; None if the seal does not verify."""
        with read_transaction(self._ds) as c:
            seal = trust.stored_seal(c, self._seal_key)
        return None if seal is None else seal.pins

    def pin_issuer(self, issuer: str, public_key: bytes) -> None:
        """Trust ``issuer``'s events when signed by ``public_key`` (sealed; once per issuer)."""
        pinned = (self.pins() or {}).get(issuer)
        if pinned == public_key:
            return
        if pinned is not None:
            raise CentralKeyChanged(
                f"issuer {issuer} is pinned on this device with key {pinned.hex()[:16]}…, "
                f"not {public_key.hex()[:16]}…; refusing to trust another key for it"
            )
        with self._writer.transaction() as c:
            w = ViewWrite(c, self._seal_key)
            w.pin(issuer, public_key)
            w.save()

    def rebuild(
        self, views: dict[str, View], drop: list[tuple[str, str, int]], pins: dict[str, bytes]
    ) -> None:
        """Delete the signed-log rows ``drop`` (table, stream, seq) that failed verification,
        replace the rule views with ``views``, and seal the store afresh trusting ``pins``:
        one transaction."""
        with self._writer.transaction() as c:
            for table, stream, seq in drop:
                assert table in logs.SIGNED_LOGS, table
                c.execute(
                    f"DELETE FROM {table} WHERE originator_id=? AND originator_version=?",
                    (stream, seq),
                )
            trust.rebuild(c, self._seal_key, views, pins)
        self._head = None

    # --- reading --------------------------------------------------------------------
    def head(self) -> Head:
        with read_transaction(self._ds) as c:
            return get_head(c, self.device_id, None, [])

    def set_meta(self, name: str, value: Any) -> None:
        with self._writer.transaction() as c:
            _put_meta(c, name, value)


def _put_meta(c: SQLiteCursor | Any, name: str, value: Any) -> None:
    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, codec.encode(value)))


_CREATE_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)"
__all__ = ["Draft", "EdgeStore", "Head"]
