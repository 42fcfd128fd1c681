"""Sync health: per device and per cooperative, from every event the central committed.

Conflict rules:
- Device clock wrong: the order stays by HLC; the central store flags an event whose
  HLC is more than 24 h ahead of its receipt (CLOCK_SKEW). Here: CLOCK_SKEW per device,
  with the flagged seqs.
- Gap in a device's seq: events applied after the gap timeout carry the store's GAP flag;
  GAP per device, with those seqs.
Both are sets of (device, seq), so the items are independent of arrival order. Receipt
times (``last_seen``, ``lag_ms``) are the only arrival-dependent figures of the whole
projection; they are kept apart from the business read models.

Rows:
- ``device`` (device_id) = ``{coop_id, events, max_seq, last_wall, last_seen, lag_ms,
  skew_count, skew_seqs, gap_count, gap_seqs, registered, retired}``;
- ``coop`` (coop_id) = ``{events, as_of}``: ``as_of`` is the latest business date any
  event recorded at the cooperative's counters carries (the date arrears are computed at).
"""

from __future__ import annotations

from collections.abc import Iterable

from central_projector.projection.folds.base import Event, Row, State
from central_projector.projection.folds.conflicts import found, report
from schemas import REGISTRY

SHOWN_SEQS = 50  # the smallest flagged seqs listed per device; the count is exact
RECEIPT_FIELDS = ("last_seen", "lag_ms")
# Central events may carry planned dates (a tranche due in July); the business date is
# what the counters have reached.
DATE_FIELDS = (
    "paid_on",
    "disbursed_on",
    "written_off_on",
    "used_on",
    "received_on",
    "dispatched_on",
    "opened_on",
    "approved_on",
    "resigned_on",
)
EDGE_TYPES = frozenset(REGISTRY.types_from("edge"))
_DATES_OF = {
    t: tuple(f.name for f in REGISTRY.get(t).fields if f.name in DATE_FIELDS) for t in EDGE_TYPES
}


def _device(state: State, device_id: str) -> Row:
    return state.get("device", (device_id,)) or {
        "device_id": device_id,
        "coop_id": None,
        "events": 0,
        "max_seq": 0,
        "last_wall": 0,
        "last_seen": 0,
        "lag_ms": 0,
        "skew_count": 0,
        "skew_seqs": [],
        "gap_count": 0,
        "gap_seqs": [],
        "registered": False,
        "retired": False,
        "conflicts": {},
    }


def observe(state: State, ev: Event) -> None:
    """Fold one event (of any type) into its device's and cooperative's health."""
    observe_all(state, [ev])


def observe_all(state: State, events: Iterable[Event]) -> None:
    """Fold a batch of events into device and cooperative health, each row once per batch."""
    devices: dict[str, Row] = {}
    coops: dict[str, Row] = {}
    flagged: set[str] = set()
    for ev in events:
        key = ev.key
        device = key[2]
        row = devices.get(device)
        if row is None:
            row = devices[device] = _device(state, device)
        if row["coop_id"] is None or ev.coop_id < row["coop_id"]:
            row["coop_id"] = ev.coop_id
        row["events"] += 1
        if key[3] > row["max_seq"]:
            row["max_seq"] = key[3]
        if key[0] > row["last_wall"]:
            row["last_wall"] = key[0]
        if ev.received_at >= row["last_seen"]:
            row["last_seen"] = ev.received_at
            row["lag_ms"] = ev.received_at - key[0]
        if ev.flags:
            flags = ev.flags.split()
            if "CLOCK_SKEW" in flags:
                row["skew_count"] += 1
                row["skew_seqs"] = sorted([*row["skew_seqs"], key[3]])[:SHOWN_SEQS]
            if "GAP" in flags:
                row["gap_count"] += 1
                row["gap_seqs"] = sorted([*row["gap_seqs"], key[3]])[:SHOWN_SEQS]
        if row["skew_count"] or row["gap_count"]:
            flagged.add(device)
        coop = coops.get(ev.coop_id)
        if coop is None:
            coop = coops[ev.coop_id] = state.get("coop", (ev.coop_id,)) or {
                "coop_id": ev.coop_id,
                "events": 0,
                "as_of": None,
            }
        coop["events"] += 1
        dates = _DATES_OF.get(ev.type)
        if dates:
            p = ev.payload
            for field in dates:
                day = p.get(field)
                if isinstance(day, str) and (coop["as_of"] is None or day > coop["as_of"]):
                    coop["as_of"] = day
    for device, row in devices.items():
        if device in flagged:
            _report(state, row)
        state.put("device", (device,), row)
    for coop_id, coop in coops.items():
        state.put("coop", (coop_id,), coop)


def _report(state: State, row: Row) -> None:
    items = []
    dev, coop = row["device_id"], row["coop_id"]
    if row["skew_count"]:
        detail = {"device_id": dev, "events": row["skew_count"], "seqs": row["skew_seqs"]}
        items.append(("CLOCK_SKEW", f"device:{dev}", coop, detail))
    if row["gap_count"]:
        detail = {"device_id": dev, "events": row["gap_count"], "seqs": row["gap_seqs"]}
        items.append(("GAP", f"device:{dev}", coop, detail))
    report(state, row, found(*items))


def device_registered(state: State, ev: Event) -> None:
    row = _device(state, ev.aggregate_id)
    row["registered"] = True
    if row["coop_id"] is None or ev.payload["coop_id"] < row["coop_id"]:
        row["coop_id"] = ev.payload["coop_id"]
    state.put("device", (ev.aggregate_id,), row)


def device_retired(state: State, ev: Event) -> None:
    row = _device(state, ev.aggregate_id)
    row["retired"] = True
    state.put("device", (ev.aggregate_id,), row)


HANDLERS = {"DeviceRegistered": device_registered, "DeviceRetired": device_retired}
