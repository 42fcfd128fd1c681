"""Rows of the record built from an envelope: an ``events`` row and its canonical outbox item.

Pure: the callers (ingest's writes, the central issuer) insert them in their own transaction.
"""

from __future__ import annotations

import json
from typing import Any

from schemas import REGISTRY
from sync_core import subjects
from sync_core.envelope import Envelope


def event_row(env: Envelope, status: str, flags: str, received_at: int) -> dict[str, Any]:
    """The ``events`` row of ``env`` (``status`` committed or held, ``flags`` space-separated).

    The row's ``hlc_wall``/``hlc_counter`` are the order every projection folds by. An event
    flagged ``CLOCK_SKEW`` (stamped more than 24 h after its receipt) is ordered as of its
    receipt, ``(received_at, 0)``, and a device's order among its own by seq: a device clock in
    the year 2100 would otherwise win every last-writer-wins until 2100. Its envelope (and so
    its signature and what partners receive) keeps the clock it was signed with.
    """
    wall, counter = order_clock(env.hlc.wall, env.hlc.counter, flags, received_at)
    return {
        "device_id": env.device_id,
        "seq": env.seq,
        "event_id": env.event_id,
        "coop_id": env.coop_id,
        "type": env.type,
        "version": env.version,
        "aggregate_id": env.aggregate_id,
        "hlc_wall": wall,
        "hlc_counter": counter,
        "prev_hash": env.prev_hash,
        "hash": env.hash,
        "envelope": env.encode(),
        "received_at": received_at,
        "status": status,
        "flags": flags,
    }


def order_clock(wall: int, counter: int, flags: str, received_at: int) -> tuple[int, int]:
    """The clock an event is ordered by: its own, or ``(received_at, 0)`` if it was flagged
    ``CLOCK_SKEW`` on arrival (see :func:`event_row`)."""
    if "CLOCK_SKEW" in flags.split():
        return received_at, 0
    return wall, counter


def canonical_item(env: Envelope, *, gap: bool = False) -> dict[str, Any]:
    """The ``outbox`` row publishing a committed event on its canonical subject.

    ``gap``: it was applied before a missing predecessor arrived (header ``Kop-Flags: GAP``).
    """
    area = REGISTRY.get(env.type).area
    headers = {"Kop-Flags": "GAP"} if gap else {}
    return {
        "subject": subjects.canonical(env.coop_id, area, env.type),
        "data": env.encode(),
        "msg_id": f"{env.device_id}:{env.seq}",
        "headers": json.dumps(headers),
    }
