"""The small pools a history draws from (two NIKs, two skus, two entitlements...), and the
central facts the province issues: small so that the conflict cases happen often.
"""

from __future__ import annotations

from typing import Any

COOP, COOP2 = "6472010001", "6401050012"
DEVICES = (("d1", COOP), ("d2", COOP), ("e1", COOP2))
CENTRAL = "central"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NIKS = ("6472014101900001", "6472015202850002")
NAMES = ("Siti Aminah", "Sitti Aminah", "Budi Santoso")
BIRTHS = ("1990-01-01", "1985-02-12")
MEMBERS = ("M1", "M2", "M3")
ACCOUNTS = ("S1", "S2")
SKUS = ("BERAS-5KG", "LPG-3KG")
LOCATIONS = ("main", "gudang")
ENTITLEMENTS = ("E1", "E2")
CARDS = ("CARD1", "CARD2")
ALLOWANCE = "A1"
LOAN = "L1"
FUND = "SF1"
DATES = ("2026-01-10", "2026-02-10", "2026-03-10", "2026-04-10")
WRITE_OFF_ON = "2026-03-01"
PROFILE_EDITS = (
    ("name", "Siti Aminah"),
    ("name", "Siti A."),
    ("phone", "+6281234567"),
    ("nik", NIKS[0]),
    ("nik", NIKS[1]),
)

Action = tuple[str, str, dict[str, Any]]  # (type, aggregate_id, payload)


def central_facts() -> list[Action]:
    """What the province issues before (and, by HLC, interleaved with) the devices' work."""
    facts: list[Action] = []
    for i, (eid, card) in enumerate(zip(ENTITLEMENTS, CARDS, strict=True)):
        facts.append(("CardIssued", card, {"beneficiary_id": f"B{i}"}))
        facts.append(
            (
                "EntitlementGranted",
                eid,
                {
                    "beneficiary_id": f"B{i}",
                    "card_uid": card,
                    "program": "SEMBAKO",
                    "cycle": "2026-01",
                    "value": 100_000,
                },
            )
        )
    facts.append(
        (
            "RedemptionAllowanceAllocated",
            ALLOWANCE,
            {
                "scope": "COOP",
                "program": "SEMBAKO",
                "cycle": "2026-01",
                "max_count": 2,
                "max_value": 150_000,
            },
        )
    )
    facts.append(
        (
            "StimulusFundAllocated",
            FUND,
            {"amount": 250_000_000, "program_year": 2026, "source": "APBD"},
        )
    )
    facts.append(
        (
            "StimulusTrancheDisbursed",
            FUND,
            {"amount": 100_000_000, "tranche_no": 1, "disbursed_on": DATES[0]},
        )
    )
    return facts


def _register(member: str, nik: str, name: str, birth: str) -> Action:
    return (
        "MemberRegistered",
        member,
        {
            "nik": nik,
            "kk_no": "6472010101900099",
            "name": name,
            "birth_date": birth,
            "desa_code": "6472010001",
        },
    )
