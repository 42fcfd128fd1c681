"""Verification of the central store: every stored event re-checked against its device's key.

The store is the system of record, so a row changed on disk (a bad sector, a mistaken
``UPDATE``, an intruder) must be found, not trusted. For each device, in seq order, every
committed row must decode to an envelope of that device and seq whose canonical hash is the
row's ``hash``, whose signature verifies with the registered key (the central's own issuer
key for centrally issued events), and whose ``prev_hash`` links to the row before it; the
end of the gapless prefix must be the device's recorded ``committed_seq`` and
``committed_hash``. Held rows (waiting behind a gap) and rows applied after a gap timed out
(flag ``GAP``, a hole the store already reports) are checked the same way except for the link.
Every bad row is named.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from central_projector.record.tables import central_meta, devices, events
from sync_core.envelope import Envelope
from sync_core.errors import IntegrityError
from sync_core.signing import GENESIS_HASH, DeviceKey, digest


@dataclass(frozen=True, slots=True)
class BadRow:
    """A stored event that does not verify; ``seq`` is the row's seq."""

    device_id: str
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class StoreReport:
    checked: int
    devices: int
    bad: list[BadRow]

    @property
    def ok(self) -> bool:
        return not self.bad


def verify_store(engine: sa.Engine, issuer_id: str = "central") -> StoreReport:
    """Re-check every stored event of every device (see the module docstring)."""
    bad: list[BadRow] = []
    checked = 0
    with engine.connect() as conn:
        keys = {r.device_id: r for r in conn.execute(sa.select(devices))}
        issuer = conn.execute(
            sa.select(central_meta.c.value).where(central_meta.c.key == "issuer_key")
        ).scalar()
        heads = {d: (int(r.committed_seq), bytes(r.committed_hash)) for d, r in keys.items()}
        pubkeys = {d: bytes(r.public_key) for d, r in keys.items()}
        if issuer is not None:
            pubkeys[issuer_id] = DeviceKey(bytes(issuer)).public_key
        owners = [r[0] for r in conn.execute(sa.select(events.c.device_id).distinct())]
        for device_id in sorted(owners):
            key = pubkeys.get(device_id)
            if key is None:
                bad.append(BadRow(device_id, 0, "events of a device that is not registered"))
                continue
            n, problems = _check_device(conn, device_id, key, heads.get(device_id))
            checked += n
            bad.extend(problems)
    return StoreReport(checked, len(owners), bad)


def _rows(conn: sa.Connection, device_id: str) -> Iterator[sa.Row[Any]]:
    q = (
        sa.select(
            events.c.seq,
            events.c.envelope,
            events.c.hash,
            events.c.prev_hash,
            events.c.status,
            events.c.flags,
        )
        .where(events.c.device_id == device_id)
        .order_by(events.c.seq)
    )
    yield from conn.execution_options(yield_per=1000).execute(q)


def _check_device(
    conn: sa.Connection, device_id: str, key: bytes, head: tuple[int, bytes] | None
) -> tuple[int, list[BadRow]]:
    bad: list[BadRow] = []
    prev_seq, prev_hash, checked = 0, GENESIS_HASH, 0
    prefix: tuple[int, bytes] | None = None  # the end of the gapless prefix, once passed
    prev_bad = False  # a bad row's successor cannot be judged by its link: name the bad one
    for seq, envelope, row_hash, row_prev, status, flags in _rows(conn, device_id):
        seq, data = int(seq), bytes(envelope)
        checked += 1
        reason = _check_row(device_id, seq, data, bytes(row_hash), bytes(row_prev), key)
        after_gap = "GAP" in (flags or "").split()
        if after_gap and prefix is None:
            prefix = (prev_seq, prev_hash)
        if reason is None and status == "committed" and not after_gap:
            if seq != prev_seq + 1:
                reason = f"seqs {prev_seq + 1}..{seq - 1} are missing before it"
            elif bytes(row_prev) != prev_hash and not prev_bad:
                reason = f"does not link to seq {prev_seq}"
        prev_bad = reason is not None
        if reason is not None:
            bad.append(BadRow(device_id, seq, reason))
        if status == "committed":
            prev_seq, prev_hash = seq, digest(data)
    end = prefix or (prev_seq, prev_hash)
    if head is not None and head != end and device_id != "central":
        bad.append(
            BadRow(device_id, head[0], f"the device record says committed up to seq {head[0]} "
                   f"but the stored chain ends at seq {end[0]} or its hash differs")
        )  # fmt: skip
    return checked, bad


def _check_row(
    device_id: str, seq: int, data: bytes, row_hash: bytes, row_prev: bytes, key: bytes
) -> str | None:
    try:
        env = Envelope.decode(data)
        env.verify_signature(key)
    except IntegrityError as exc:
        return str(exc)
    if (env.device_id, env.seq) != (device_id, seq):
        return f"the row holds {env.device_id} seq {env.seq}"
    if digest(data) != row_hash:
        return "its hash column does not match its bytes"
    if env.prev_hash != row_prev:
        return "its prev_hash column does not match its bytes"
    return None
