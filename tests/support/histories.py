"""Hypothesis strategies for multi-device histories that hit every conflict case.

A history is a list of :class:`central_projector.projection.folds.Event`: a few central facts
(entitlements, cards, an allowance, a stimulus fund, a write-off) and, per device, a run
of edge events with gapless seqs and increasing HLCs. Small pools make the cases happen
often: two NIKs for many registrations (duplicates and collisions), two entitlements
redeemed on any device (duplicate redemptions, overspent allowance), two skus sold from
little stock (negative stock), sales on member credit and repayments of it (overpaid),
profile edits of identity fields on several devices, repayments dated before and after a
write-off, voids and reversals that name events of the same history, and the store's
CLOCK_SKEW and GAP flags.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from central_projector.projection.folds import Event

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


amounts = st.sampled_from((5_000, 10_000, 50_000))
qtys = st.integers(1, 3)

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
    st.builds(
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
    ),
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
    st.builds(
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
    ),
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


REFERRING = {
    "SavingsTransactionReversed": ("SavingsDeposited", "SavingsWithdrawn"),
    "LoanRepaymentReversed": ("LoanRepaymentReceived",),
    "AidRedemptionVoided": ("AidRedeemed",),
}


@st.composite
def device_runs(
    draw: st.DrawFn,
    device: str,
    coop: str,
    max_size: int = 8,
    actions_from: st.SearchStrategy[Action] = edge_actions,
    first: tuple[Action, ...] = (),
) -> list[Event]:
    """One device's events (``first``, then drawn ones): seq 1..n, increasing HLC, some
    flagged by the store."""
    actions = [*first, *draw(st.lists(actions_from, min_size=1, max_size=max_size))]
    wall = T0 + draw(st.integers(0, 4)) * 1000
    out: list[Event] = []
    for seq, (etype, agg, payload) in enumerate(actions, start=1):
        wall += draw(st.sampled_from((0, 1000, 2500)))
        counter = 0 if not out or out[-1].key[0] < wall else out[-1].key[1] + 1
        flags = draw(st.sampled_from(("", "", "", "", "CLOCK_SKEW", "GAP")))
        out.append(
            Event(
                key=(wall, counter, device, seq),
                event_id=f"ev-{device}-{seq}",
                coop_id=coop,
                type=etype,
                aggregate_id=agg,
                payload=dict(payload),
                received_at=wall + 5000,
                flags=flags,
            )
        )
    return out


def central_events(facts: list[Action], walls: list[int], start_seq: int = 1) -> list[Event]:
    return [
        Event(
            key=(wall, 0, CENTRAL, seq),
            event_id=f"ev-{CENTRAL}-{seq}",
            coop_id=COOP,
            type=etype,
            aggregate_id=agg,
            payload=payload,
            received_at=wall,
        )
        for seq, ((etype, agg, payload), wall) in enumerate(
            zip(facts, walls, strict=True), start=start_seq
        )
    ]


def link_references(events: list[Event], draw: st.DrawFn) -> list[Event]:
    """Point voids and reversals at events of the same history (or at nothing)."""
    out = []
    for ev in events:
        targets = REFERRING.get(ev.type)
        if targets is None:
            out.append(ev)
            continue
        candidates = [
            e.event_id for e in events if e.type in targets and e.aggregate_id == ev.aggregate_id
        ] or ["ev-nowhere-1"]
        target = draw(st.sampled_from(candidates))
        field = "redemption_event_id" if ev.type == "AidRedemptionVoided" else "reversed_event_id"
        payload = {**ev.payload, field: target}
        if ev.type != "AidRedemptionVoided":
            ref = next((e for e in events if e.event_id == target), None)
            if ref is not None:
                payload["amount"] = ref.payload["amount"]
                if ev.type == "SavingsTransactionReversed":
                    payload["kind"] = "DEPOSIT" if ref.type == "SavingsDeposited" else "WITHDRAWAL"
        out.append(
            Event(
                ev.key,
                ev.event_id,
                ev.coop_id,
                ev.type,
                ev.aggregate_id,
                payload,
                ev.received_at,
                ev.flags,
            )
        )
    return out


@st.composite
def histories(draw: st.DrawFn, max_per_device: int = 8) -> list[Event]:
    """Central facts plus two or three devices' runs, in total order (a *set* of events)."""
    facts = central_facts()
    if draw(st.booleans()):
        facts.append(("LoanWrittenOff", LOAN, {"amount": 900_000, "written_off_on": WRITE_OFF_ON}))
    walls = sorted(
        draw(
            st.lists(st.integers(T0 - 10_000, T0 + 8_000), min_size=len(facts), max_size=len(facts))
        )
    )
    events = central_events(facts, walls)
    n_devices = draw(st.integers(2, 3))
    for device, coop in DEVICES[:n_devices]:
        events += draw(device_runs(device, coop, max_per_device))
    events = link_references(events, draw)
    return sorted(events, key=lambda e: e.key)


def deliveries(draw: st.DrawFn, events: list[Event]) -> list[list[Event]]:
    """Some arrival of ``events``: any permutation, with duplicates, cut into batches."""
    order = draw(st.permutations(events))
    dups = draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    arrival = list(order)
    for dup in dups:
        arrival.insert(draw(st.integers(0, len(arrival))), dup)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(arrival)), max_size=5))))
    batches, start = [], 0
    for cut in [*cuts, len(arrival)]:
        batches.append(arrival[start:cut])
        start = cut
    return batches
