"""Which projection stage folds an event, and which rows each stage owns (pure).

Partition key. Most rows belong to one cooperative (members, savings, loans, sales,
stock, prices, quotas, funds, devices, the cooperative's health): their events all carry
that cooperative's ``coop_id``, so hashing the cooperative splits them cleanly. The
conflict rules that cross cooperatives are about *shared* aggregates: the same
entitlement redeemed at two cooperatives, a KHBS card or an allowance overspent from
several, a shipment dispatched by one and received by another, the same NIK registered
at two cooperatives. Their rows (``card``,
``entitlement``, ``allowance``, ``claim``, ``beneficiary``, ``shipment``) are connected
through redemptions into one graph across the province, so no static hash of an id keeps
every such domain together. They get their own stage, ``cross``.

Stages:
- ``p{k}of{n}`` folds every event whose cooperative hashes to ``k`` and writes only the
  per-cooperative rows;
- ``cross`` folds every event that touches a shared aggregate (the aid types, sales and
  their voids, which may debit a card, the shipments) and every event of a central
  issuer, and writes only the shared rows and the issuers' own device rows.

An event of both kinds is folded by both stages, each keeping only its own rows; a row
a stage does not own is *shadowed*: written to nowhere (or, for ``sale`` and ``member``
in ``cross``, to a private copy, because a void's card refund reads the sale it voids and
a member's NIK group is where the member was last placed). Owned rows
never depend on a shadowed row's content except through ``KEPT`` (proved by the
equality property in tests/unit/central_projector/test_partitioned_fold.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from central_projector.projection.folds.base import Event, Key, Row

CROSS = "cross"
ISSUERS = frozenset({"central"})  # device ids of central issuers (store.ISSUER_ID)
SHARED_TABLES = frozenset(
    {"card", "entitlement", "allowance", "claim", "beneficiary", "shipment", "nik_group"}
)
SHARED_SUBJECTS = ("card:", "entitlement:", "allowance:", "nik:")
SHARED_TYPES = frozenset(
    {
        "BeneficiaryEnrolled",
        "CardIssued",
        "CardBlocked",
        "EntitlementGranted",
        "RedemptionAllowanceAllocated",
        "AidRedeemed",
        "AidRedemptionVoided",
        "ShipmentDispatched",
        "ShipmentReceived",
        "ShipmentDiscrepancyRecorded",
        # A KHBS sale debits the card, and which recording of a sale id stands (the first by
        # total order) decides whether it does: the cross stage needs every recording and
        # every void (a void's payload does not name the card either).
        "SaleRecorded",
        "SaleVoided",
        # A NIK is one person in the whole province: the NIK groups are shared, and their
        # members' registrations and profile edits (what places a member in a group) are
        # folded in the cross stage too, on its private copy of the member.
        "MemberRegistered",
        "MemberProfileFieldChanged",
    }
)
KEPT = {CROSS: frozenset({"sale", "member"})}


def partition_of(coop_id: str, partitions: int) -> int:
    """The partition of a cooperative: stable across processes, versions and machines."""
    return zlib.crc32(coop_id.encode()) % partitions


def coop_stage(k: int, partitions: int) -> str:
    return f"p{k}of{partitions}"


def stage_names(partitions: int) -> list[str]:
    """Every stage of a projection over ``partitions`` partitions, ``cross`` first."""
    return [CROSS, *(coop_stage(k, partitions) for k in range(partitions))]


def home_coop(ev: Event) -> str:
    """The cooperative whose rows the event writes (a device registration: the device's)."""
    if ev.type in ("DeviceRegistered", "DeviceRetired"):
        return str(ev.payload.get("coop_id") or ev.coop_id)
    return ev.coop_id


def touches_shared(ev: Event) -> bool:
    return ev.type in SHARED_TYPES or ev.device_id in ISSUERS


def stages_of(ev: Event, partitions: int) -> list[str]:
    """The stages that fold ``ev``."""
    own = coop_stage(partition_of(home_coop(ev), partitions), partitions)
    return [own, CROSS] if touches_shared(ev) else [own]


def may_fold(stage: str, partitions: int, type_: str, coop_id: str, device_id: str) -> bool:
    """Whether ``stage`` can fold an event, from its store columns alone (before decoding).

    ``False`` is certain; ``True`` is decided by :func:`stages_of` on the decoded event.
    """
    if stage == CROSS:
        return type_ in SHARED_TYPES or device_id in ISSUERS
    if type_ in ("DeviceRegistered", "DeviceRetired"):
        return True  # routed by the device's cooperative, in the payload
    return coop_stage(partition_of(coop_id, partitions), partitions) == stage


def select(events: Iterable[Event], stage: str, partitions: int) -> list[Event]:
    return [ev for ev in events if stage in stages_of(ev, partitions)]


def owns(stage: str, table: str, key: Key, row: Row | None) -> bool:
    """Whether ``stage`` writes the row at ``key`` of ``table``.

    A conflict row is owned with the aggregate that reports it, recognised by its subject
    (``row`` is the new row; a deletion is routed by the caller).
    """
    cross = stage == CROSS
    if table in SHARED_TABLES:
        return cross
    if table == "device":
        return (key[0] in ISSUERS) == cross
    if table == "conflict":
        assert row is not None
        subject = str(row["subject"])
        if subject.startswith(SHARED_SUBJECTS):
            return cross
        if subject.startswith("device:"):
            return (subject[len("device:") :] in ISSUERS) == cross
        return not cross
    return not cross
