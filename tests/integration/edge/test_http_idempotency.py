"""Idempotency-Key: a retried request records once, also after the agent was SIGKILLed."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.edge_http import LiveApi, Reply

from edge_agent.app.agent import DB_NAME, EdgeAgent
from kopsync.devnats import free_port

DEPOSIT = {"amount": 50_000, "receipt_no": "KW-1"}


def with_key(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_retry_returns_the_first_answer_and_records_nothing(
    members: EdgeAgent, api: LiveApi
) -> None:
    """The same key and request twice: one event, the same receipt, marked as replayed."""
    api.ok("/v1/savings", {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"})
    first = api.post("/v1/savings/S-1/deposits", DEPOSIT, headers=with_key("kasir-1-0001"))
    again = api.post("/v1/savings/S-1/deposits", DEPOSIT, headers=with_key('"kasir-1-0001"'))
    assert first.status == again.status == 201
    assert first.body == again.body
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert api.agent.head().seq == 4  # two members, the account, one deposit
    assert api.agent.view("savings:S-1")["balance"] == 50_000  # type: ignore[index]


def test_a_generated_id_is_not_generated_twice(api: LiveApi) -> None:
    """A registration without an id, retried: the member made the first time, once."""
    body = {
        "nik": "6401051204880001",
        "kk_no": "6401050101090003",
        "name": "Siti",
        "birth_date": "1988-04-12",
        "desa_code": "6401050012",
    }
    first = api.post("/v1/members", body, headers=with_key("reg-1"))
    again = api.post("/v1/members", body, headers=with_key("reg-1"))
    assert first.body["member_id"] == again.body["member_id"]
    assert api.agent.head().seq == 1


def test_a_key_reused_for_another_request_is_refused(members: EdgeAgent, api: LiveApi) -> None:
    """The same key with another body or path is a 422 and records nothing."""
    api.ok(
        "/v1/savings",
        {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"},
        headers=with_key("k-1"),
    )
    reply = api.post(
        "/v1/savings",
        {"member_id": "M-1", "product": "WAJIB", "account_id": "S-2"},
        headers=with_key("k-1"),
    )
    assert (reply.status, reply.code) == (422, "idempotency_key_reused")
    other_path = api.post("/v1/savings/S-1/deposits", DEPOSIT, headers=with_key("k-1"))
    assert other_path.code == "idempotency_key_reused"
    assert api.agent.head().seq == 3  # two members, the account
    for bad in ("", "x" * 256, "schlüssel"):
        reply = api.post("/v1/savings/S-1/deposits", DEPOSIT, headers={"Idempotency-Key": bad})
        assert reply.code == "invalid_idempotency_key", bad


def test_a_refused_request_claims_no_key(members: EdgeAgent, api: LiveApi) -> None:
    """Refused (nothing recorded), the same request with the same key is decided afresh."""
    api.ok("/v1/savings", {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"})
    out = {"amount": 10_000, "receipt_no": "KW-2"}
    refused = api.post("/v1/savings/S-1/withdrawals", out, headers=with_key("w-1"))
    assert refused.code == "insufficient_balance"
    api.ok("/v1/savings/S-1/deposits", DEPOSIT)
    later = api.post("/v1/savings/S-1/withdrawals", out, headers=with_key("w-1"))
    assert later.status == 201 and "idempotent-replayed" not in later.headers


def test_keys_outlive_a_restart(members: EdgeAgent, agent: EdgeAgent) -> None:
    """A key claimed before the agent closed answers the retry of a new agent process."""
    with LiveApi(agent) as api:
        api.ok("/v1/savings", {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"})
        first = api.post("/v1/savings/S-1/deposits", DEPOSIT, headers=with_key("before"))
    agent.close()
    with EdgeAgent(agent.data_dir) as reopened, LiveApi(reopened) as api:
        again = api.post("/v1/savings/S-1/deposits", DEPOSIT, headers=with_key("before"))
        assert again.body == first.body and again.headers["idempotent-replayed"] == "true"
        assert reopened.head().seq == 4  # two members, the account, one deposit


# --- across a SIGKILL of the agent process ------------------------------------------------


class AgentProcess:
    """`kopsync edge serve` in its own process, killed with SIGKILL on request."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-P",
            "-m",
            "kopsync",
            "edge",
            "serve",
            "--data",
            str(self.data),
            "--http",
            f"127.0.0.1:{self.port}",
        ]
        log = (self.data.parent / "agent.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self._up():
            assert self.proc.poll() is None, "the agent exited; see agent.log"
            assert time.monotonic() < deadline, "the agent did not start"
            time.sleep(0.05)

    def _up(self) -> bool:
        try:
            return self.call("GET", "/healthz").status == 200
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def send(self, path: str, body: Any, key: str) -> http.client.HTTPConnection:
        """Send a request and leave its answer unread."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(
            "POST",
            path,
            json.dumps(body),
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        return conn

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"} | ({"Idempotency-Key": key} if key else {})
        try:
            conn.request(method, path, None if body is None else json.dumps(body), headers)
            resp = conn.getresponse()
            data = json.loads(resp.read())
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()


def events_in(data: Path) -> list[tuple[int, str]]:
    """(seq, topic) of the device's log, read as another process would (read-only)."""
    with sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT originator_version, topic FROM device_events ORDER BY originator_version"
        ).fetchall()
    db.close()
    return [(int(s), str(t)) for s, t in rows]


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[AgentProcess]:
    data = tmp_path / "kasir-1"
    EdgeAgent.init(data, "6401050012-PB", "pb-kasir-1").close()
    proc = AgentProcess(data)
    proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


ROUNDS = int(os.environ.get("KOPSYNC_IDEMPOTENCY_KILLS", "3"))


def test_a_retry_after_a_sigkill_between_commit_and_answer_records_once(
    agent_process: AgentProcess,
) -> None:
    """Killed after the deposit committed but before its answer was read, the agent answers
    the retry of the restarted process from the first recording; nothing is recorded twice."""
    a = agent_process
    member = {
        "nik": "6401051204880001",
        "kk_no": "6401050101090009",
        "name": "Anggota 1",
        "birth_date": "1988-04-12",
        "desa_code": "6401050012",
        "member_id": "M-1",
    }
    assert a.call("POST", "/v1/members", member).status == 201
    assert (
        a.call(
            "POST", "/v1/savings", {"member_id": "M-1", "product": "SUKARELA", "account_id": "S-1"}
        ).status
        == 201
    )
    for n in range(ROUNDS):
        before = events_in(a.data)
        key = f"deposit-{n}"
        conn = a.send("/v1/savings/S-1/deposits", DEPOSIT | {"receipt_no": f"KW-{n}"}, key)
        deadline = time.monotonic() + 30
        while len(events_in(a.data)) == len(before):
            assert time.monotonic() < deadline, "the deposit was never committed"
            time.sleep(0.001)
        a.kill()  # the commit is durable; whether the answer left the socket, nobody read it
        conn.close()
        recorded = events_in(a.data)[-1]
        a.start()
        retry = a.call("POST", "/v1/savings/S-1/deposits", DEPOSIT | {"receipt_no": f"KW-{n}"}, key)
        assert retry.status == 201 and retry.headers["idempotent-replayed"] == "true"
        assert retry.body["seq"] == recorded[0]
        assert events_in(a.data) == [*before, recorded]
    passbook = a.call("GET", "/v1/savings/S-1").body
    assert passbook["balance"] == 50_000 * ROUNDS
    assert a.call("GET", "/readyz").status == 200


def test_a_retry_after_a_sigkill_before_commit_records_once(agent_process: AgentProcess) -> None:
    """Killed before it could record (stopped, then killed with the request unread), the
    agent records the retry once, as a first recording."""
    a = agent_process
    assert a.proc is not None
    a.proc.send_signal(signal.SIGSTOP)
    conn = a.send("/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500}, "price-1")
    a.kill()
    conn.close()
    assert events_in(a.data) == []
    a.start()
    first = a.call("POST", "/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500}, "price-1")
    again = a.call("POST", "/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500}, "price-1")
    assert first.status == 201 and "idempotent-replayed" not in first.headers
    assert again.body == first.body and again.headers["idempotent-replayed"] == "true"
    assert events_in(a.data) == [(1, "PriceSet:v1")]
