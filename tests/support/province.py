"""Two provinces' worth of cooperatives in a real central store, projected: for the roll-up,
console and metrics tests.

Central Kalimantan (62): Bapinang Hilir (6202081007) and Kalampangan (6271031004) both
redeem entitlement E1 of a beneficiary of Bapinang Hilir (a DUPLICATE_REDEMPTION, open);
East Kalimantan (64): Paser Belengkong (6401050012) sells more rice than it received
(NEGATIVE_STOCK, open). Savings, a loan in arrears, a stimulus fund and members in each.
Events are stored as committed rows as the projector tests do (ingest is not under test).
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds import Event
from central_projector.projection.projector import Projector
from central_projector.record import tables
from central_projector.record.store import CentralStore
from central_projector.record.tables import devices
from support.projector_db import deliver

BAPINANG, KALAMPANGAN, PASER = "6202081007", "6271031004", "6401050012"
DEVICES = (("bph-kasir-1", BAPINANG), ("klp-kasir-1", KALAMPANGAN), ("pb-kasir-1", PASER))
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
CENTRAL = "central"


def _central() -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        ("CardIssued", BAPINANG, "KHBS-1", {"beneficiary_id": "B1"}),
        (
            "EntitlementGranted",
            BAPINANG,
            "E1",
            {"beneficiary_id": "B1", "card_uid": "KHBS-1", "program": "SEMBAKO",
             "cycle": "2026-01", "value": 300_000},
        ),
        *(
            ("RedemptionAllowanceAllocated", coop, f"A-{coop}",
             {"scope": "COOP", "program": "SEMBAKO", "cycle": "2026-01", "max_count": 5,
              "max_value": 1_500_000})
            for coop in (BAPINANG, KALAMPANGAN)
        ),
        (
            "StimulusFundAllocated",
            PASER,
            "SF-PB",
            {"amount": 250_000_000, "program_year": 2026, "source": "APBD"},
        ),
        (
            "StimulusTrancheDisbursed",
            PASER,
            "SF-PB",
            {"amount": 100_000_000, "tranche_no": 1, "disbursed_on": "2026-01-05"},
        ),
    ]  # fmt: skip


def _edge(coop: str) -> list[tuple[str, str, dict[str, Any]]]:
    member = {
        "nik": f"{coop[:6]}0101900001",
        "kk_no": f"{coop[:6]}0101900099",
        "name": "Siti Aminah",
        "birth_date": "1990-01-01",
        "desa_code": coop[:10],
    }
    actions: list[tuple[str, str, dict[str, Any]]] = [
        ("MemberRegistered", f"M-{coop}", member),
        ("MembershipApproved", f"M-{coop}", {"approved_on": "2026-01-02"}),
        (
            "SavingsAccountOpened",
            f"S-{coop}",
            {"member_id": f"M-{coop}", "product": "WAJIB", "opened_on": "2026-01-02"},
        ),
        ("SavingsDeposited", f"S-{coop}", {"amount": 1_234_567, "receipt_no": "KW1"}),
        (
            "LoanApplied",
            f"L-{coop}",
            {"member_id": f"M-{coop}", "amount_requested": 1_000_000, "purpose": "modal",
             "tenor_months": 10},
        ),
        (
            "LoanApproved",
            f"L-{coop}",
            {"principal": 1_000_000, "rate_bp": 1200, "method": "flat", "tenor_months": 10,
             "first_due": "2026-02-01"},
        ),
        ("LoanDisbursed", f"L-{coop}", {"amount": 1_000_000, "disbursed_on": "2026-01-03"}),
        ("LoanRepaymentReceived", f"L-{coop}",
         {"amount": 112_000, "paid_on": "2026-02-01", "receipt_no": "KW2"}),
        ("StockReceived", "BERAS-5KG", {"sku": "BERAS-5KG", "qty": 2, "location": "main",
                                        "supplier": "Bulog", "doc_no": "DO-1",
                                        "unit_cost": 60_000}),
        ("SaleRecorded", f"SL-{coop}",
         {"lines": [{"sku": "BERAS-5KG", "qty": 1, "unit_price": 72_500}],
          "payments": [{"method": "cash", "amount": 72_500}], "location": "main",
          "member_id": f"M-{coop}"}),
    ]  # fmt: skip
    if coop in (BAPINANG, KALAMPANGAN):
        actions.append(
            (
                "AidRedeemed",
                "E1",
                {
                    "card_uid": "KHBS-1",
                    "allowance_id": f"A-{coop}",
                    "value": 300_000,
                    "verification": "CHIP",
                },
            )
        )
    if coop == PASER:
        actions.append(
            ("SaleRecorded", "SL-PB-2",
             {"lines": [{"sku": "BERAS-5KG", "qty": 5, "unit_price": 72_500}],
              "payments": [{"method": "cash", "amount": 362_500}], "location": "main"})
        )  # fmt: skip
    return actions


def history(day: int = 0, central_from: int = 1) -> list[Event]:
    """The events of the two provinces; ``day`` shifts every HLC by whole days; the central's
    own events are numbered from ``central_from`` (after those a store already issued)."""
    base = T0 + day * 86_400_000
    out: list[Event] = []
    for seq, (t, coop, agg, payload) in enumerate(_central(), start=central_from):
        out.append(Event((base + seq, 0, CENTRAL, seq), f"c-{seq}", coop, t, agg, payload))
    for n, (device, coop) in enumerate(DEVICES):
        for seq, (t, agg, payload) in enumerate(_edge(coop), start=1):
            key = (base + 1_000 * (n + 1) + seq, 0, device, seq)
            out.append(Event(key, f"{device}-{seq}", coop, t, agg, payload, key[0] + 10))
    return out


def seed(url: str) -> None:
    """Register the devices, store the events and project them."""
    with CentralStore(url) as store:
        for device, coop in DEVICES:
            store.register_device(coop, device, os.urandom(32))
        with store.engine.connect() as conn:  # each registration issued a DeviceRegistered
            issued = conn.execute(
                sa.select(sa.func.max(tables.events.c.seq)).where(
                    tables.events.c.device_id == CENTRAL
                )
            ).scalar()
        events = history(central_from=(issued or 0) + 1)
        with Projector(url) as projector:
            deliver(store.engine, events, set())
            projector.run_once()
        # what ingest records of each contact
        with store.engine.begin() as conn:
            for device, _ in DEVICES:
                seen = max(e.received_at for e in events if e.device_id == device)
                conn.execute(
                    sa.update(devices).where(devices.c.device_id == device).values(last_seen=seen)
                )
