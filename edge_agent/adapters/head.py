"""The end of the device's chain, as the store finds it: the last stored event and the clock."""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.sqlite import SQLiteCursor

from edge_agent.adapters import viewtable
from edge_agent.adapters.reads import MARK_KEY
from edge_agent.adapters.viewtable import ViewWrite
from sync_core import hlc
from sync_core.envelope import stored_hlc
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, digest

CLOCK_KEY = "@clock"


@dataclass(frozen=True, slots=True)
class Head:
    """The end of the device's chain."""

    seq: int
    hash: bytes
    hlc: Hlc


def get_head(c: SQLiteCursor, device_id: str, w: ViewWrite | None, keys: list[str]) -> Head:
    """The chain head is the last stored event; the clock may have been advanced past it
    by the central (view ``@clock``), which is loaded in the same query as ``keys``."""
    if w is None:
        c.execute("SELECT value FROM views WHERE key=?", (CLOCK_KEY,))
        row = c.fetchone()
        seen = None if row is None else viewtable.unpack(row[0])
    else:
        w.load([CLOCK_KEY, MARK_KEY, *keys])
        seen = w.views.pop(CLOCK_KEY)
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
