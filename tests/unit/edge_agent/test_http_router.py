"""The API's router: fixed paths found by one look-up answer as Starlette's patterns do."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from edge_agent.http.app import _Lean, _Router


def _says(text: str) -> object:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{text} {request.path_params}")

    return endpoint


ROUTES = [
    Route("/v1/events/{event_type}", _says("generic"), methods=["POST"]),
    Route("/v1/events/special", _says("shadowed"), methods=["POST"]),
    Route("/v1/prices", _says("price set"), methods=["POST"]),
    Route("/v1/prices", _says("price list"), methods=["GET"]),
    Route("/v1/members/{member_id}", _says("member"), methods=["GET"]),
    Route("/healthz", _says("ok"), methods=["GET"]),
]


def test_fixed_paths_are_looked_up_by_method_and_path() -> None:
    """Two routes of one path (a command and a query) each get their own method; a fixed
    path after a pattern that also matches it is left to the patterns, as Starlette would."""
    fixed = _Router(ROUTES).fixed
    assert fixed[("POST", "/v1/prices")].endpoint is ROUTES[2].endpoint
    assert fixed[("GET", "/v1/prices")].endpoint is ROUTES[3].endpoint
    assert fixed[("HEAD", "/healthz")].endpoint is ROUTES[5].endpoint
    assert ("POST", "/v1/events/special") not in fixed
    assert all(not route.param_convertors for route in fixed.values())


async def _ask(app: ASGIApp, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """``app``'s answer to a bodiless request: status, headers, body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8470),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


async def test_answers_are_those_of_starlettes_router() -> None:
    """Fixed and patterned paths, HEAD, a wrong method (405), no such path (404): answered
    as Starlette's own router answers them."""
    ours, theirs = _Lean(routes=ROUTES, middleware=[]), Starlette(routes=ROUTES)
    asked = [
        ("POST", "/v1/prices"),
        ("GET", "/v1/prices"),
        ("DELETE", "/v1/prices"),
        ("POST", "/v1/events/special"),
        ("GET", "/v1/events/special"),
        ("GET", "/v1/members/M-1"),
        ("GET", "/healthz"),
        ("HEAD", "/healthz"),
        ("POST", "/healthz"),
        ("GET", "/v1/nothing"),
    ]
    for method, path in asked:
        mine, starlettes = await _ask(ours, method, path), await _ask(theirs, method, path)
        assert mine[0] == starlettes[0], (method, path)
        assert mine[1].get("allow") == starlettes[1].get("allow")
        if mine[0] < 400:  # refusals are problem documents here, plain text there
            assert mine[2] == starlettes[2]
    assert (await _ask(ours, "GET", "/v1/prices"))[2] == b"price list {}"
    generic = await _ask(ours, "POST", "/v1/events/special")
    assert generic[2] == b"generic {'event_type': 'special'}"
