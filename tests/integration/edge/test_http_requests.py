"""The agent's HTTP API at the request level: any edge event, malformed requests, access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.edge_http import LiveApi

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.token import make_token, stored_digest
from edge_agent.devtools.sim import Pool, install_reference, simulate
from schemas import REGISTRY

REFERS_TO = ("reversed_event_id", "redemption_event_id")
SEED = 1


def test_every_edge_event_type_is_recorded_by_the_generic_route(
    api: LiveApi, agent: EdgeAgent, tmp_path: Path
) -> None:
    """A simulated device's whole log, posted to `/v1/events/{type}` on a twin device with the
    same reference data, is recorded event for event: every edge type, every rule passed."""
    # a seed whose 500 events hold every edge type (the simulator is reproducible per seed)
    with EdgeAgent.init(tmp_path / "twin", agent.coop_id, "pb-twin") as twin:
        simulate(twin, 500, seed=SEED)
        original = list(twin.log(twin.head().seq - 500))
    install_reference(agent, Pool(agent.coop_id, SEED))
    ids: dict[str, str] = {}  # the twin's event ids → this device's
    for entry in original:
        payload = {k: ids.get(v, v) if k in REFERS_TO else v for k, v in entry.payload.items()}
        body: dict[str, Any] = {"aggregate_id": entry.envelope.aggregate_id, "payload": payload}
        reply = api.post(f"/v1/events/{entry.envelope.type}", body)
        assert reply.status == 201, reply.body
        ids[entry.envelope.event_id] = reply.body["event_id"]
    # The simulator's mix has no resignation in this stretch (they are rare): add one.
    member = next(
        e.envelope.aggregate_id for e in original if e.envelope.type == "MemberRegistered"
    )
    resign = {"aggregate_id": member, "payload": {"resigned_on": "2026-12-01"}}
    assert api.post("/v1/events/MemberResigned", resign).status == 201
    # Nor does it reverse member-credit repayments: reverse the first one.
    repaid = next(e for e in original if e.envelope.type == "MemberCreditRepaid")
    reversal = {
        "reversed_event_id": ids[repaid.envelope.event_id],
        "amount": repaid.payload["amount"],
        "reason": "salah catat",
    }
    body = {"aggregate_id": repaid.envelope.aggregate_id, "payload": reversal}
    reply = api.post("/v1/events/MemberCreditRepaymentReversed", body)
    assert reply.status == 201, reply.body
    recorded = {e.envelope.type for e in agent.log()}
    assert recorded >= set(REGISTRY.types_from("edge"))
    assert agent.head().seq == len(original) + 2 and agent.verify().ok


def test_generic_route_refusals(api: LiveApi) -> None:
    """Unknown and central types, a missing aggregate, a bad payload and a rule are refused."""
    api.refused("/v1/events/NoSuchEvent", {}, 404, "unknown_event_type")
    central = {"aggregate_id": "C-1", "payload": {"beneficiary_id": "B-1"}}
    assert (
        "central"
        in api.refused("/v1/events/CardIssued", central, 400, "bad_request").body["detail"]
    )
    api.refused(
        "/v1/events/PriceSet", {"payload": {"sku": "X", "unit_price": 1}}, 400, "invalid_field"
    )
    bad = api.refused(
        "/v1/events/PriceSet", {"aggregate_id": "X", "payload": {"sku": "X"}}, 400, "invalid_field"
    )
    assert bad.body["field"] == "unit_price"
    api.refused("/v1/events/PriceSet", {"aggregate_id": "X", "payload": [1]}, 400, "invalid_field")
    api.refused(
        "/v1/events/PriceSet",
        {"aggregate_id": "X.1", "payload": {"sku": "X", "unit_price": 5}},
        400,
        "invalid_field",
    )
    api.refused(
        "/v1/events/SavingsWithdrawn",
        {"aggregate_id": "S-1", "payload": {"amount": 5, "receipt_no": "K"}},
        409,
        "unknown_account",
    )
    old = {"aggregate_id": "S-1", "version": 9, "payload": {"amount": 5, "receipt_no": "K"}}
    api.refused("/v1/events/SavingsDeposited", old, 404, "unknown_event_type")


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        (b'{"sku": "X", ', {"Content-Type": "application/json"}, 400, "malformed_json"),
        (
            b'{"sku": "X", "unit_price": NaN}',
            {"Content-Type": "application/json"},
            400,
            "malformed_json",
        ),
        (
            b'{"sku": "X", "unit_price": 5}',
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            b'{"sku": "' + b"x" * 300_000 + b'"}',
            {"Content-Type": "application/json"},
            413,
            "payload_too_large",
        ),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "invalid_field"),
        (
            b'{"sku": "X", "unit_price": 5, "colour": "red"}',
            {"Content-Type": "application/json"},
            400,
            "invalid_field",
        ),
        (
            b'{"sku": "X", "unit_price": 5.5}',
            {"Content-Type": "application/json"},
            400,
            "invalid_field",
        ),
    ],
)
def test_malformed_requests_get_a_problem_not_a_500(
    api: LiveApi, raw: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    """Bad bodies are answered with a problem naming what is wrong, and record nothing."""
    reply = api.call("POST", "/v1/prices", raw=raw, headers=headers)
    assert (reply.status, reply.code) == (status, code), reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert api.agent.head().seq == 0


def test_unknown_routes_methods_and_ids(api: LiveApi) -> None:
    """404 and 405 are problems too; an id that is no subject token is a 400 naming it."""
    assert api.get("/v1/nothing").code == "not_found"
    reply = api.call("DELETE", "/v1/prices")
    assert (reply.status, reply.code) == (405, "method_not_allowed")
    bad = api.refused(
        "/v1/savings/S.1/deposits", {"amount": 1, "receipt_no": "K"}, 400, "invalid_id"
    )
    assert "S.1" in bad.body["detail"]


def test_loopback_bind_answers_only_loopback_names(api: LiveApi) -> None:
    """On loopback the API needs no token but refuses a request addressed to another name."""
    assert api.get("/v1/prices").status == 200
    assert api.get("/v1/prices", headers={"Host": "localhost:8470"}).status == 200
    assert api.get("/v1/prices", headers={"Host": "[::1]:8470"}).status == 200
    evil = api.get("/v1/prices", headers={"Host": "evil.example:8470"})
    assert (evil.status, evil.code) == (421, "forbidden_host")


def test_lan_bind_needs_the_device_token(agent: EdgeAgent) -> None:
    """Beyond loopback every API request needs the token; the page and probes do not."""
    token = make_token(agent.data_dir)
    digest = stored_digest(agent.data_dir)
    with LiveApi(agent, "0.0.0.0", token_digest=digest, loopback=False) as lan:
        none = lan.get("/v1/prices")
        assert (none.status, none.code) == (401, "unauthorized")
        assert none.headers["www-authenticate"].startswith("Bearer")
        wrong = lan.get("/v1/prices", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        assert lan.get("/openapi.json").status == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert lan.get("/v1/prices", headers=auth).status == 200
        body = {"sku": "GULA-1KG", "unit_price": 18_500}
        assert lan.post("/v1/prices", body, headers=auth).status == 201
        assert lan.get("/healthz").status == 200
        assert lan.get("/").status == 200
        assert "<html" in lan.get("/").body


def test_a_new_token_replaces_the_old(agent: EdgeAgent, tmp_path: Path) -> None:
    """`make_token` again: the first token stops working, the second works."""
    first = make_token(agent.data_dir)
    second = make_token(agent.data_dir)
    with LiveApi(
        agent, "0.0.0.0", token_digest=stored_digest(agent.data_dir), loopback=False
    ) as lan:
        assert lan.get("/v1/prices", headers={"Authorization": f"Bearer {first}"}).status == 401
        assert lan.get("/v1/prices", headers={"Authorization": f"Bearer {second}"}).status == 200
    assert (agent.data_dir / "http-token.sha256").stat().st_mode & 0o777 == 0o600
    assert second not in (agent.data_dir / "http-token.sha256").read_text()
