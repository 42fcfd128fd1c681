"""Hypothesis histories for the cooperative's books, and oracles computed from the events alone.

The histories mix what the books are made of: loans with drawn terms (flat or declining,
0-18 %, 1-12 months), disbursements, repayments dated across two years (before, on and
after their due dates and a write-off), reversals, and write-offs issued by the province.
The oracles recompute, straight from the events, what the read models must show.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from central_projector.projection.folds import Event
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


@st.composite
def loan_histories(draw: st.DrawFn, max_per_device: int = 10) -> list[Event]:
    """Loans on two or three devices of two cooperatives, and the province's write-offs."""
    facts: list[Action] = []
    for loan in LOANS:
        if draw(st.booleans()):
            day = draw(st.sampled_from(DAYS[2:6]))
            facts.append(("LoanWrittenOff", loan, {"amount": 777_000, "written_off_on": day}))
    walls = sorted(draw(st.lists(st.integers(H.T0, H.T0 + 9_000), min_size=len(facts),
                                 max_size=len(facts))))  # fmt: skip
    events = H.central_events(facts, walls)
    for device, coop in H.DEVICES[: draw(st.integers(2, 3))]:
        first: tuple[Action, ...] = ()
        if draw(st.booleans()):  # a loan taken out properly, so repayments meet a schedule
            loan = draw(st.sampled_from(LOANS))
            rate = draw(st.sampled_from((1200, 1800)))
            method = draw(st.sampled_from(("flat", "declining")))
            tenor = draw(st.sampled_from((3, 6, 12)))
            first = (
                _terms(loan, rate, method, tenor, DAYS[1]),
                ("LoanDisbursed", loan, {"amount": 1_000_000, "disbursed_on": DAYS[0]}),
            )
        events += draw(H.device_runs(device, coop, max_per_device, loan_actions, first))
    return sorted(H.link_references(events, draw), key=lambda e: e.key)


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
    years = row["by_year"].values()
    assert sum(v[0] for v in years) == disbursed
    assert sum(v[1] for v in years) == row["principal_repaid"]
    assert sum(v[2] for v in years) == row["interest_repaid"]
    assert sum(v[4] for v in years) == row["recovered"]
