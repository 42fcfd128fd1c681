"""Centrally issued events: sealed by the central's issuer key, chained, queued for the downlink.

An issued event is an ``events`` row of the issuer's own chain (device id ``central``) with two
outbox items: its canonical subject (projectors, partners) and the cooperative's downlink
(``kop.down.{coop}``, the devices). :func:`issue_in` writes all three in the caller's
transaction, so a device registration and its ``DeviceRegistered`` fact commit together.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from central_projector.record.rows import canonical_item, event_row
from central_projector.record.tables import device_paths, events, outbox
from schemas import REGISTRY
from sync_core import subjects
from sync_core.envelope import Envelope, seal
from sync_core.errors import UsageError
from sync_core.hlc import Hlc
from sync_core.ids import check_coop_id, check_id, new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey


def checked_payload(event_type: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(schema version, validated payload) of a central event; refuse an edge event type."""
    schema = REGISTRY.get(event_type)
    if "central" not in schema.origin:
        raise UsageError(f"{event_type} is recorded on devices, not issued centrally")
    return schema.version, REGISTRY.validate(event_type, payload)


def issue_in(
    conn: sa.Connection,
    *,
    key: DeviceKey,
    issuer_id: str,
    clock: Hlc,
    lock_rows: bool,
    event_type: str,
    coop_id: str,
    payload: dict[str, Any],
    aggregate_id: str,
    now_ms: int,
) -> Envelope:
    """Seal the issuer's next event and write its row and outbox items in ``conn``."""
    check_coop_id(coop_id)
    check_id(aggregate_id, "aggregate id")
    version, checked = checked_payload(event_type, payload)
    q = (
        sa.select(events.c.seq, events.c.hash)
        .where(events.c.device_id == issuer_id)
        .order_by(events.c.seq.desc())
        .limit(1)
    )
    last = conn.execute(q.with_for_update() if lock_rows else q).first()
    seq, prev = (int(last[0]), last[1]) if last else (0, GENESIS_HASH)
    env = seal(
        key,
        event_id=new_event_id(),
        coop_id=coop_id,
        device_id=issuer_id,
        seq=seq + 1,
        hlc=clock,
        type=event_type,
        version=version,
        aggregate_id=aggregate_id,
        payload=checked,
        prev_hash=prev,
        payload_is_canonical=True,
    )
    conn.execute(sa.insert(events), [event_row(env, "committed", "", now_ms)])
    down = {
        "subject": subjects.downlink(coop_id),
        "data": env.encode(),
        "msg_id": f"{env.device_id}:{env.seq}",
        "headers": "{}",
    }
    conn.execute(sa.insert(outbox), [canonical_item(env), down])
    return env


def has_registration(conn: sa.Connection, issuer_id: str, device_id: str) -> bool:
    """Whether the issuer has told the devices of ``device_id``'s key already."""
    row = conn.execute(
        sa.select(events.c.id)
        .where(
            events.c.device_id == issuer_id,
            events.c.type == "DeviceRegistered",
            events.c.aggregate_id == device_id,
        )
        .limit(1)
    ).first()
    return row is not None


def note_path(conn: sa.Connection, device_id: str, via: str | None, now_ms: int) -> None:
    """Remember how the device reached the central at its latest hello (its hub, or none)."""
    done = conn.execute(
        sa.update(device_paths)
        .where(device_paths.c.device_id == device_id)
        .values(via=via, seen_at=now_ms)
    ).rowcount
    if not done:
        conn.execute(sa.insert(device_paths).values(device_id=device_id, via=via, seen_at=now_ms))
