"""Which rows an event will read: loaded in bulk before a batch is folded.

An adapter that loads these before folding serves almost every ``State.get`` from
memory; rows found only while folding (a NIK group a member moves out of, the stock
a void puts back) are loaded one by one. Missing a key here costs time, never
correctness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from central_projector.projection.folds.base import Event, Key
from central_projector.projection.folds.shop_stock import MAIN, business_day

Touch = tuple[str, Key]


def _by_agg(table: str, coop_scoped: bool = True) -> Callable[[Event], list[Touch]]:
    def keys(ev: Event) -> list[Touch]:
        return [(table, (ev.coop_id, ev.aggregate_id) if coop_scoped else (ev.aggregate_id,))]

    return keys


def _member(ev: Event) -> list[Touch]:
    out: list[Touch] = [("member", (ev.coop_id, ev.aggregate_id))]
    if ev.type == "MemberRegistered":
        out.append(("nik_group", (ev.payload["nik"],)))
    elif ev.type == "MemberProfileFieldChanged" and ev.payload["field"] == "nik":
        out.append(("nik_group", (ev.payload["value"],)))
    elif ev.type == "MembersMerged":
        out += [("member", (ev.coop_id, m)) for m in ev.payload["alias_member_ids"]]
    return out


def _credit(ev: Event) -> list[Touch]:
    repayment = ev.payload.get("reversed_event_id") or ev.event_id
    return [
        ("receivable", (ev.coop_id, ev.aggregate_id)),
        ("credit_repayment", (ev.coop_id, repayment)),
    ]


def _sale(ev: Event) -> list[Touch]:
    out: list[Touch] = [("sale", (ev.coop_id, ev.aggregate_id))]
    if ev.type == "SaleRecorded":
        p = ev.payload
        day, loc = business_day(ev.key[0], ev.coop_id), p.get("location") or MAIN
        for line in p["lines"]:
            out.append(("sales_day", (ev.coop_id, day, line["sku"])))
            out.append(("stock", (ev.coop_id, loc, line["sku"])))
            out.append(("quota_use", (ev.coop_id, line["sku"], day[:7])))
        if p.get("card_uid"):
            out.append(("card", (p["card_uid"],)))
        if any(x["method"] == "member_credit" for x in p["payments"]):
            out.append(("receivable", (ev.coop_id, p.get("member_id") or "")))
    return out


def _stock(ev: Event) -> list[Touch]:
    p = ev.payload
    out: list[Touch] = [("stock", (ev.coop_id, p["location"], p["sku"]))]
    if ev.type == "StockReceived":
        month = business_day(ev.key[0], ev.coop_id)[:7]
        out.append(("quota_use", (ev.coop_id, p["sku"], month)))
    return out


def _aid(ev: Event) -> list[Touch]:
    p = ev.payload
    out: list[Touch] = [("entitlement", (ev.aggregate_id,))]
    if "card_uid" in p:
        out.append(("card", (p["card_uid"],)))
    if "allowance_id" in p:
        out.append(("allowance", (p["allowance_id"],)))
    return out


def _shipment(ev: Event) -> list[Touch]:
    p = ev.payload
    out: list[Touch] = [("shipment", (ev.aggregate_id,))]
    loc = p.get("origin") if ev.type == "ShipmentDispatched" else p.get("location")
    if loc is not None:
        out += [("stock", (ev.coop_id, loc, line["sku"])) for line in p["lines"]]
    return out


KEYS: dict[str, Callable[[Event], list[Touch]]] = {
    "MemberRegistered": _member,
    "MembershipApproved": _member,
    "MemberProfileFieldChanged": _member,
    "MemberResigned": _member,
    "MembersMerged": _member,
    "SavingsAccountOpened": _by_agg("savings"),
    "SavingsDeposited": _by_agg("savings"),
    "SavingsWithdrawn": _by_agg("savings"),
    "SavingsTransactionReversed": _by_agg("savings"),
    "LoanApplied": _by_agg("loan"),
    "LoanApproved": _by_agg("loan"),
    "LoanDisbursed": _by_agg("loan"),
    "LoanRepaymentReceived": _by_agg("loan"),
    "LoanRepaymentReversed": _by_agg("loan"),
    "LoanWrittenOff": _by_agg("loan"),
    "SaleRecorded": _sale,
    "SaleVoided": _sale,
    "MemberCreditRepaid": _credit,
    "MemberCreditRepaymentReversed": _credit,
    "StockReceived": _stock,
    "StockAdjusted": _stock,
    "StockCounted": _stock,
    "PriceSet": lambda ev: [("price", (ev.coop_id, ev.payload["sku"]))],
    "QuotaAllocated": lambda ev: [
        ("quota", (ev.coop_id, ev.payload["program"], ev.payload["sku"], ev.payload["period"])),
        ("quota_use", (ev.coop_id, ev.payload["sku"], ev.payload["period"])),
    ],
    "BeneficiaryEnrolled": _by_agg("beneficiary", coop_scoped=False),
    "CardIssued": _by_agg("card", coop_scoped=False),
    "CardBlocked": _by_agg("card", coop_scoped=False),
    "EntitlementGranted": _aid,
    "AidRedeemed": _aid,
    "AidRedemptionVoided": _aid,
    "RedemptionAllowanceAllocated": _by_agg("allowance", coop_scoped=False),
    "StimulusFundAllocated": _by_agg("fund"),
    "StimulusTrancheDisbursed": _by_agg("fund"),
    "StimulusFundUtilized": _by_agg("fund"),
    "StimulusRevolvingRepaymentMade": _by_agg("fund"),
    "ShipmentDispatched": _shipment,
    "ShipmentReceived": _shipment,
    "ShipmentDiscrepancyRecorded": _shipment,
    "DeviceRegistered": _by_agg("device", coop_scoped=False),
    "DeviceRetired": _by_agg("device", coop_scoped=False),
    "ConflictResolved": _by_agg("resolution", coop_scoped=False),
}


def touches(events: Iterable[Event]) -> dict[str, set[Key]]:
    """The rows a batch of events will read, per table."""
    out: dict[str, set[Key]] = {"device": set(), "coop": set()}
    for ev in events:
        out["device"].add((ev.device_id,))
        out["coop"].add((ev.coop_id,))
        keys = KEYS.get(ev.type)
        if keys is not None:
            for table, key in keys(ev):
                out.setdefault(table, set()).add(key)
    return out
