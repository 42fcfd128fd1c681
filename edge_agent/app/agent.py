"""The edge's Python API: what the CLI, the replicator and the tests share.

A data directory holds ``edge.db`` (the log), ``device.key`` (the Ed25519 seed,
mode 0600) and ``device.json`` (the registration file the central imports with
``kopsync central device add``).

Before it records for the first time, an agent checks the store against its seal
(:mod:`edge_agent.adapters.trust`) and refuses to record on a store changed outside
kopsync (:class:`StoreTampered`) until ``kopsync edge repair`` rebuilt it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.adapters.idempotency import Once
from edge_agent.adapters.seal import seal_key
from edge_agent.adapters.siblinglog import SiblingReceipt
from edge_agent.adapters.store import Draft, EdgeStore, Head
from edge_agent.app.verify import VerifyReport, verify_chain
from schemas import REGISTRY
from sync_core.envelope import Envelope
from sync_core.errors import StoreError, StoreExists, StoreNotFound, StoreTampered, UsageError
from sync_core.hlc import Hlc
from sync_core.ids import check_coop_id, check_device_id, check_id
from sync_core.signing import DeviceKey

DB_NAME = "edge.db"
KEY_NAME = "device.key"
REGISTRATION_NAME = "device.json"
ISSUER = "central"  # the central's issuer id until a hello names it (the central's default)
SIBLING_REFUSED = "sibling_refused"
REFUSED_KEEP = 100


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One recorded event as a reader sees it: payload upcast to the latest version."""

    envelope: Envelope
    version: int
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        e = self.envelope
        return {
            "seq": e.seq,
            "event_id": e.event_id,
            "type": e.type,
            "version": self.version,
            "stored_version": e.version,
            "aggregate_id": e.aggregate_id,
            "hlc": e.hlc.to_wire(),
            "coop_id": e.coop_id,
            "device_id": e.device_id,
            "payload": jsonable(self.payload),
        }


class EdgeAgent:
    """One cooperative device: its identity, key and log."""

    def __init__(self, data_dir: Path, clock: Callable[[], int] = wall_ms) -> None:
        self.data_dir = data_dir
        self.clock = clock
        if not (data_dir / DB_NAME).exists():
            raise EdgeStore.not_found(data_dir / DB_NAME)
        self.key = _read_key(data_dir / KEY_NAME)
        self.store = EdgeStore.open(data_dir / DB_NAME, seal_key(self.key.seed))
        self._trust: list[str] | None = None  # None: not checked yet
        self.coop_id = self.store.coop_id
        self.device_id = self.store.device_id

    @classmethod
    def init(
        cls, data_dir: Path, coop_id: str, device_id: str, clock: Callable[[], int] = wall_ms
    ) -> EdgeAgent:
        """Create the store and the device key pair; refuse to overwrite an existing one."""
        check_coop_id(coop_id)
        check_device_id(device_id)
        for name in (DB_NAME, KEY_NAME):
            if (data_dir / name).exists():
                raise StoreExists(
                    f"{data_dir / name} already exists; refusing to overwrite a device store"
                )
        data_dir.mkdir(parents=True, exist_ok=True)
        key = DeviceKey.generate()
        _write_private(data_dir / KEY_NAME, key.seed.hex() + "\n")
        EdgeStore.create(data_dir / DB_NAME, coop_id, device_id, seal_key(key.seed)).close()
        registration = {
            "device_id": device_id,
            "coop_id": coop_id,
            "public_key": key.public_key.hex(),
            "algorithm": "ed25519",
        }
        (data_dir / REGISTRATION_NAME).write_text(json.dumps(registration, indent=2) + "\n")
        return cls(data_dir, clock)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> EdgeAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def public_key(self) -> bytes:
        return self.key.public_key

    # --- recording ------------------------------------------------------------------
    def record(
        self,
        event_type: str,
        payload: dict[str, Any],
        aggregate_id: str,
        *,
        version: int | None = None,
    ) -> Envelope:
        """Record one edge event after checking its schema and the local rules."""
        return self.record_many([Draft(event_type, aggregate_id, payload, version)])[0]

    def record_many(self, drafts: list[Draft]) -> list[Envelope]:
        """Record several events atomically (all or none)."""
        self.ensure_trusted()
        self._check_edge(drafts)
        return self.store.append(self.key, drafts, self.clock)

    def record_once(self, drafts: list[Draft], once: Once) -> tuple[list[Envelope], bool]:
        """Record ``drafts`` atomically, at most once per ``once.key``.

        Returns the events and whether they were recorded by an earlier request with the
        same key (then nothing new is recorded): see :mod:`edge_agent.adapters.idempotency`.
        """
        self.ensure_trusted()
        self._check_edge(drafts)
        return self.store.append_once(self.key, drafts, self.clock, once)

    def group(self) -> AbstractContextManager[None]:
        """Record what this thread records in the block in one durable transaction (one
        fsync for all), each recording undone alone if it fails: :meth:`EdgeStore.group`."""
        return self.store.group()

    def trust_problems(self, *, recheck: bool = False) -> list[str]:
        """What differs from the store's seal: empty when the device may record on it.

        Checked once per agent (a store found intact stays so for this process: every
        write keeps the seal); ``recheck`` checks again a store found wanting.
        """
        if self._trust is None or (recheck and self._trust):
            self._trust = [problem for _, problem in self.store.check_seal()]
        return self._trust

    def forget_trust(self) -> None:
        """Check the seal again before the next recording (after a repair)."""
        self._trust = None

    def ensure_trusted(self) -> None:
        """Raise :class:`StoreTampered` if the store was changed outside kopsync."""
        problems = self.trust_problems(recheck=True)
        if problems:
            raise StoreTampered(
                f"the store {self.store.path} was changed outside kopsync "
                f"({'; '.join(problems)}); it records nothing until repaired. See what with "
                f"`kopsync edge verify --data {self.data_dir}`, then rebuild it from its "
                f"signed logs with `kopsync edge repair --data {self.data_dir}`"
            )

    def _check_edge(self, drafts: list[Draft]) -> None:
        for d in drafts:
            schema = REGISTRY.get(d.type, d.version)
            if "edge" not in schema.origin:
                raise UsageError(
                    f"{d.type} is issued by the central, not recorded on a device "
                    f"(`kopsync central issue {d.type} …`)"
                )
            check_id(d.aggregate_id, "aggregate id")

    def receive_central(self, envs: list[Envelope]) -> list[Envelope]:
        """Apply already-verified central events exactly once."""
        return self.store.receive_central(envs, self.clock())

    def receive_siblings(self, datas: list[bytes]) -> SiblingReceipt:
        """Check, store and fold events of the cooperative's other devices (the bytes as they
        came: through the province or the hub); refused ones are kept in ``sibling_refused``."""
        issuer = str((self.store.meta("sync") or {}).get("issuer", ISSUER))
        receipt = self.store.receive_siblings(datas, self.clock(), issuer)
        if receipt.refused:
            kept = list(self.store.meta(SIBLING_REFUSED) or [])
            kept += [v.to_json() for v in receipt.refused]
            self.store.set_meta(SIBLING_REFUSED, kept[-REFUSED_KEEP:])
        return receipt

    def observe_clock(self, remote: Hlc) -> Hlc:
        return self.store.observe_clock(remote, self.clock())

    # --- reading --------------------------------------------------------------------
    def head(self) -> Head:
        return self.store.head()

    def log(self, since: int = 0, until: int | None = None) -> Iterator[LogEntry]:
        for env in self.store.events(since, until):
            version, payload = REGISTRY.upcast(env.type, env.version, env.payload)
            yield LogEntry(env, version, payload)

    def verify(self) -> VerifyReport:
        """Check the whole chain against the high-water mark and the central's confirmation."""
        mark_seq, mark_hash = self.store.high_water()
        confirmed = int((self.store.meta("sync") or {}).get("confirmed_seq", 0))
        if confirmed > mark_seq:
            mark_seq, mark_hash = confirmed, b""
        return verify_chain(
            self.store.raw_events(), self.public_key, self.device_id, mark_seq, mark_hash
        )

    def view(self, key: str) -> dict[str, Any] | None:
        return self.store.view(key)

    def status(self) -> dict[str, Any]:
        """Identity, chain head and sync positions (replication fills the latter)."""
        head = self.store.head()
        sync = self.store.meta("sync") or {}
        confirmed = int(sync.get("confirmed_seq", 0))
        return {
            "coop_id": self.coop_id,
            "device_id": self.device_id,
            "last_seq": head.seq,
            "confirmed_seq": confirmed,
            "pending": head.seq - confirmed,
            "last_contact": sync.get("last_contact"),
            "downlink_position": int(sync.get("downlink_position", 0)),
            "siblings": [
                {"device_id": d, "applied_seq": seq}
                for d, seq in sorted(self.store.sibling_heads().items())
            ],
            "hlc": head.hlc.to_wire(),
        }


def _read_key(path: Path) -> DeviceKey:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise StoreNotFound(f"device key {path} is missing; the store cannot sign events") from None
    try:
        return DeviceKey(bytes.fromhex(text))
    except (ValueError, UsageError):
        raise StoreError(f"device key {path} is damaged") from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
