"""Group commit: several requests in one durable transaction, each refused or kept alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.edge_http import LiveApi

from edge_agent.app.agent import EdgeAgent
from sync_core.envelope import Envelope
from sync_core.errors import RuleViolation


def receive(agent: EdgeAgent, n: int) -> Envelope:
    payload = {"sku": "BERAS-5KG", "qty": 10, "supplier": "Bulog", "doc_no": f"DO-{n}"}
    return agent.record("StockReceived", payload | {"location": "toko"}, "BERAS-5KG")


def withdraw_too_much(agent: EdgeAgent) -> None:
    agent.record("SavingsWithdrawn", {"amount": 10_000, "receipt_no": "KW-9"}, "S-404")


def intact(agent: EdgeAgent) -> bool:
    """The chain verifies and the store matches its seal."""
    return agent.verify().ok and agent.store.check_seal(full=True) == []


def test_a_group_keeps_what_passed_and_undoes_only_what_was_refused(agent: EdgeAgent) -> None:
    """Recordings in one group: a refused one leaves no trace, the others are chained."""
    before = agent.head().seq
    with agent.group():
        first = receive(agent, 1)
        with pytest.raises(RuleViolation):
            withdraw_too_much(agent)
        second = receive(agent, 2)
    assert (first.seq, second.seq) == (before + 1, before + 2)
    assert second.prev_hash == first.hash
    assert agent.head().seq == before + 2
    assert intact(agent)


def test_a_group_that_fails_keeps_nothing_and_the_chain_goes_on(agent: EdgeAgent) -> None:
    """A group abandoned before its commit records nothing; the next recording follows the
    last one that was kept, not the ones the group had made."""
    kept = receive(agent, 1)
    with pytest.raises(RuntimeError), agent.group():
        receive(agent, 2)
        receive(agent, 3)
        raise RuntimeError("the commit did not happen")
    assert agent.head().seq == kept.seq
    after = receive(agent, 4)
    assert (after.seq, after.prev_hash) == (kept.seq + 1, kept.hash)
    assert intact(agent)


def test_concurrent_requests_are_each_recorded_once(agent: EdgeAgent, api: LiveApi) -> None:
    """Forty requests at once (two pairs sharing an Idempotency-Key): every one answered
    201, one event per distinct request, gapless, the chain and the seal intact."""
    start = threading.Barrier(8)

    def post(i: int) -> tuple[int, int, bool]:
        if i < 8:
            start.wait(10)
        key = {"Idempotency-Key": f"pair-{i // 2}"} if i < 4 else {}
        body = {
            "aggregate_id": "BERAS-5KG",
            "payload": {
                "sku": "BERAS-5KG", "qty": 1, "location": "toko", "supplier": "Bulog",
                "doc_no": f"DO-{i // 2 if i < 4 else i}",
            },
        }  # fmt: skip
        reply = api.post("/v1/events/StockReceived", body, headers=key)
        assert reply.status == 201, reply.body
        return reply.body["seq"], i, reply.headers.get("idempotent-replayed") == "true"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(40)))
    seqs = {seq for seq, _, _ in answers}
    assert sorted(seqs) == list(range(1, 39))  # 40 requests, two of them retries
    for pair in (0, 1):
        (a, _, replayed_a), (b, _, replayed_b) = answers[2 * pair : 2 * pair + 2]
        assert a == b and replayed_a != replayed_b
    assert agent.head().seq == 38
    assert intact(agent)
