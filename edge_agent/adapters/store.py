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
- ``refs``: which events mention which entity (:mod:`edge_agent.adapters.refs`), and
  ``idempotency``: the events each client key recorded
  (:mod:`edge_agent.adapters.idempotency`); both written in the append's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from edge_agent.adapters import idempotency, refs, viewtable
from edge_agent.adapters.idempotency import Once
from edge_agent.adapters.sqlite_durable import (
    Writer,
    open_datastore,
    prepare_file,
    read_transaction,
    write_transaction,
)
from edge_agent.domain import rule_for
from edge_agent.domain.base import Proposed, Rule, Views, load_for
from schemas import REGISTRY
from sync_core import codec, hlc
from sync_core.envelope import Envelope, seal, stored_hlc
from sync_core.errors import StoreError, StoreExists, StoreNotFound
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey, digest

PAGE = 500


@dataclass(frozen=True, slots=True)
class Head:
    """The end of the device's chain."""

    seq: int
    hash: bytes
    hlc: Hlc


@dataclass(frozen=True, slots=True)
class Draft:
    """An event the caller wants recorded; the store seals it."""

    type: str
    aggregate_id: str
    payload: dict[str, Any]
    version: int | None = None


class ConcurrentAppend(Exception):
    """Another process appended between our read of the head and our insert."""


class EdgeStore:
    """Append-only, signed, chained log of one device, with its rule views."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self._ds = open_datastore(str(db_path))
        self._writer = Writer(self._ds)
        self.log = SQLiteApplicationRecorder(self._ds, events_table_name="device_events")
        self.downlink = SQLiteApplicationRecorder(self._ds, events_table_name="downlink_events")
        with self._writer.transaction() as c:
            self.log._create_table(c)
            self.downlink._create_table(c)
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
    def create(cls, db_path: Path, coop_id: str, device_id: str) -> EdgeStore:
        if db_path.exists():
            raise StoreExists(f"a store already exists at {db_path}; refusing to overwrite it")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        prepare_file(db_path)
        ds = open_datastore(str(db_path))
        with write_transaction(ds) as c:
            c.execute(_CREATE_META)
            c.execute(viewtable.CREATE)
            _put_meta(c, "identity", {"coop_id": coop_id, "device_id": device_id})
        ds.close()
        return cls(db_path)

    @classmethod
    def open(cls, db_path: Path) -> EdgeStore:
        if not db_path.exists():
            raise StoreNotFound(
                f"no kopsync store at {db_path}; "
                "run `kopsync edge init --coop ID --device ID` first"
            )
        return cls(db_path)

    def close(self) -> None:
        self._writer.close()
        self._ds.close()

    def _identity(self) -> tuple[str, str]:
        ident = self.meta("identity")
        if not isinstance(ident, dict):
            raise StoreError(f"{self.path} is not an initialised kopsync store")
        return ident["coop_id"], ident["device_id"]

    # --- appending ------------------------------------------------------------------
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
            views: Views = {}
            head = self._current_head(c, views, keys)
            for version, payload, proposed, rule in prepared:
                load_for(rule, proposed, views, lambda ks: viewtable.load(c, views, ks))
                if check:
                    rule.check(views, proposed)
                rule.apply(views, proposed)
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
                    self.log._insert_events(c, [_stored(env, self.device_id, env.seq)])
                except sqlite3.IntegrityError as exc:
                    raise ConcurrentAppend from exc
                head = Head(env.seq, env.hash, stamp)
                sealed.append(env)
            # A high-water mark beside the views (same statement, no extra round trip), so
            # that `verify` also detects a log whose newest events were deleted.
            views[MARK_KEY] = {"seq": head.seq, "hash": head.hash}
            viewtable.save(c, views)
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

    def _current_head(self, c: SQLiteCursor, views: Views, keys: list[str]) -> Head:
        """The chain head, cached between appends of this process.

        A stale cache (another process appended meanwhile) cannot fork the chain: the
        next seq is then taken, the insert fails on the recorder's primary key, and the
        append is decided again on the fresh head. The clock view is always re-read.
        """
        if self._head is None:
            return _get_head(c, self.device_id, views, keys)
        viewtable.load(c, views, [CLOCK_KEY, *keys])
        seen = views.pop(CLOCK_KEY)
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
        """Apply centrally issued events once each; returns those that were new."""
        applied: list[Envelope] = []
        with self._writer.transaction() as c:
            views: Views = {}
            head = _get_head(c, self.device_id, views, [])
            clock = head.hlc
            for env in envs:
                c.execute(
                    "SELECT 1 FROM downlink_events WHERE originator_id=? AND originator_version=?",
                    (env.device_id, env.seq),
                )
                if c.fetchone() is not None:
                    continue
                _, payload = REGISTRY.upcast(env.type, env.version, env.payload)
                proposed = Proposed(
                    env.type, env.aggregate_id, payload, env.event_id, env.device_id, env.coop_id
                )
                rule = rule_for(env.type)
                load_for(rule, proposed, views, lambda ks: viewtable.load(c, views, ks))
                rule.apply(views, proposed)
                self.downlink._insert_events(c, [_stored(env, env.device_id, env.seq)])
                clock = hlc.receive(clock, env.hlc, now_ms)
                applied.append(env)
            if applied:
                views[CLOCK_KEY] = {"hlc": clock.to_wire()}
            viewtable.save(c, views)
        return applied

    def observe_clock(self, remote: Hlc, now_ms: int) -> Hlc:
        """Advance the persisted HLC past a clock seen from the central."""
        with self._writer.transaction() as c:
            head = _get_head(c, self.device_id, {}, [])
            new = hlc.receive(head.hlc, remote, now_ms)
            viewtable.save(c, {CLOCK_KEY: {"hlc": new.to_wire()}})
        return new

    # --- reading --------------------------------------------------------------------
    def head(self) -> Head:
        with read_transaction(self._ds) as c:
            return _get_head(c, self.device_id, {}, [])

    def raw_events(self, since: int = 0, until: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(stored seq, stored bytes) of every local event after ``since``, in seq order."""
        gt = since
        while True:
            rows = self.log.select_events(self.device_id, gt=gt, lte=until, limit=PAGE)
            for r in rows:
                yield r.originator_version, r.state
            if len(rows) < PAGE:
                return
            gt = rows[-1].originator_version

    def events(self, since: int = 0, until: int | None = None) -> Iterator[Envelope]:
        for _, data in self.raw_events(since, until):
            yield Envelope.decode(data)

    def central_events(self) -> Iterator[Envelope]:
        start = 1
        while True:
            rows = self.downlink.select_notifications(start, PAGE)
            for n in rows:
                yield Envelope.decode(n.state)
            if len(rows) < PAGE:
                return
            start = rows[-1].id + 1

    def events_about(self, ref: str, before: int | None = None, limit: int = 50) -> list[Envelope]:
        """The newest ``limit`` local events about ``ref`` (see :mod:`.refs`), newest first."""
        with read_transaction(self._ds) as c:
            rows = refs.select(c, self.device_id, ref, before=before, limit=limit)
        return [Envelope.decode(data) for _, data in rows]

    def high_water(self) -> tuple[int, bytes]:
        """The seq and hash of the newest event ever appended (the ``@mark`` view)."""
        mark = self.view(MARK_KEY)
        return (int(mark["seq"]), bytes(mark["hash"])) if mark else (0, GENESIS_HASH)

    def view(self, key: str) -> dict[str, Any] | None:
        with read_transaction(self._ds) as c:
            c.execute("SELECT value FROM views WHERE key=?", (key,))
            row = c.fetchone()
        return None if row is None else viewtable.unpack(row[0])

    def views(self, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        with read_transaction(self._ds) as c:
            c.execute(
                "SELECT key, value FROM views WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\uffff"),
            )
            rows = c.fetchall()
        for k, v in rows:
            if not k.startswith("@"):
                yield k, viewtable.unpack(v)

    def meta(self, name: str) -> Any:
        with read_transaction(self._ds) as c:
            return _get_meta(c, name)

    def set_meta(self, name: str, value: Any) -> None:
        with self._writer.transaction() as c:
            _put_meta(c, name, value)


def _stored(env: Envelope, stream: str, version: int) -> StoredEvent:
    return StoredEvent(
        originator_id=stream,
        originator_version=version,
        topic=f"{env.type}:v{env.version}",
        state=env.encode(),
    )


def _get_meta(c: SQLiteCursor, name: str) -> Any:
    c.execute("SELECT value FROM meta WHERE key=?", (name,))
    row = c.fetchone()
    return None if row is None else codec.decode(row[0])


def _put_meta(c: SQLiteCursor | Any, name: str, value: Any) -> None:
    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, codec.encode(value)))


def _get_head(c: SQLiteCursor, device_id: str, views: Views, keys: list[str]) -> Head:
    """The chain head is the last stored event; the clock may have been advanced past it
    by the central (view ``@clock``), which is loaded in the same query as ``keys``."""
    viewtable.load(c, views, [CLOCK_KEY, *keys])
    seen = views.pop(CLOCK_KEY)
    clock = Hlc.from_wire(seen["hlc"]) if seen else hlc.ZERO
    c.execute(
        "SELECT originator_version, state FROM device_events WHERE originator_id=? "
        "ORDER BY originator_version DESC LIMIT 1",
        (device_id,),
    )
    row = c.fetchone()
    if row is None:
        return Head(0, GENESIS_HASH, clock)
    last = stored_hlc(row[1])
    return Head(row[0], digest(row[1]), max(last, clock))


_CREATE_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)"
CLOCK_KEY = "@clock"
MARK_KEY = "@mark"
__all__ = ["Draft", "EdgeStore", "Head"]
