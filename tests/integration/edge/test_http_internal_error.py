"""A bug in a handler: the caller gets a 500 problem, the failure is logged, the agent serves on."""

from __future__ import annotations

from typing import NoReturn

from starlette.requests import Request
from starlette.routing import Route
from structlog.testing import capture_logs
from support.edge_http import LiveApi

from edge_agent.app.agent import EdgeAgent


async def _broken(request: Request) -> NoReturn:
    raise RuntimeError("a bug in a handler")


def test_a_bug_answers_a_500_problem_and_the_agent_serves_on(agent: EdgeAgent) -> None:
    """An exception no handler answers becomes `internal` (500, problem+json, naming the path,
    recording nothing), it is logged with its traceback, and the next requests are served."""
    broken = Route("/v1/broken", _broken, methods=["GET"])
    with capture_logs() as logged, LiveApi(agent, extra_routes=[broken]) as api:
        before = agent.head().seq
        reply = api.get("/v1/broken")
        assert (reply.status, reply.code) == (500, "internal"), reply.body
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.body["type"] == "urn:kopsync:problem:internal"
        assert reply.body["instance"] == "/v1/broken"
        assert "nothing was recorded" in reply.body["detail"]
        assert "a bug in a handler" not in str(reply.body)  # the caller gets no internals
        assert agent.head().seq == before
        # the server did not stop: it answers and records
        assert api.get("/healthz").status == 200
        price = {"aggregate_id": "BRS-5KG", "payload": {"sku": "BRS-5KG", "unit_price": 72_500}}
        assert api.post("/v1/events/PriceSet", price).status == 201
        assert agent.head().seq == before + 1
    [entry] = [e for e in logged if e["event"] == "internal_error"]
    assert entry["log_level"] == "error" and entry["path"] == "/v1/broken"
    assert "a bug in a handler" in entry["error"] and entry["exc_info"] is not None
