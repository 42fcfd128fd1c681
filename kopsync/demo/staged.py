"""The staged conflicts of ``kopsync demo`` (see :mod:`kopsync.demo.scenario`): their people,
central events and offline records, as plain data. The people are invented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kopsync.demo.places import COOPERATIVES, MIN_COOPERATIVES

PASER, LEMPAKE, KALAMPANGAN, BAPINANG = (c.coop_id for c in COOPERATIVES[:MIN_COOPERATIVES])
LOAN_COUNTER = "lmp-simpan-pinjam"
LOAN_ID = "L-lmp-rusdiansyah"
DUP_ENTITLEMENT = "E-khbs-klp-202601-0031"
DUP_COUNTERS = ("klp-kasir-1", "bph-kasir-1")
OVERSPEND_COUNTERS = ("pb-kasir-1", "pb-kasir-2")
WRITE_OFF_ON = "2026-01-06"


@dataclass(frozen=True, slots=True)
class Issue:
    """A central event for one cooperative's downlink."""

    type: str
    coop_id: str
    aggregate_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Record:
    """A staged edge event, recorded through the device's local rules."""

    device_id: str
    type: str
    aggregate_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Planned:
    kind: str
    coop_id: str
    subject: str  # the conflict item's subject in the central's queue
    story: str


def allowance_id(coop_id: str, program: str) -> str:
    return f"A-demo-{coop_id}-{program}-202601"


PLANNED = (
    Planned(
        "DUPLICATE_REDEMPTION",
        KALAMPANGAN,
        f"entitlement:{DUP_ENTITLEMENT}",
        "one KHBS entitlement redeemed offline at Kalampangan and at Bapinang Hilir",
    ),
    Planned(
        "OVERSPEND",
        PASER,
        f"allowance:{allowance_id(PASER, 'BLT')}",
        "two offline counters pay out 4 BLT redemptions of an allowance of 3",
    ),
    Planned(
        "OVERSPEND",
        PASER,
        "card:KHBS-64-01-0101",
        "a family's BLT card redeemed at one offline counter and spent at the other's shop",
    ),
    Planned(
        "LATE_REPAYMENT",
        LEMPAKE,
        f"loan:{LEMPAKE}:{LOAN_ID}",
        f"a repayment dated before the loan's write-off on {WRITE_OFF_ON}, recorded after it",
    ),
    Planned(
        "RECOVERY_AFTER_WRITE_OFF",
        LEMPAKE,
        f"loan:{LEMPAKE}:{LOAN_ID}",
        "a repayment recorded offline on a loan the province has written off",
    ),
)

_OVERSPEND_FAMILIES = (
    ("0101", "Jumiati", "6401050303110021"),
    ("0102", "Herman Sulaiman", "6401050707140008"),
    ("0103", "Nur Aisyah", "6401051012160013"),
    ("0104", "Yusuf Andi Pawellangi", "6401050202180030"),
)


def aid() -> tuple[Issue, ...]:
    """The visiting family's entitlement (at two cooperatives) and Paser's BLT allowance."""
    ben, card = "B-khbs-klp-0031", "KHBS-62-71-0031"
    out = [
        Issue(
            "BeneficiaryEnrolled",
            KALAMPANGAN,
            ben,
            {"kk_no": "6271030202150031", "home_coop": KALAMPANGAN, "head_name": "Yohana Lisda"},
        ),
        Issue("CardIssued", KALAMPANGAN, card, {"beneficiary_id": ben}),
    ]
    grant = {
        "beneficiary_id": ben,
        "card_uid": card,
        "program": "SEMBAKO",
        "cycle": "2026-01",
        "value": 200_000,
    }
    for coop in (KALAMPANGAN, BAPINANG):  # the family stays in Bapinang Hilir for the harvest
        out.append(Issue("EntitlementGranted", coop, DUP_ENTITLEMENT, grant))
        out.append(_allowance(coop, "SEMBAKO", 1, 200_000))
    for tag, name, kk in _OVERSPEND_FAMILIES:
        ben, card = f"B-blt-pb-{tag}", f"KHBS-64-01-{tag}"
        out.append(
            Issue(
                "BeneficiaryEnrolled",
                PASER,
                ben,
                {"kk_no": kk, "home_coop": PASER, "head_name": name},
            )
        )
        out.append(Issue("CardIssued", PASER, card, {"beneficiary_id": ben}))
        out.append(
            Issue(
                "EntitlementGranted",
                PASER,
                f"E-blt-pb-202601-{tag}",
                {
                    "beneficiary_id": ben,
                    "card_uid": card,
                    "program": "BLT",
                    "cycle": "2026-01",
                    "value": 300_000,
                },
            )
        )
    out.append(_allowance(PASER, "BLT", 3, 900_000))
    return tuple(out)


def _allowance(coop_id: str, program: str, count: int, value: int) -> Issue:
    payload = {
        "scope": "COOP",
        "program": program,
        "cycle": "2026-01",
        "max_count": count,
        "max_value": value,
    }
    return Issue("RedemptionAllowanceAllocated", coop_id, allowance_id(coop_id, program), payload)


def loan() -> tuple[Record, ...]:
    member = "M-lmp-rusdiansyah"
    registered = {
        "nik": "6472021503850007",
        "kk_no": "6472020101120045",
        "name": "Rusdiansyah",
        "birth_date": "1985-03-15",
        "desa_code": LEMPAKE,
        "phone": "081350441276",
    }
    applied = {
        "member_id": member,
        "amount_requested": 5_000_000,
        "purpose": "modal warung",
        "tenor_months": 12,
    }
    approved = {
        "principal": 5_000_000,
        "rate_bp": 1200,
        "method": "flat",
        "tenor_months": 12,
        "first_due": "2025-07-02",
    }
    return (
        Record(LOAN_COUNTER, "MemberRegistered", member, registered),
        Record(LOAN_COUNTER, "MembershipApproved", member, {"approved_on": "2025-05-20"}),
        Record(LOAN_COUNTER, "LoanApplied", LOAN_ID, applied),
        Record(LOAN_COUNTER, "LoanApproved", LOAN_ID, approved),
        Record(
            LOAN_COUNTER,
            "LoanDisbursed",
            LOAN_ID,
            {"amount": 5_000_000, "disbursed_on": "2025-06-02"},
        ),
        *running_loan(),
    )


def running_loan() -> tuple[Record, ...]:
    """A declining-balance loan paid out in January with its first instalment paid early:
    the loan book a few months on shows it late (PAR30)."""
    member, loan_id = "M-lmp-sartini", "L-lmp-sartini"
    registered = {
        "nik": "6472024708900003",
        "kk_no": "6472020101130012",
        "name": "Sartini",
        "birth_date": "1990-08-07",
        "desa_code": LEMPAKE,
    }
    terms = {"principal": 3_000_000, "rate_bp": 1800, "method": "declining",
             "tenor_months": 6, "first_due": "2026-02-03"}  # fmt: skip
    applied = {"member_id": member, "amount_requested": 3_000_000, "purpose": "modal jahit",
               "tenor_months": 6}  # fmt: skip
    return (
        Record(LOAN_COUNTER, "MemberRegistered", member, registered),
        Record(LOAN_COUNTER, "MembershipApproved", member, {"approved_on": "2025-12-20"}),
        Record(LOAN_COUNTER, "LoanApplied", loan_id, applied),
        Record(LOAN_COUNTER, "LoanApproved", loan_id, terms),
        Record(LOAN_COUNTER, "LoanDisbursed", loan_id,
               {"amount": 3_000_000, "disbursed_on": "2026-01-03"}),
        Record(LOAN_COUNTER, "LoanRepaymentReceived", loan_id,
               {"amount": 530_000, "paid_on": "2026-01-30", "receipt_no": "KW-LMP-0405"}),
        *member_credit(member),
    )  # fmt: skip


def member_credit(member: str) -> tuple[Record, ...]:
    """Thread for her tailoring bought on member credit and partly paid back: a receivable
    of the cooperative at the year's end."""
    received = {"sku": "BENANG-JAHIT", "qty": 20, "location": "main", "supplier": "UD Sinar",
                "doc_no": "SJ-LMP-0311", "unit_cost": 12_000}  # fmt: skip
    sold = {"lines": [{"sku": "BENANG-JAHIT", "qty": 10, "unit_price": 15_000}],
            "payments": [{"method": "member_credit", "amount": 150_000}],
            "member_id": member}  # fmt: skip
    repaid = {"amount": 100_000, "paid_on": "2026-02-03", "receipt_no": "KW-LMP-0450"}
    return (
        Record(LOAN_COUNTER, "StockReceived", "BENANG-JAHIT", received),
        Record(LOAN_COUNTER, "SaleRecorded", "SL-lmp-sartini-1", sold),
        Record(LOAN_COUNTER, "MemberCreditRepaid", member, repaid),
    )


def write_off() -> Issue:
    payload = {
        "amount": 5_000_000,
        "written_off_on": WRITE_OFF_ON,
        "reason": "tunggakan lebih dari 180 hari, debitur tidak dapat dihubungi",
    }
    return Issue("LoanWrittenOff", LEMPAKE, LOAN_ID, payload)


def offline_cases() -> tuple[Record, ...]:
    out = [
        Record(
            d,
            "AidRedeemed",
            DUP_ENTITLEMENT,
            _redeemed("KHBS-62-71-0031", coop, "SEMBAKO", 200_000),
        )
        for d, coop in zip(DUP_COUNTERS, (KALAMPANGAN, BAPINANG), strict=True)
    ]
    for k, (tag, _name, _kk) in enumerate(_OVERSPEND_FAMILIES):
        out.append(
            Record(
                OVERSPEND_COUNTERS[k // 2],
                "AidRedeemed",
                f"E-blt-pb-202601-{tag}",
                _redeemed(f"KHBS-64-01-{tag}", PASER, "BLT", 300_000),
            )
        )
    out += card_spent_twice()
    for receipt, paid_on in (("KW-LMP-0412", "2026-01-05"), ("KW-LMP-0437", "2026-01-12")):
        out.append(
            Record(
                LOAN_COUNTER,
                "LoanRepaymentReceived",
                LOAN_ID,
                {"amount": 250_000, "paid_on": paid_on, "receipt_no": receipt},
            )
        )
    return tuple(out)


def card_spent_twice() -> list[Record]:
    """Jumiati's BLT card, redeemed for its Rp300.000 at the first counter, pays Rp120.000 of
    cooking oil at the second one, which knows nothing of the redemption (both offline): one
    wallet, Rp120.000 beyond its value."""
    counter, sku = OVERSPEND_COUNTERS[1], "MINYAK-GORENG-2L"
    received = {"sku": sku, "qty": 12, "location": "main", "supplier": "UD Paser Jaya",
                "doc_no": "SJ-PB-0220", "unit_cost": 36_000}  # fmt: skip
    sold = {"lines": [{"sku": sku, "qty": 3, "unit_price": 40_000}],
            "payments": [{"method": "khbs", "amount": 120_000}],
            "card_uid": "KHBS-64-01-0101"}  # fmt: skip
    return [
        Record(counter, "StockReceived", sku, received),
        Record(counter, "SaleRecorded", "SL-pb-kasir-2-jumiati", sold),
    ]


def _redeemed(card: str, coop: str, program: str, value: int) -> dict[str, Any]:
    return {
        "card_uid": card,
        "allowance_id": allowance_id(coop, program),
        "value": value,
        "verification": "CHIP_PIN",
    }
