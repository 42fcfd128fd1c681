"""The domain event catalog of every event of all eight areas.

``origin`` says who may record an event: ``edge`` (a cooperative's device,
offline) or ``central`` (the province, delivered over the downlink). The
``aggregate`` names what ``aggregate_id`` in the envelope identifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.fields import Field

Origin = Literal["edge", "central"]
EDGE: frozenset[Origin] = frozenset({"edge"})
CENTRAL: frozenset[Origin] = frozenset({"central"})
BOTH: frozenset[Origin] = frozenset({"edge", "central"})

PRODUCTS = ("POKOK", "WAJIB", "SUKARELA")
PAYMENT_METHODS = ("cash", "khbs", "member_credit")
PROGRAMS = ("LPG_3KG", "PUPUK", "BERAS", "MINYAK", "SEMBAKO", "BLT")
PROFILE_FIELDS = ("name", "phone", "address", "desa_code", "birth_date", "nik", "kk_no")
VERIFICATIONS = ("CHIP_PIN", "CHIP", "MANUAL")


@dataclass(frozen=True, slots=True)
class EventSchema:
    """One version of one event type."""

    type: str
    version: int
    area: str
    aggregate: str
    origin: frozenset[Origin]
    fields: tuple[Field, ...]
    doc: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.type, self.version)


def money(name: str, doc: str = "", *, required: bool = True, positive: bool = True) -> Field:
    return Field(name, "money", required, doc or "integer rupiah", minimum=1 if positive else 0)


def ident(name: str, doc: str = "", *, required: bool = True) -> Field:
    return Field(name, "id", required, doc)


def text(name: str, doc: str = "", *, required: bool = True, max_len: int = 200) -> Field:
    return Field(name, "str", required, doc, max_len=max_len)


def date(name: str, doc: str = "", *, required: bool = True) -> Field:
    return Field(name, "date", required, doc or "business date YYYY-MM-DD")


def enum(name: str, choices: tuple[str, ...], doc: str = "", *, required: bool = True) -> Field:
    return Field(name, "enum", required, doc, choices=choices)


def qty(name: str, doc: str = "", *, minimum: int = 1) -> Field:
    return Field(name, "int", True, doc or "quantity in the item's unit", minimum=minimum)


LINE = (ident("sku"), qty("qty"), money("unit_price", positive=False))
ITEM = (ident("sku"), qty("qty"))
PAYMENT = (enum("method", PAYMENT_METHODS), money("amount"))


def ev(
    type: str,
    area: str,
    aggregate: str,
    origin: frozenset[Origin],
    doc: str,
    *fields: Field,
    version: int = 1,
) -> EventSchema:
    return EventSchema(type, version, area, aggregate, origin, tuple(fields), doc)


CATALOG: tuple[EventSchema, ...] = (
    # --- Membership -------------------------------------------------------------------
    ev(
        "MemberRegistered",
        "membership",
        "Member",
        EDGE,
        "A person joins the cooperative.",
        Field("nik", "digits", doc="national id (NIK)", digits=16, pii="nik"),
        Field("kk_no", "digits", doc="family card number (KK)", digits=16, pii="kk"),
        Field("name", "str", doc="full name", pii="name"),
        date("birth_date"),
        Field("desa_code", "digits", doc="village code, 10 digits without dots", digits=10),
        Field("phone", "str", False, "phone number", max_len=20, pii="phone"),
    ),
    ev(
        "MembershipApproved",
        "membership",
        "Member",
        EDGE,
        "The board approves a member.",
        date("approved_on"),
        Field("approved_by", "str", False, "board member who approved", pii="name"),
    ),
    ev(
        "MemberProfileFieldChanged",
        "membership",
        "Member",
        EDGE,
        "One profile field of a member changes; last writer by total order wins per field.",
        enum("field", PROFILE_FIELDS),
        Field("value", "str", doc="new value", pii="by_field"),
    ),
    ev(
        "MemberResigned",
        "membership",
        "Member",
        EDGE,
        "A member leaves the cooperative.",
        date("resigned_on"),
        text("reason", required=False),
    ),
    ev(
        "MembersMerged",
        "membership",
        "Member",
        CENTRAL,
        "Central resolution: duplicate member ids become aliases of one canonical member.",
        Field("alias_member_ids", "ids", doc="member ids that become aliases"),
        text("note", required=False),
    ),
    # --- Savings ----------------------------------------------------------------------
    ev(
        "SavingsAccountOpened",
        "savings",
        "SavingsAccount",
        EDGE,
        "A savings account opens.",
        ident("member_id"),
        enum("product", PRODUCTS),
        date("opened_on"),
    ),
    ev(
        "SavingsDeposited",
        "savings",
        "SavingsAccount",
        EDGE,
        "Money is paid into savings.",
        money("amount"),
        ident("receipt_no"),
        Field("period", "period", False, "WAJIB month this deposit pays, YYYY-MM"),
    ),
    ev(
        "SavingsWithdrawn",
        "savings",
        "SavingsAccount",
        EDGE,
        "Money is taken out of savings.",
        money("amount"),
        ident("receipt_no"),
    ),
    ev(
        "SavingsTransactionReversed",
        "savings",
        "SavingsAccount",
        EDGE,
        "An earlier deposit or withdrawal is reversed (a new fact; nothing is edited).",
        Field("reversed_event_id", "str", doc="event_id of the reversed transaction", max_len=64),
        enum("kind", ("DEPOSIT", "WITHDRAWAL")),
        money("amount"),
        text("reason"),
    ),
    # --- Loans ------------------------------------------------------------------------
    ev(
        "LoanApplied",
        "loans",
        "Loan",
        EDGE,
        "A member applies for a loan.",
        ident("member_id"),
        money("amount_requested"),
        text("purpose"),
        Field("tenor_months", "int", doc="months", minimum=1, maximum=360),
    ),
    ev(
        "LoanApproved",
        "loans",
        "Loan",
        EDGE,
        "The loan committee approves a loan.",
        money("principal"),
        Field(
            "rate_bp",
            "int",
            doc="interest per year in basis points (1250 = 12.5 %)",
            minimum=0,
            maximum=10_000,
        ),
        enum("method", ("flat", "declining")),
        Field("tenor_months", "int", doc="months", minimum=1, maximum=360),
        date("first_due"),
    ),
    ev(
        "LoanDisbursed",
        "loans",
        "Loan",
        EDGE,
        "The principal is paid out.",
        money("amount"),
        date("disbursed_on"),
    ),
    ev(
        "LoanRepaymentReceived",
        "loans",
        "Loan",
        EDGE,
        "A repayment is received; after a write-off it is a recovery.",
        money("amount"),
        date("paid_on"),
        ident("receipt_no"),
    ),
    ev(
        "LoanRepaymentReversed",
        "loans",
        "Loan",
        EDGE,
        "A recorded repayment is reversed.",
        Field("reversed_event_id", "str", doc="event_id of the reversed repayment", max_len=64),
        money("amount"),
        text("reason"),
    ),
    ev(
        "LoanWrittenOff",
        "loans",
        "Loan",
        CENTRAL,
        "The province writes a loan off.",
        money("amount", "outstanding principal written off"),
        date("written_off_on"),
        text("reason", required=False),
    ),
    # --- Shop and stock ---------------------------------------------------------------
    ev(
        "PriceSet",
        "shop",
        "StockItem",
        BOTH,
        "The selling price of an item is set.",
        ident("sku"),
        money("unit_price"),
        date("effective_from", required=False),
    ),
    ev(
        "SaleRecorded",
        "shop",
        "Sale",
        EDGE,
        "A sale at the counter (v1: one payment).",
        Field("lines", "records", doc="sold lines", items=LINE),
        enum("payment_method", PAYMENT_METHODS),
        money("amount"),
        ident("location", required=False),
    ),
    ev(
        "SaleRecorded",
        "shop",
        "Sale",
        EDGE,
        "A sale at the counter, paid in one or more ways (cash, KHBS card, member credit).",
        Field("lines", "records", doc="sold lines", items=LINE),
        Field(
            "payments", "records", doc="how it was paid; sums to the lines' total", items=PAYMENT
        ),
        ident("location", "where the stock leaves from", required=False),
        ident("member_id", required=False),
        ident("card_uid", required=False),
        text("stock_override_reason", "why the operator let stock go below zero", required=False),
        version=2,
    ),
    ev(
        "SaleRecorded",
        "shop",
        "Sale",
        EDGE,
        "A sale at the counter, paid in one or more ways (cash, KHBS card, member credit); "
        "a unit price other than the device's price list carries the operator's reason.",
        Field("lines", "records", doc="sold lines", items=LINE),
        Field(
            "payments", "records", doc="how it was paid; sums to the lines' total", items=PAYMENT
        ),
        ident("location", "where the stock leaves from", required=False),
        ident("member_id", required=False),
        ident("card_uid", required=False),
        text("stock_override_reason", "why the operator let stock go below zero", required=False),
        text(
            "price_override_reason",
            "why a line is sold at another price than the price list",
            required=False,
        ),
        version=3,
    ),
    ev(
        "SaleVoided",
        "shop",
        "Sale",
        EDGE,
        "A recorded sale is voided; its stock comes back.",
        text("reason"),
    ),
    ev(
        "MemberCreditRepaid",
        "shop",
        "MemberCredit",
        EDGE,
        "A member pays back part or all of what she bought on member credit (her receivable "
        "at the cooperative, piutang anggota); the aggregate id is the member id.",
        money("amount"),
        date("paid_on"),
        ident("receipt_no"),
    ),
    ev(
        "MemberCreditRepaymentReversed",
        "shop",
        "MemberCredit",
        EDGE,
        "A member-credit repayment recorded by mistake is reversed: her receivable goes back "
        "up by what it repaid (a new fact; nothing is edited).",
        Field("reversed_event_id", "str", doc="event_id of the reversed repayment", max_len=64),
        money("amount"),
        text("reason"),
    ),
    ev(
        "StockReceived",
        "shop",
        "StockItem",
        EDGE,
        "Goods arrive into stock.",
        ident("sku"),
        qty("qty"),
        ident("location"),
        text("supplier"),
        ident("doc_no"),
        money("unit_cost", required=False, positive=False),
    ),
    ev(
        "StockAdjusted",
        "shop",
        "StockItem",
        EDGE,
        "Stock is corrected (damage, loss, override).",
        ident("sku"),
        ident("location"),
        Field(
            "delta",
            "int",
            doc="signed change, non-zero",
            minimum=-(10**9),
            maximum=10**9,
            nonzero=True,
        ),
        text("reason"),
    ),
    ev(
        "StockCounted",
        "shop",
        "StockItem",
        EDGE,
        "A physical count of one item.",
        ident("sku"),
        ident("location"),
        qty("counted_qty", minimum=0),
    ),
    ev(
        "QuotaAllocated",
        "shop",
        "StockItem",
        CENTRAL,
        "A quota of subsidised goods is allocated to the cooperative.",
        enum("program", PROGRAMS),
        ident("sku"),
        qty("qty"),
        Field("period", "period"),
    ),
    # --- Aid (KHBS) -------------------------------------------------------------------
    ev(
        "BeneficiaryEnrolled",
        "aid",
        "Beneficiary",
        CENTRAL,
        "A family is enrolled for aid.",
        Field("kk_no", "digits", doc="family card number (KK)", digits=16, pii="kk"),
        Field("home_coop", "coop_id"),
        Field("head_name", "str", False, "head of family", pii="name"),
    ),
    ev(
        "CardIssued",
        "aid",
        "Card",
        CENTRAL,
        "A KHBS card is issued to a beneficiary.",
        ident("beneficiary_id"),
    ),
    ev("CardBlocked", "aid", "Card", CENTRAL, "A KHBS card is blocked.", text("reason")),
    ev(
        "EntitlementGranted",
        "aid",
        "Entitlement",
        CENTRAL,
        "A beneficiary is entitled to aid in a cycle, as a value or as items.",
        ident("beneficiary_id"),
        ident("card_uid"),
        enum("program", PROGRAMS),
        Field("cycle", "period"),
        money("value", required=False),
        Field("items", "records", False, "goods instead of a value", items=ITEM),
    ),
    ev(
        "RedemptionAllowanceAllocated",
        "aid",
        "Allowance",
        CENTRAL,
        "How many redemptions (and how much value) a device or cooperative may make offline.",
        enum("scope", ("DEVICE", "COOP")),
        Field("device_id", "device_id", False, "the device, when scope is DEVICE"),
        enum("program", PROGRAMS),
        Field("cycle", "period"),
        Field("max_count", "int", minimum=0, maximum=10**7),
        money("max_value", positive=False),
    ),
    ev(
        "AidRedeemed",
        "aid",
        "Entitlement",
        EDGE,
        "A family redeems an entitlement.",
        ident("card_uid"),
        ident("allowance_id"),
        money("value", positive=False),
        enum("verification", VERIFICATIONS),
    ),
    ev(
        "AidRedemptionVoided",
        "aid",
        "Entitlement",
        EDGE,
        "A redemption is voided.",
        Field("redemption_event_id", "str", doc="event_id of the voided redemption", max_len=64),
        text("reason"),
    ),
    # --- Stimulus fund ----------------------------------------------------------------
    ev(
        "StimulusFundAllocated",
        "stimulus",
        "StimulusFund",
        CENTRAL,
        "A revolving stimulus fund is allocated to the cooperative.",
        money("amount"),
        Field("program_year", "int", minimum=2025, maximum=2100),
        text("source"),
    ),
    ev(
        "StimulusTrancheDisbursed",
        "stimulus",
        "StimulusFund",
        CENTRAL,
        "A tranche of the fund is paid out to the cooperative.",
        money("amount"),
        Field("tranche_no", "int", minimum=1, maximum=100),
        date("disbursed_on"),
    ),
    ev(
        "StimulusFundUtilized",
        "stimulus",
        "StimulusFund",
        EDGE,
        "The cooperative spends part of the fund.",
        money("amount"),
        enum("purpose", ("WORKING_CAPITAL", "MEMBER_LOANS", "EQUIPMENT", "STOCK", "OTHER")),
        ident("doc_no"),
        date("used_on"),
    ),
    ev(
        "StimulusRevolvingRepaymentMade",
        "stimulus",
        "StimulusFund",
        EDGE,
        "Money lent out of the fund comes back into it.",
        money("amount"),
        date("paid_on"),
        ident("receipt_no"),
        ident("member_id", required=False),
        ident("loan_id", required=False),
    ),
    # --- Logistics --------------------------------------------------------------------
    ev(
        "ShipmentDispatched",
        "logistics",
        "Shipment",
        EDGE,
        "A shipment leaves.",
        ident("origin", "stock location the goods leave"),
        Field("destination", "coop_id"),
        Field("lines", "records", doc="goods shipped", items=ITEM),
        date("dispatched_on"),
        text("stock_override_reason", "why the operator let stock go below zero", required=False),
    ),
    ev(
        "ShipmentReceived",
        "logistics",
        "Shipment",
        EDGE,
        "A shipment arrives.",
        Field("lines", "records", doc="goods received", items=ITEM),
        ident("location"),
        date("received_on"),
    ),
    ev(
        "ShipmentDiscrepancyRecorded",
        "logistics",
        "Shipment",
        EDGE,
        "What arrived differs from what was dispatched.",
        ident("sku"),
        qty("expected_qty", minimum=0),
        qty("received_qty", minimum=0),
        text("reason"),
    ),
    # --- Devices and resolutions ------------------------------------------------------
    ev(
        "DeviceRegistered",
        "devices",
        "Device",
        CENTRAL,
        "A device and its Ed25519 public key are registered.",
        Field("coop_id", "coop_id"),
        Field("public_key", "bytes", max_len=32),
    ),
    ev(
        "DeviceRetired",
        "devices",
        "Device",
        CENTRAL,
        "A device is retired.",
        text("reason"),
        Field(
            "last_seq",
            "int",
            False,
            "the device's last event the central had committed when it was retired: its "
            "events up to it are history its siblings take, later ones are refused",
            minimum=0,
        ),
    ),
    ev(
        "ConflictResolved",
        "devices",
        "Conflict",
        CENTRAL,
        "A person decides a conflict item; the decision is a new fact.",
        ident("decision"),
        text("note", max_len=2000),
        Field("resolved_by", "str", False, "who decided", pii="name"),
    ),
)
