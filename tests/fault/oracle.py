"""The oracle: what the central must hold, built from the edge logs alone.

Every event a device recorded is in its log, keyed by ``(device_id, seq)`` and carrying its
``event_id``. After the system has converged, the committed central events must equal the
union of the edge logs exactly (byte for byte; no key missing, none twice, none extra), and
the read models the projector wrote must equal a from-scratch pure fold
(``central_projector.projection.folds``) of the oracle's events and of what the central issued
itself (its own events in the record, such as a device's ``DeviceRegistered``). Only what
the central assigns on arrival is taken from its rows for that fold: the receipt time and the
receipt flags (``CLOCK_SKEW``, ``GAP``), which are properties of the delivery, not of the
event, and with them the order of a ``CLOCK_SKEW`` event (as of its receipt: ``rows.order_clock``).

``excluded`` names edge rows that were corrupted on purpose: they must *not* be committed
(never propagated), and they are left out of the expected record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from support.projection import project, snapshot
from support.projector_db import sql_snapshot

from central_projector.projection.folds import Event
from central_projector.record.rows import order_clock
from central_projector.record.tables import events
from edge_agent.app.agent import EdgeAgent
from schemas import REGISTRY
from sync_core.envelope import Envelope

Key = tuple[str, int]


@dataclass
class Verdict:
    """The comparison of the central record and read models with the oracle."""

    events: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatched: int = 0
    extra: int = 0
    propagated: int = 0  # excluded (corrupted) edge rows found committed centrally
    read_models_equal: bool = False
    deaths: list[str] = field(default_factory=list)  # processes that died without a fault
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        bad = self.lost + self.duplicated + self.mismatched + self.extra + self.propagated
        return bad == 0 and self.read_models_equal and not self.deaths

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "mismatched": self.mismatched,
            "extra": self.extra,
            "propagated": self.propagated,
            "read_models_equal": self.read_models_equal,
            "deaths": self.deaths,
            "problems": self.problems[:10],
        }


def edge_logs(agents: Iterable[EdgeAgent]) -> dict[Key, bytes]:
    """Every event of every device's log, by (device_id, seq)."""
    out: dict[Key, bytes] = {}
    for agent in agents:
        for seq, data in agent.store.raw_events():
            out[(agent.device_id, seq)] = bytes(data)
    return out


def check(engine: sa.Engine, oracle: dict[Key, bytes], excluded: Iterable[Key] = ()) -> Verdict:
    """Compare the central store behind ``engine`` with ``oracle`` (see the module docstring)."""
    skip = set(excluded)
    expected = {k: v for k, v in oracle.items() if k not in skip}
    devices = sorted({d for d, _ in oracle})
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                events.c.device_id,
                events.c.seq,
                events.c.event_id,
                events.c.envelope,
                events.c.received_at,
                events.c.flags,
            ).where(events.c.device_id.in_(devices), events.c.status == "committed")
        ).all()
    v = Verdict(events=len(expected))
    keys = Counter((str(r[0]), int(r[1])) for r in rows)
    ids = Counter(str(r[2]) for r in rows)
    v.duplicated = sum(n - 1 for n in keys.values()) + sum(n - 1 for n in ids.values())
    central = {(str(r[0]), int(r[1])): r for r in rows}
    for key, data in expected.items():
        row = central.get(key)
        if row is None:
            v.lost += 1
            v.problems.append(f"lost {key}")
        elif bytes(row[3]) != data:
            v.mismatched += 1
            v.problems.append(f"mismatched {key}")
    for key in central:
        if key in skip:
            v.propagated += 1
            v.problems.append(f"corrupted row {key} was committed")
        elif key not in expected:
            v.extra += 1
            v.problems.append(f"extra {key}")
    if v.lost or v.mismatched:
        v.problems.append("read models not compared: the record differs")
        return v
    folded = [_event(data, central[key]) for key, data in expected.items()]
    # what the central issued itself (e.g. DeviceRegistered when a device is registered) is in
    # the record beside the devices' events and folded with them
    with engine.connect() as conn:
        issued = conn.execute(
            sa.select(
                events.c.envelope, events.c.received_at, events.c.flags, events.c.device_id
            ).where(events.c.device_id.not_in(devices), events.c.status == "committed")
        ).all()
    folded += [_event(bytes(r[0]), (None, None, None, None, r[1], r[2])) for r in issued]
    v.read_models_equal = sql_snapshot(engine) == snapshot(project(folded))
    if not v.read_models_equal:
        v.problems.append("read models differ from the pure fold of the oracle's events")
    return v


def _event(data: bytes, row: Any) -> Event:
    env = Envelope.decode(data)
    _, payload = REGISTRY.upcast(env.type, env.version, env.payload)
    received, flags = int(row[4]), str(row[5] or "")
    wall, counter = order_clock(env.hlc.wall, env.hlc.counter, flags, received)
    return Event(
        (wall, counter, env.device_id, env.seq),
        env.event_id,
        env.coop_id,
        env.type,
        env.aggregate_id,
        payload,
        received,
        flags,
    )
