"""What the devices of a history do: one strategy per edge event type, the conflict cases
drawn more often than the rest.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from support.history_pools import (
    ACCOUNTS,
    ALLOWANCE,
    BIRTHS,
    CARDS,
    COOP2,
    DATES,
    ENTITLEMENTS,
    FUND,
    LOAN,
    LOCATIONS,
    MEMBERS,
    NAMES,
    NIKS,
    PROFILE_EDITS,
    SKUS,
    Action,
    _register,
)

amounts = st.sampled_from((5_000, 10_000, 50_000))
qtys = st.integers(1, 3)
# a redemption of one of the pool's entitlements, by its card (in both action lists)
_redeem: st.SearchStrategy[Action] = st.builds(
    lambda e: (
        "AidRedeemed",
        e,
        {
            "card_uid": CARDS[ENTITLEMENTS.index(e)],
            "allowance_id": ALLOWANCE,
            "value": 100_000,
            "verification": "CHIP_PIN",
        },
    ),
    st.sampled_from(ENTITLEMENTS),
)

_edge_actions: st.SearchStrategy[Action] = st.one_of(
    st.builds(
        _register,
        st.sampled_from(MEMBERS),
        st.sampled_from(NIKS),
        st.sampled_from(NAMES),
        st.sampled_from(BIRTHS),
    ),
    st.builds(
        lambda m, fv: ("MemberProfileFieldChanged", m, {"field": fv[0], "value": fv[1]}),
        st.sampled_from(MEMBERS[:2]),
        st.sampled_from(PROFILE_EDITS),
    ),
    st.builds(
        lambda m: ("MembershipApproved", m, {"approved_on": DATES[0]}), st.sampled_from(MEMBERS)
    ),
    st.builds(lambda m: ("MemberResigned", m, {"resigned_on": DATES[2]}), st.sampled_from(MEMBERS)),
    st.builds(
        lambda a, m: (
            "SavingsAccountOpened",
            a,
            {"member_id": m, "product": "SUKARELA", "opened_on": DATES[0]},
        ),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(MEMBERS),
    ),
    st.builds(
        lambda a, x: ("SavingsDeposited", a, {"amount": x, "receipt_no": "KW1"}),
        st.sampled_from(ACCOUNTS),
        amounts,
    ),
    st.builds(
        lambda a, x: ("SavingsWithdrawn", a, {"amount": x, "receipt_no": "KW2"}),
        st.sampled_from(ACCOUNTS),
        amounts,
    ),
    st.builds(
        lambda a, k, x: (
            "SavingsTransactionReversed",
            a,
            {"reversed_event_id": "REF", "kind": k, "amount": x, "reason": "salah"},
        ),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(("DEPOSIT", "WITHDRAWAL")),
        amounts,
    ),
    st.just(
        (
            "LoanApplied",
            LOAN,
            {
                "member_id": "M1",
                "amount_requested": 1_000_000,
                "purpose": "modal",
                "tenor_months": 10,
            },
        )
    ),
    st.just(
        (
            "LoanApproved",
            LOAN,
            {
                "principal": 1_000_000,
                "rate_bp": 1200,
                "method": "flat",
                "tenor_months": 10,
                "first_due": "2026-02-01",
            },
        )
    ),
    st.just(("LoanDisbursed", LOAN, {"amount": 1_000_000, "disbursed_on": DATES[0]})),
    st.builds(
        lambda x, d: (
            "LoanRepaymentReceived",
            LOAN,
            {"amount": x, "paid_on": d, "receipt_no": "KW3"},
        ),
        st.sampled_from((100_000, 110_000)),
        st.sampled_from(DATES),
    ),
    st.just(
        (
            "LoanRepaymentReversed",
            LOAN,
            {"reversed_event_id": "REF", "amount": 100_000, "reason": "dobel"},
        )
    ),
    st.builds(
        lambda sid, lines, khbs, loc: (
            "SaleRecorded",
            sid,
            {
                "lines": [{"sku": s, "qty": q, "unit_price": 10_000} for s, q in lines],
                "payments": _payments(sum(q for _, q in lines) * 10_000, khbs),
                "location": loc,
                **({"card_uid": CARDS[0]} if khbs else {}),
            },
        ),
        st.sampled_from(("SL1", "SL2", "SL3")),
        st.lists(st.tuples(st.sampled_from(SKUS), qtys), min_size=1, max_size=2),
        st.booleans(),
        st.sampled_from(LOCATIONS),
    ),
    st.builds(
        lambda sid: ("SaleVoided", sid, {"reason": "batal"}), st.sampled_from(("SL1", "SL2", "SL3"))
    ),
    st.builds(
        lambda s, q, loc: (
            "StockReceived",
            s,
            {"sku": s, "qty": q, "location": loc, "supplier": "Bulog", "doc_no": "DO1"},
        ),
        st.sampled_from(SKUS),
        st.integers(1, 5),
        st.sampled_from(LOCATIONS),
    ),
    st.builds(
        lambda s, d: (
            "StockAdjusted",
            s,
            {"sku": s, "location": "main", "delta": d, "reason": "rusak"},
        ),
        st.sampled_from(SKUS),
        st.sampled_from((-2, -1, 1)),
    ),
    st.builds(
        lambda s, q: ("StockCounted", s, {"sku": s, "location": "main", "counted_qty": q}),
        st.sampled_from(SKUS),
        st.integers(0, 4),
    ),
    st.builds(
        lambda s, p: ("PriceSet", s, {"sku": s, "unit_price": p}),
        st.sampled_from(SKUS),
        st.sampled_from((9_000, 10_000)),
    ),
    _redeem,
    st.builds(
        lambda e: ("AidRedemptionVoided", e, {"redemption_event_id": "REF", "reason": "dobel"}),
        st.sampled_from(ENTITLEMENTS),
    ),
    st.builds(
        lambda x: (
            "StimulusFundUtilized",
            FUND,
            {"amount": x, "purpose": "STOCK", "doc_no": "BKK1", "used_on": DATES[1]},
        ),
        st.sampled_from((1_000_000, 2_000_000)),
    ),
    st.builds(
        lambda x: (
            "StimulusRevolvingRepaymentMade",
            FUND,
            {"amount": x, "paid_on": DATES[2], "receipt_no": "KW4"},
        ),
        st.sampled_from((500_000, 1_000_000)),
    ),
    st.builds(
        lambda q: (
            "ShipmentDispatched",
            "SH1",
            {
                "origin": "gudang",
                "destination": COOP2,
                "lines": [{"sku": SKUS[0], "qty": q}],
                "dispatched_on": DATES[1],
            },
        ),
        st.integers(1, 4),
    ),
    st.builds(
        lambda q: (
            "ShipmentReceived",
            "SH1",
            {"lines": [{"sku": SKUS[0], "qty": q}], "location": "main", "received_on": DATES[2]},
        ),
        st.integers(1, 4),
    ),
    st.just(
        (
            "ShipmentDiscrepancyRecorded",
            "SH1",
            {"sku": SKUS[0], "expected_qty": 4, "received_qty": 3, "reason": "kurang"},
        )
    ),
    st.builds(
        lambda sid, q, m: (
            "SaleRecorded",
            sid,
            {
                "lines": [{"sku": SKUS[0], "qty": q, "unit_price": 10_000}],
                "payments": [{"method": "member_credit", "amount": q * 10_000}],
                "member_id": m,
            },
        ),
        st.sampled_from(("SL1", "SL2", "SL3")),
        qtys,
        st.sampled_from(MEMBERS[:2]),
    ),
    st.builds(
        lambda m, x, d: ("MemberCreditRepaid", m, {"amount": x, "paid_on": d, "receipt_no": "KW5"}),
        st.sampled_from(MEMBERS[:2]),
        st.sampled_from((10_000, 30_000)),
        st.sampled_from(DATES),
    ),
    st.builds(
        lambda m: (
            "MemberCreditRepaymentReversed",
            m,
            {"reversed_event_id": "REF", "amount": 1, "reason": "salah catat"},
        ),
        st.sampled_from(MEMBERS[:2]),
    ),
)


# The conflict cases are drawn more often than the rest.
_hot: st.SearchStrategy[Action] = st.one_of(
    st.builds(
        _register,
        st.sampled_from(MEMBERS),
        st.just(NIKS[0]),
        st.sampled_from(NAMES[:2]),
        st.just(BIRTHS[0]),
    ),
    st.builds(
        lambda v: ("MemberProfileFieldChanged", "M1", {"field": "name", "value": v}),
        st.sampled_from(("Siti Aminah", "Siti A.")),
    ),
    st.builds(
        _register,
        st.sampled_from(MEMBERS),
        st.sampled_from(NIKS),
        st.sampled_from(NAMES),
        st.sampled_from(BIRTHS),
    ),
    st.builds(
        lambda m, fv: ("MemberProfileFieldChanged", m, {"field": fv[0], "value": fv[1]}),
        st.sampled_from(MEMBERS[:1]),
        st.sampled_from(PROFILE_EDITS),
    ),
    _redeem,
    st.builds(
        lambda d: (
            "LoanRepaymentReceived",
            LOAN,
            {"amount": 100_000, "paid_on": d, "receipt_no": "KW3"},
        ),
        st.sampled_from(DATES),
    ),
)
edge_actions: st.SearchStrategy[Action] = st.one_of(_hot, _edge_actions)


def _payments(total: int, khbs: bool) -> list[dict[str, Any]]:
    if not khbs:
        return [{"method": "cash", "amount": total}]
    return [{"method": "khbs", "amount": total}]
