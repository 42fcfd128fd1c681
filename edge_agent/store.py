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
- ``meta``: identity, chain head (seq, hash, HLC) and sync positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from edge_agent.domain import rule_for
from edge_agent.domain.base import Proposed, Views
from edge_agent.sqlite_durable import open_datastore, read_transaction, write_transaction
from schemas import REGISTRY
from sync_core import codec, hlc
from sync_core.envelope import Envelope, seal
from sync_core.errors import StoreError, StoreExists, StoreNotFound
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey

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


class EdgeStore:
    """Append-only, signed, chained log of one device, with its rule views."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self._ds = open_datastore(str(db_path))
        self.log = SQLiteApplicationRecorder(self._ds, events_table_name="device_events")
        self.downlink = SQLiteApplicationRecorder(self._ds, events_table_name="downlink_events")
        with write_transaction(self._ds) as c:
            self.log._create_table(c)
            self.downlink._create_table(c)
            c.execute("CREATE TABLE IF NOT EXISTS views (key TEXT PRIMARY KEY, value BLOB)")
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
        self.coop_id, self.device_id = self._identity()

    # --- lifecycle ------------------------------------------------------------------
    @classmethod
    def create(cls, db_path: Path, coop_id: str, device_id: str) -> EdgeStore:
        if db_path.exists():
            raise StoreExists(f"a store already exists at {db_path}; refusing to overwrite it")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        ds = open_datastore(str(db_path))
        with write_transaction(ds) as c:
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
            _put_meta(c, "identity", {"coop_id": coop_id, "device_id": device_id})
            _put_meta(c, "head", _head_wire(Head(0, GENESIS_HASH, hlc.ZERO)))
        ds.close()
        return cls(db_path)

    @classmethod
    def open(cls, db_path: Path) -> EdgeStore:
        if not db_path.exists():
            raise StoreNotFound(
                f"no kopsync store at {db_path}; run `kopsync edge init --coop ID --device ID` first"
            )
        return cls(db_path)

    def close(self) -> None:
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
        sealed: list[Envelope] = []
        with write_transaction(self._ds) as c:
            head = _get_head(c)
            views: Views = {}
            for d in drafts:
                version = d.version or REGISTRY.latest_version(d.type)
                payload = REGISTRY.validate(d.type, d.payload, version)
                _, current = REGISTRY.upcast(d.type, version, payload)
                event_id = new_event_id()
                proposed = Proposed(
                    d.type, d.aggregate_id, current, event_id, self.device_id, self.coop_id
                )
                rule = rule_for(d.type)
                _load_views(c, views, rule.keys(proposed))
                if check:
                    rule.check(views, proposed)
                rule.apply(views, proposed)
                stamp = hlc.send(head.hlc, now_ms())
                env = seal(
                    key,
                    event_id=event_id,
                    coop_id=self.coop_id,
                    device_id=self.device_id,
                    seq=head.seq + 1,
                    hlc=stamp,
                    type=d.type,
                    version=version,
                    aggregate_id=d.aggregate_id,
                    payload=payload,
                    prev_hash=head.hash,
                )
                self.log._insert_events(c, [_stored(env, self.device_id, env.seq)])
                head = Head(env.seq, env.hash, stamp)
                sealed.append(env)
            _save_views(c, views)
            _put_meta(c, "head", _head_wire(head))
        return sealed

    def receive_central(self, envs: list[Envelope], now_ms: int) -> list[Envelope]:
        """Apply centrally issued events once each; returns those that were new."""
        applied: list[Envelope] = []
        with write_transaction(self._ds) as c:
            head = _get_head(c)
            views: Views = {}
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
                _load_views(c, views, rule.keys(proposed))
                rule.apply(views, proposed)
                self.downlink._insert_events(c, [_stored(env, env.device_id, env.seq)])
                head = Head(head.seq, head.hash, hlc.receive(head.hlc, env.hlc, now_ms))
                applied.append(env)
            _save_views(c, views)
            _put_meta(c, "head", _head_wire(head))
        return applied

    def observe_clock(self, remote: Hlc, now_ms: int) -> Hlc:
        """Advance the persisted HLC past a clock seen from the central."""
        with write_transaction(self._ds) as c:
            head = _get_head(c)
            new = hlc.receive(head.hlc, remote, now_ms)
            _put_meta(c, "head", _head_wire(Head(head.seq, head.hash, new)))
        return new

    # --- reading --------------------------------------------------------------------
    def head(self) -> Head:
        with read_transaction(self._ds) as c:
            return _get_head(c)

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

    def view(self, key: str) -> dict[str, Any] | None:
        with read_transaction(self._ds) as c:
            c.execute("SELECT value FROM views WHERE key=?", (key,))
            row = c.fetchone()
        return None if row is None else codec.decode(row[0])  # type: ignore[no-any-return]

    def views(self, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        with read_transaction(self._ds) as c:
            c.execute(
                "SELECT key, value FROM views WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\uffff"),
            )
            rows = c.fetchall()
        for k, v in rows:
            yield k, codec.decode(v)

    def meta(self, name: str) -> Any:
        with read_transaction(self._ds) as c:
            return _get_meta(c, name)

    def set_meta(self, name: str, value: Any) -> None:
        with write_transaction(self._ds) as c:
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


def _head_wire(h: Head) -> dict[str, Any]:
    return {"seq": h.seq, "hash": h.hash, "hlc": h.hlc.to_wire()}


def _get_head(c: SQLiteCursor) -> Head:
    w = _get_meta(c, "head")
    if w is None:
        raise StoreError("the store has no chain head; it was not initialised by kopsync")
    return Head(w["seq"], w["hash"], Hlc.from_wire(w["hlc"]))


def _load_views(c: SQLiteCursor, views: Views, keys: list[str]) -> None:
    for k in keys:
        if k in views:
            continue
        c.execute("SELECT value FROM views WHERE key=?", (k,))
        row = c.fetchone()
        views[k] = None if row is None else codec.decode(row[0])


def _save_views(c: SQLiteCursor, views: Views) -> None:
    for k, v in views.items():
        if v is None:
            c.execute("DELETE FROM views WHERE key=?", (k,))
        else:
            c.execute("INSERT OR REPLACE INTO views (key, value) VALUES (?, ?)", (k, codec.encode(v)))


__all__ = ["Draft", "EdgeStore", "Head"]
