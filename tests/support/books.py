"""Hypothesis histories for the cooperative's books, and oracles computed from the events alone.

The histories mix what the books are made of: loans with drawn terms (flat or declining,
0-18 %, 1-12 months), disbursements, repayments dated across two years (before, on and
after their due dates and a write-off), reversals, and write-offs issued by the province;
KHBS cards credited by value entitlements and debited by redemptions (twice, voided, with
another family's card) and by KHBS payments at the shop (voided, recorded twice).
The oracles recompute, straight from the events, what the read models must show.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from central_projector.projection.folds import Event
from support import creditbooks, ratbooks
from support import histories as H

LOANS = ("L1", "L2")
DAYS = ("2026-01-05", "2026-02-01", "2026-02-20", "2026-04-01", "2026-07-15", "2026-12-31",
        "2027-01-02", "2027-03-01")  # fmt: skip
Action = H.Action


def _terms(loan: str, rate: int, method: str, tenor: int, first_due: str) -> Action:
    payload = {"principal": 1_000_000, "rate_bp": rate, "method": method,
               "tenor_months": tenor, "first_due": first_due}  # fmt: skip
    return ("LoanApproved", loan, payload)


loan_actions: st.SearchStrategy[Action] = st.one_of(
    st.builds(
        lambda loan, m: (
            "LoanApplied",
            loan,
            {"member_id": m, "amount_requested": 1_000_000, "purpose": "modal", "tenor_months": 6},
        ),
        st.sampled_from(LOANS),
        st.sampled_from(H.MEMBERS),
    ),
    st.builds(
        _terms,
        st.sampled_from(LOANS),
        st.sampled_from((0, 1200, 1800)),
        st.sampled_from(("flat", "declining")),
        st.sampled_from((1, 3, 6, 12)),
        st.sampled_from(DAYS[1:4]),
    ),
    st.builds(
        lambda loan, x, d: ("LoanDisbursed", loan, {"amount": x, "disbursed_on": d}),
        st.sampled_from(LOANS),
        st.sampled_from((400_000, 600_000)),
        st.sampled_from(DAYS[:3]),
    ),
    st.builds(
        lambda loan, x, d: (
            "LoanRepaymentReceived",
            loan,
            {"amount": x, "paid_on": d, "receipt_no": "KW"},
        ),
        st.sampled_from(LOANS),
        st.sampled_from((30_000, 110_000, 250_000, 1_500_000)),
        st.sampled_from(DAYS),
    ),
    st.builds(
        lambda loan: (
            "LoanRepaymentReversed",
            loan,
            {"reversed_event_id": "REF", "amount": 1, "reason": "dobel"},
        ),
        st.sampled_from(LOANS),
    ),
)


# --- oracles ------------------------------------------------------------------------------


def loan_payments(events: list[Event], coop: str, loan: str) -> list[Event]:
    """The repayments of a loan that no reversal names."""
    mine = [e for e in events if e.coop_id == coop and e.aggregate_id == loan]
    reversed_ids = {e.payload["reversed_event_id"] for e in mine
                    if e.type == "LoanRepaymentReversed"}  # fmt: skip
    return [e for e in mine if e.type == "LoanRepaymentReceived" and e.event_id not in reversed_ids]


def check_loan(row: dict[str, Any], events: list[Event]) -> None:
    """Conservation of one loan row, against sums over its events."""
    coop, loan = row["coop_id"], row["loan_id"]
    mine = [e for e in events if e.coop_id == coop and e.aggregate_id == loan]
    disbursed = sum(e.payload["amount"] for e in mine if e.type == "LoanDisbursed")
    payments = loan_payments(events, coop, loan)
    assert row["disbursed"] == disbursed
    assert row["principal_repaid"] + row["written_off"] + row["outstanding_principal"] == disbursed
    assert row["interest_charged"] == row["interest_repaid"] + row["interest_outstanding"]
    assert min(row["principal_repaid"], row["interest_repaid"], row["overpaid"],
               row["outstanding_principal"], row["interest_outstanding"]) >= 0  # fmt: skip
    paid = row["principal_repaid"] + row["interest_repaid"] + row["overpaid"] + row["recovered"]
    assert paid == sum(e.payload["amount"] for e in payments)
    write_offs = [e for e in events if e.type == "LoanWrittenOff" and e.aggregate_id == loan
                  and e.coop_id == coop]  # fmt: skip
    if write_offs:
        first = min(write_offs, key=lambda e: (e.payload["written_off_on"], e.key))
        cut = (first.payload["written_off_on"], first.key)
        after = [e for e in payments if (e.payload["paid_on"], e.key) > cut]
        assert row["recovered"] == sum(e.payload["amount"] for e in after)
        assert row["status"] == "WRITTEN_OFF"
        assert row["outstanding_principal"] == 0 == row["interest_outstanding"]
        assert row["interest_charged"] == row["interest_repaid"]
    else:
        assert row["recovered"] == 0
    if row["overpaid"]:
        assert row["outstanding_principal"] == 0 == row["interest_outstanding"]
    # each year's disbursements, and each year's payments split four ways, are the events'
    # (the RAT's interest income of a year is part of them)
    lent: dict[str, int] = {}
    for e in mine:
        if e.type == "LoanDisbursed":
            y = e.payload["disbursed_on"][:4]
            lent[y] = lent.get(y, 0) + e.payload["amount"]
    received: dict[str, int] = {}
    for e in payments:
        received[e.payload["paid_on"][:4]] = (
            received.get(e.payload["paid_on"][:4], 0) + (e.payload["amount"])
        )
    assert set(lent) | set(received) <= set(row["by_year"])
    for year, v in row["by_year"].items():
        assert (v[0], v[1] + v[2] + v[3] + v[4]) == (lent.get(year, 0), received.get(year, 0))
        if v[5]:
            assert write_offs and year == first.payload["written_off_on"][:4]
    years = row["by_year"].values()
    assert sum(v[0] for v in years) == disbursed
    assert sum(v[1] for v in years) == row["principal_repaid"]
    assert sum(v[2] for v in years) == row["interest_repaid"]
    assert sum(v[4] for v in years) == row["recovered"]


# --- the KHBS card wallet -----------------------------------------------------------------

CARDS = ("K1", "K2")
# entitlement -> its card and value; E3 is by items (never drawn on the card)
GRANTS = {"E1": ("K1", 150_000), "E2": ("K1", 100_000), "E3": ("K2", None), "E4": ("K2", 50_000)}


def wallet_facts() -> list[Action]:
    facts: list[Action] = [("CardIssued", c, {"beneficiary_id": f"B-{c}"}) for c in CARDS]
    for ent, (card, value) in GRANTS.items():
        payload: dict[str, Any] = {"beneficiary_id": f"B-{card}", "card_uid": card,
                                   "program": "SEMBAKO", "cycle": "2026-01"}  # fmt: skip
        if value is None:
            payload["items"] = [{"sku": "BERAS-5KG", "qty": 2}]
        else:
            payload["value"] = value
        facts.append(("EntitlementGranted", ent, payload))
    facts.append(("RedemptionAllowanceAllocated", "AL", {"scope": "COOP", "program": "SEMBAKO",
                  "cycle": "2026-01", "max_count": 99, "max_value": 10**9}))  # fmt: skip
    return facts


def _redeem(ent: str, other_card: bool) -> Action:
    card, value = GRANTS[ent]
    if other_card:
        card = CARDS[1 - CARDS.index(card)]
    payload = {"card_uid": card, "allowance_id": "AL", "value": value or 70_000,
               "verification": "CHIP_PIN"}  # fmt: skip
    return ("AidRedeemed", ent, payload)


def _khbs_sale(sale: str, card: str, qty: int, split: bool) -> Action:
    total = qty * 40_000
    khbs = total - 10_000 if split else total
    payments = [{"method": "khbs", "amount": khbs}]
    if split:
        payments.append({"method": "cash", "amount": 10_000})
    lines = [{"sku": "BERAS-5KG", "qty": qty, "unit_price": 40_000}]
    return ("SaleRecorded", sale, {"lines": lines, "payments": payments, "card_uid": card,
                                   "stock_override_reason": "stok belum dicatat"})  # fmt: skip


wallet_actions: st.SearchStrategy[Action] = st.one_of(
    st.builds(_redeem, st.sampled_from(sorted(GRANTS)), st.just(False)),
    st.builds(_redeem, st.sampled_from(sorted(GRANTS)), st.booleans()),
    st.builds(
        lambda ent: ("AidRedemptionVoided", ent, {"redemption_event_id": "REF", "reason": "x"}),
        st.sampled_from(sorted(GRANTS)),
    ),
    st.builds(
        _khbs_sale,
        st.sampled_from(("KS1", "KS2", "KS3")),
        st.sampled_from(CARDS),
        st.integers(1, 4),
        st.booleans(),
    ),
    st.builds(
        lambda sale: ("SaleVoided", sale, {"reason": "batal"}),
        st.sampled_from(("KS1", "KS2", "KS3")),
    ),
)


def first_recordings(events: list[Event]) -> dict[tuple[str, str], Event]:
    """The recording that stands for each (cooperative, sale id): the first by total order."""
    out: dict[tuple[str, str], Event] = {}
    for e in sorted(events, key=lambda e: e.key):
        if e.type == "SaleRecorded":
            out.setdefault((e.coop_id, e.aggregate_id), e)
    return out


def card_entries(events: list[Event], card: str) -> list[tuple[Any, int]]:
    """(order key, signed amount) of every credit (+) and debit (−) of one card wallet."""
    standing: dict[str, Event] = {}
    for e in events:
        later = e.aggregate_id not in standing or standing[e.aggregate_id].key < e.key
        if e.type == "EntitlementGranted" and later:
            standing[e.aggregate_id] = e
    entries = [(g.key, g.payload["value"]) for g in standing.values()
               if g.payload["card_uid"] == card and g.payload.get("value") is not None]  # fmt: skip
    voided = {e.payload["redemption_event_id"] for e in events if e.type == "AidRedemptionVoided"}
    for ent, grant in standing.items():
        if grant.payload.get("value") is None:
            continue
        live = [e for e in events if e.type == "AidRedeemed" and e.aggregate_id == ent
                and e.event_id not in voided]  # fmt: skip
        if live:
            winner = min(live, key=lambda e: e.key)
            if winner.payload["card_uid"] == card:
                entries.append((winner.key, -winner.payload["value"]))
    voids = {(e.coop_id, e.aggregate_id) for e in events if e.type == "SaleVoided"}
    for key, sale in first_recordings(events).items():
        khbs = sum(p["amount"] for p in sale.payload["payments"] if p["method"] == "khbs")
        if sale.payload.get("card_uid") == card and khbs and key not in voids:
            entries.append((sale.key, -khbs))
    return sorted(entries)


def check_card(row: dict[str, Any], events: list[Event], items: list[dict[str, Any]]) -> None:
    """The wallet pays out no more than its value without an OVERSPEND item of exactly the
    excess: the debits walked in total order from the events, the uncovered parts summed."""
    available = excess = credited = spent = 0
    for _key, amount in card_entries(events, row["card_uid"]):
        if amount > 0:
            available += amount
            credited += amount
        else:
            covered = min(-amount, available)
            available -= covered
            spent -= amount
            excess += -amount - covered
    assert (row["credited"], row["spent"], row["overspend"]) == (credited, spent, excess)
    assert row["available"] == available
    assert spent - excess <= credited  # what it paid out covered never exceeds its value
    mine = [i for i in items if i["subject"] == f"card:{row['card_uid']}"]
    if excess:
        assert [i["detail"]["overspend"] for i in mine] == [excess]
    else:
        assert mine == []


@st.composite
def books_histories(
    draw: st.DrawFn, parts: tuple[str, ...] = ("loans", "wallet"), max_per_device: int = 10
) -> list[Event]:
    """The province's reference data and write-offs, then two or three counters working
    after it reached them (their hybrid clocks are past it), on the parts of the books
    named: ``loans``, ``wallet``, ``rat`` (goods and savings; a counter may work a day
    earlier, in the year before), ``credit`` (sales on member credit and repayments)."""
    facts: list[Action] = []
    actions: list[st.SearchStrategy[Action]] = []
    if "wallet" in parts:
        facts += wallet_facts()
        actions.append(wallet_actions)
    if "loans" in parts:
        for loan in LOANS:
            if draw(st.booleans()):
                day = draw(st.sampled_from(DAYS[2:6]))
                facts.append(("LoanWrittenOff", loan, {"amount": 777_000, "written_off_on": day}))
        actions.append(loan_actions)
    if "rat" in parts:
        actions.append(ratbooks.rat_actions)
    if "credit" in parts:
        actions.append(creditbooks.credit_actions)
    events = H.central_events(facts, [H.T0 + i for i in range(len(facts))])
    for device, coop in H.DEVICES[: draw(st.integers(2, 3))]:
        first: tuple[Action, ...] = ()
        if "loans" in parts and draw(st.booleans()):  # a loan taken out properly
            loan = draw(st.sampled_from(LOANS))
            rate = draw(st.sampled_from((1200, 1800)))
            method = draw(st.sampled_from(("flat", "declining")))
            tenor = draw(st.sampled_from((3, 6, 12)))
            first = (
                _terms(loan, rate, method, tenor, DAYS[1]),
                ("LoanDisbursed", loan, {"amount": 1_000_000, "disbursed_on": DAYS[0]}),
            )
        run = draw(H.device_runs(device, coop, max_per_device, st.one_of(*actions), first))
        shift = 1000 - (ratbooks.DAY_MS if "rat" in parts and draw(st.booleans()) else 0)
        events += [e._replace(key=(e.key[0] + shift, *e.key[1:])) for e in run]
    return sorted(H.link_references(events, draw), key=lambda e: e.key)


def loan_histories(max_per_device: int = 10) -> st.SearchStrategy[list[Event]]:
    return books_histories(("loans",), max_per_device)


def wallet_histories(max_per_device: int = 10) -> st.SearchStrategy[list[Event]]:
    return books_histories(("wallet",), max_per_device)
