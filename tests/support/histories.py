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

The pools and central facts are in :mod:`support.history_pools`, what the devices do in
:mod:`support.history_actions`; both are re-exported here, where the tests find them.
"""

from __future__ import annotations

from hypothesis import strategies as st

from central_projector.projection.folds import Event
from support.history_actions import (
    amounts,
    edge_actions,
    qtys,
)
from support.history_pools import (
    ACCOUNTS,
    ALLOWANCE,
    BIRTHS,
    CARDS,
    CENTRAL,
    COOP,
    COOP2,
    DATES,
    DEVICES,
    ENTITLEMENTS,
    FUND,
    LOAN,
    LOCATIONS,
    MEMBERS,
    NAMES,
    NIKS,
    PROFILE_EDITS,
    SKUS,
    T0,
    WRITE_OFF_ON,
    Action,
    _register,
    central_facts,
)

__all__ = [
    "ACCOUNTS",
    "ALLOWANCE",
    "BIRTHS",
    "CARDS",
    "CENTRAL",
    "COOP",
    "COOP2",
    "DATES",
    "DEVICES",
    "ENTITLEMENTS",
    "FUND",
    "LOAN",
    "LOCATIONS",
    "MEMBERS",
    "NAMES",
    "NIKS",
    "PROFILE_EDITS",
    "REFERRING",
    "SKUS",
    "T0",
    "WRITE_OFF_ON",
    "Action",
    "_register",
    "amounts",
    "central_events",
    "central_facts",
    "deliveries",
    "device_runs",
    "edge_actions",
    "histories",
    "link_references",
    "qtys",
]


REFERRING = {
    "SavingsTransactionReversed": ("SavingsDeposited", "SavingsWithdrawn"),
    "LoanRepaymentReversed": ("LoanRepaymentReceived",),
    "MemberCreditRepaymentReversed": ("MemberCreditRepaid",),
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
