"""Property: whatever the interleaving of recording, sibling delivery and cuts, once every
event has reached every device, the devices of a cooperative hold the same rule views, equal
to the fold of all the cooperative's events in total order."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.siblings import devices, member, raw, rule_views

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.integrity import examine
from edge_agent.domain.fold import fold
from sync_core.envelope import Envelope
from sync_core.errors import RuleViolation

DEVICES = ["desk", "shop", "depot"]
SKU = "BRS-5KG"

# What a counter does: open an account, pay in, take out (refused beyond the balance as it
# knows it), receive goods, count them (a count sets the on-hand: the order matters), sell
# with an override.
ACTIONS = ["open", "deposit", "withdraw", "receive", "count", "sell"]

step = st.one_of(
    st.tuples(
        st.just("record"), st.sampled_from(range(3)), st.sampled_from(ACTIONS), st.integers(1, 9)
    ),
    st.tuples(
        st.just("deliver"), st.sampled_from(range(3)), st.sampled_from(range(3)), st.integers(0, 12)
    ),
)


def _record(agent: EdgeAgent, action: str, n: int, serial: int) -> None:
    known = sorted(k.split(":", 1)[1] for k, _ in agent.store.views("savings:"))
    try:
        if action == "open":  # a new member and her account
            who = f"M-{agent.device_id}-{serial}"
            member(agent, who, 100 * serial + DEVICES.index(agent.device_id))
            opened = {"member_id": who, "product": "SUKARELA", "opened_on": "2026-03-01"}
            agent.record("SavingsAccountOpened", opened, f"S-{agent.device_id}-{serial}")
        elif action in ("deposit", "withdraw") and known:
            account = known[n % len(known)]
            kind = "SavingsDeposited" if action == "deposit" else "SavingsWithdrawn"
            agent.record(kind, {"amount": n * 1_000, "receipt_no": f"KW-{serial}"}, account)
        elif action == "receive":
            received = {
                "sku": SKU,
                "qty": n,
                "location": "toko",
                "supplier": "Bulog",
                "doc_no": f"DO-{serial}",
            }
            agent.record("StockReceived", received, SKU)
        elif action == "count":
            agent.record("StockCounted", {"sku": SKU, "location": "toko", "counted_qty": n}, SKU)
        elif action == "sell":
            sale = {
                "lines": [{"sku": SKU, "qty": 1, "unit_price": 72_500}],
                "payments": [{"method": "cash", "amount": 72_500}],
                "location": "toko",
                "stock_override_reason": "rak belum dihitung",
            }
            agent.record("SaleRecorded", sale, f"SALE-{agent.device_id}-{serial}")
    except RuleViolation:
        pass  # the counter refused it: nothing recorded


# Each example makes three devices' stores on disk: a quarter of the profile's examples.
@settings(max_examples=max(25, settings.default.max_examples // 4))
@given(steps=st.lists(step, max_size=30), data=st.data())
def test_every_interleaving_converges_to_the_fold_of_all_events(
    steps: list[tuple[str, int, object, int]], data: st.DataObject
) -> None:
    """Record and deliver in any order (some deliveries partial, out of order, repeated), then
    deliver everything everywhere: every device holds the fold of every event."""
    with tempfile.TemporaryDirectory() as tmp:
        issuer, agents = devices(Path(tmp), DEVICES)
        try:
            for agent in agents:  # each counter's price list, before it sells
                agent.record("PriceSet", {"sku": SKU, "unit_price": 72_500}, SKU)
            for serial, (kind, i, what, n) in enumerate(steps):
                if kind == "record":
                    _record(agents[i], str(what), n, serial)
                elif i != what:  # deliver part of i's log to device `what`, shuffled
                    sent = data.draw(st.permutations(raw(agents[i])[:n]))
                    agents[int(str(what))].receive_siblings(list(sent))
            for j, receiver in enumerate(agents):
                everything = [d for i, a in enumerate(agents) if i != j for d in raw(a)]
                receiver.receive_siblings(list(data.draw(st.permutations(everything))))
            events = [Envelope.decode(d) for a in agents for d in raw(a)] + issuer.events
            expected = fold(sorted(events, key=lambda e: e.order_key))
            for agent in agents:
                assert agent.status()["siblings"] == [
                    {"device_id": a.device_id, "applied_seq": a.head().seq}
                    for a in sorted(agents, key=lambda a: a.device_id)
                    if a is not agent and a.head().seq
                ]
                assert rule_views(agent) == expected
                assert examine(agent).ok  # the seal followed every fold
            assert all(a.store.meta("sibling_refused") is None for a in agents)
        finally:
            for a in agents:
                a.close()
