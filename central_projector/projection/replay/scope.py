"""What a replay rebuilds: areas (``--projection``) and cooperatives (``--since``). Pure.

Areas and the rows each owns (a row is written only by its own area's events, and a
conflict item belongs to the area whose rows report it, by kind):

=============  ==============================================  =====================
area           tables                                          conflict kinds
=============  ==============================================  =====================
membership     member, nik_group                               PROFILE_CONFLICT,
                                                               DUPLICATE_NIK,
                                                               NIK_COLLISION
savings        savings
loans          loan                                            LATE_REPAYMENT,
                                                               RECOVERY_AFTER_WRITE_OFF
shop           sale, sales_day, stock, price, quota,           NEGATIVE_STOCK,
               quota_use, stock_moves, receivable,             QUOTA_EXCEEDED,
               credit_repayment                                CREDIT_OVERPAID
aid            beneficiary, card, allowance, entitlement,      DUPLICATE_REDEMPTION,
               claim                                           OVERSPEND
stimulus       fund
logistics      shipment
sync_health    device, coop (every event counts)               CLOCK_SKEW, GAP
resolutions    resolution (ConflictResolved)
=============  ==============================================  =====================

shop, aid and logistics cannot be separated: a KHBS card payment in a sale debits an
aid card, and a shipment moves shop stock. They are replayed together or not at all.

Cooperatives: every row has a ``coop_id``. Rows keyed by cooperative are written only
by that cooperative's events; rows with a global key (NIK groups, entitlements, cards,
allowances, beneficiaries, claims, shipments, decisions) can be written by events of
several (a card redeemed at a second cooperative, a NIK registered at a second one).
:func:`close_coops` grows a set of cooperatives over those shared keys until nothing
outside touches a row inside, so the rows whose ``coop_id`` is in the closed set are a
pure function of that set's events.
Device rows are the exception, split by device instead: a device's health is the fold
of *its* events whatever cooperative they name (the central issuer serves them all),
so a scope rebuilds the rows of the devices that wrote to its cooperatives, from every
event of those devices (:func:`scoped_fold`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from central_projector.projection.folds import (
    aid,
    conflicts,
    loans,
    logistics,
    membership,
    savings,
    shop_stock,
    stimulus,
    sync_health,
)
from central_projector.projection.folds.base import Event, Handler, Key, Okey, Row, State
from central_projector.projection.folds.fold import apply
from sync_core.errors import UsageError


@dataclass(frozen=True, slots=True)
class Area:
    name: str
    tables: tuple[str, ...]
    kinds: tuple[str, ...]
    handlers: Mapping[str, Handler]


AREAS: dict[str, Area] = {
    a.name: a
    for a in (
        Area("membership", ("member", "nik_group"),
             ("PROFILE_CONFLICT", "DUPLICATE_NIK", "NIK_COLLISION"), membership.HANDLERS),
        Area("savings", ("savings",), (), savings.HANDLERS),
        Area("loans", ("loan",), ("LATE_REPAYMENT", "RECOVERY_AFTER_WRITE_OFF"), loans.HANDLERS),
        Area("shop", ("sale", "sales_day", "stock", "price", "quota", "quota_use", "stock_moves",
                      "receivable", "credit_repayment"),
             ("NEGATIVE_STOCK", "QUOTA_EXCEEDED", "CREDIT_OVERPAID"), shop_stock.HANDLERS),
        Area("aid", ("beneficiary", "card", "allowance", "entitlement", "claim"),
             ("DUPLICATE_REDEMPTION", "OVERSPEND"), aid.HANDLERS),
        Area("stimulus", ("fund",), (), stimulus.HANDLERS),
        Area("logistics", ("shipment",), (), logistics.HANDLERS),
        Area("sync_health", ("device", "coop"), ("CLOCK_SKEW", "GAP"), sync_health.HANDLERS),
        Area("resolutions", ("resolution",), (), {"ConflictResolved": conflicts.resolved}),
    )
}  # fmt: skip
ALL = frozenset(AREAS)
# Areas that write each other's rows, and why (see the module docstring).
TIED = {
    "shop": ("aid", "logistics"),
    "aid": ("shop",),
    "logistics": ("shop",),
}
WHY_TIED = "a KHBS card payment in a sale debits an aid card; a shipment moves shop stock"
DEVICE_KINDS = ("CLOCK_SKEW", "GAP")


def projections(names: Iterable[str]) -> frozenset[str]:
    """The areas named by ``--projection`` (all when none), checked to be separable."""
    chosen = frozenset(names)
    if not chosen:
        return ALL
    unknown = sorted(chosen - ALL)
    if unknown:
        raise UsageError(
            f"unknown projection {', '.join(unknown)}; valid: {', '.join(sorted(AREAS))}"
        )
    missing = {t for n in chosen for t in TIED.get(n, ()) if t not in chosen}
    if missing:
        group = sorted(chosen | missing | {t for n in missing for t in TIED.get(n, ())})
        raise UsageError(
            f"{', '.join(sorted(chosen & set(TIED)))} cannot be replayed without "
            f"{', '.join(sorted(missing))} ({WHY_TIED}): give "
            + " ".join(f"--projection {n}" for n in group)
        )
    return chosen


@dataclass(frozen=True)
class Scope:
    """Areas, and (for ``--since``) the closed cooperatives and their devices."""

    areas: frozenset[str] = ALL
    coops: frozenset[str] | None = None
    devices: frozenset[str] | None = None

    @property
    def whole(self) -> bool:
        return self.areas == ALL and self.coops is None

    def tables(self) -> tuple[str, ...]:
        return tuple(t for n in sorted(self.areas) for t in AREAS[n].tables)

    def kinds(self) -> tuple[str, ...]:
        return tuple(k for n in sorted(self.areas) for k in AREAS[n].kinds)

    def handlers(self) -> dict[str, Handler]:
        return {t: h for n in self.areas for t, h in AREAS[n].handlers.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "areas": sorted(self.areas),
            "coops": None if self.coops is None else sorted(self.coops),
            "devices": None if self.devices is None else sorted(self.devices),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scope:
        coops, devices = d.get("coops"), d.get("devices")
        return cls(
            frozenset(d["areas"]),
            None if coops is None else frozenset(coops),
            None if devices is None else frozenset(devices),
        )


# --- cooperatives tied by shared rows ------------------------------------------------------
def shared_keys(type_: str, aggregate_id: str, payload: Mapping[str, Any]) -> list[str]:
    """The globally keyed rows (not keyed by cooperative) an event of ``type_`` may write."""
    if type_ == "MemberRegistered":
        return [f"nik:{payload['nik']}"]
    if type_ == "MemberProfileFieldChanged":
        return [f"nik:{payload['value']}"] if payload.get("field") == "nik" else []
    if type_ == "BeneficiaryEnrolled":
        return [f"ben:{aggregate_id}"]
    if type_ in ("CardIssued", "CardBlocked"):
        return [f"card:{aggregate_id}"]
    if type_ == "RedemptionAllowanceAllocated":
        return [f"alw:{aggregate_id}"]
    if type_ in ("EntitlementGranted", "AidRedeemed", "AidRedemptionVoided"):
        out = [f"ent:{aggregate_id}"]
        if payload.get("card_uid"):
            out.append(f"card:{payload['card_uid']}")
        if payload.get("allowance_id"):
            out.append(f"alw:{payload['allowance_id']}")
        return out
    if type_ == "SaleRecorded":
        return [f"card:{payload['card_uid']}"] if payload.get("card_uid") else []
    if type_.startswith("Shipment"):
        return [f"ship:{aggregate_id}"]
    if type_ == "ConflictResolved":
        return [f"res:{aggregate_id}"]
    return []


SHARING_TYPES = (
    "MemberRegistered", "MemberProfileFieldChanged",
    "BeneficiaryEnrolled", "CardIssued", "CardBlocked", "RedemptionAllowanceAllocated",
    "EntitlementGranted", "AidRedeemed", "AidRedemptionVoided", "SaleRecorded",
    "ShipmentDispatched", "ShipmentReceived", "ShipmentDiscrepancyRecorded", "ConflictResolved",
)  # fmt: skip


def close_coops(start: Iterable[str], links: Iterable[tuple[str, str]]) -> frozenset[str]:
    """``start`` and every cooperative that shares a row with it, transitively.

    ``links`` are (coop_id, shared key) pairs, one per key an event may write."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    coops: set[str] = set()
    for coop, key in links:
        coops.add(coop)
        a, b = find("c:" + coop), find("k:" + key)
        if a != b:
            parent[a] = b
    roots = {find("c:" + c) for c in start}
    return frozenset(start) | frozenset(c for c in coops if find("c:" + c) in roots)


# --- the fold of a scope ------------------------------------------------------------------
class Restricted:
    """A :class:`State` that lets through only the rows ``allowed`` says; others read as
    absent and their writes are dropped (a pass that must not touch them)."""

    def __init__(self, state: State, allowed: Callable[[str, Key], bool]) -> None:
        self.state, self.allowed = state, allowed

    def get(self, table: str, key: Key) -> Row | None:
        return self.state.get(table, key) if self.allowed(table, key) else None

    def put(self, table: str, key: Key, row: Row) -> None:
        if self.allowed(table, key):
            self.state.put(table, key, row)

    def delete(self, table: str, key: Key) -> None:
        if self.allowed(table, key):
            self.state.delete(table, key)

    def add_move(self, stock: Key, okey: Okey, delta: int) -> None:
        self.state.add_move(stock, okey, delta)

    def moves_before(self, stock: Key, okey: Okey) -> int:
        return self.state.moves_before(stock, okey)

    def moves_after(self, stock: Key, okey: Okey) -> bool:
        return self.state.moves_after(stock, okey)

    def pseudonym(self, kind: str, value: str) -> str:
        return self.state.pseudonym(kind, value)

    def add_day(self, table: str, coop: str, day: str, figure: str, delta: int) -> None:
        self.state.add_day(table, coop, day, figure, delta)


def device_conflict_ids(devices: Iterable[str]) -> frozenset[str]:
    return frozenset(
        conflicts.conflict_id(kind, f"device:{d}") for d in devices for kind in DEVICE_KINDS
    )


def scoped_fold(scope: Scope) -> Callable[[State, list[Event]], None]:
    """The fold that writes exactly the scope's rows, given every event (in any batches)."""
    handlers = scope.handlers()
    health = "sync_health" in scope.areas
    coops, devices = scope.coops, scope.devices
    if coops is None:

        def fold_areas(state: State, events: list[Event]) -> None:
            apply(state, events, handlers, health)

        return fold_areas
    mine = devices or frozenset()
    device_handlers = {t: handlers.pop(t) for t in sync_health.HANDLERS if t in handlers}
    device_conflicts = device_conflict_ids(mine)

    def only_coops(table: str, key: Key) -> bool:
        return table == "coop"

    def only_devices(table: str, key: Key) -> bool:
        if table == "device":
            return key[0] in mine
        return table == "conflict" and key[0] in device_conflicts

    def fold_coops(state: State, events: list[Event]) -> None:
        inside = [e for e in events if e.coop_id in coops]
        apply(state, inside, handlers, False)
        if health:
            apply(Restricted(state, only_coops), inside, {}, True)
            theirs = [
                e
                for e in events
                if e.key[2] in mine or (e.type in device_handlers and e.aggregate_id in mine)
            ]
            apply(Restricted(state, only_devices), theirs, device_handlers, True)

    return fold_coops


def in_scope(scope: Scope, table: str, key: Key, row: Row) -> bool:
    """Whether ``scope`` rebuilds this row (what :func:`~.shadow.where` selects in SQL)."""
    if table == "conflict":
        if row["kind"] not in scope.kinds():
            return False
        if scope.coops is None:
            return True
        if row["kind"] in DEVICE_KINDS:
            return any(row["subject"] == f"device:{d}" for d in scope.devices or ())
        return row["coop_id"] in scope.coops
    if table not in scope.tables():
        return False
    if scope.coops is None:
        return True
    if table == "device":
        return key[0] in (scope.devices or ())
    return row["coop_id"] in scope.coops
