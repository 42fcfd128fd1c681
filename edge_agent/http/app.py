"""The agent's HTTP API as an ASGI app: routes, error answers, access, the teller page.

:func:`build_app` is given everything it serves (the agent, the access settings, any
extra routes such as ``/metrics``); handlers parse the request, call the application
function (:mod:`edge_agent.http.workers`: a lone append on the event loop, a group of
them on the recording thread, reads in a thread of their own) and answer JSON, or a
problem (:mod:`edge_agent.http.problems`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge_agent.adapters.idempotency import Once
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.health import readiness
from edge_agent.app.once import OnceRecorder
from edge_agent.http.access import Guard
from edge_agent.http.answers import Json
from edge_agent.http.commands import COMMANDS, Command, generic_arguments, record_any
from edge_agent.http.problems import Problem, problem, problem_for
from edge_agent.http.queries import QUERIES, Query
from edge_agent.http.requests import json_body, once
from edge_agent.http.workers import Appends, Workers
from schemas import REGISTRY
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError

STATIC = Path(__file__).parent / "static"
REPLAYED = "Idempotent-Replayed"
Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


def build_app(
    agent: EdgeAgent,
    *,
    token_digest: bytes | None = None,
    loopback: bool = True,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The API of ``agent``; ``extra_routes`` (e.g. ``/metrics``) are served beside it."""
    # A lone append on the loop, a group on the recording thread, reads in one thread: each
    # thread costs memory a Raspberry Pi counts (see edge_agent.http.workers).
    w = Appends(agent.group)
    r = Workers(name="kopsync-read")
    routes: list[BaseRoute] = [
        # First: the router tries routes in turn, and this one serves every event type.
        Route("/v1/events/{event_type}", _answers(_generic(agent, w)), methods=["POST"]),
        *(Route(c.path, _answers(_command(agent, c, w)), methods=["POST"]) for c in COMMANDS),
        *(Route(q.path, _answers(_query(agent, q, r)), methods=["GET"]) for q in QUERIES),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _answers(_readyz(agent, r)), methods=["GET"]),
        Route("/", _index, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *extra_routes,
    ]
    guard = Middleware(Guard, token_digest=token_digest, loopback=loopback)
    return _Lean(routes=routes, middleware=[guard])


class _Router(Router):
    """Starlette's router, finding a route of a fixed path (``POST /v1/sales``,
    ``GET /healthz``) by one look-up instead of trying every route's pattern in turn; any
    other request (a path with ids in it, no such route, a method the path does not take)
    goes through the patterns as before."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        super().__init__(routes=list(routes))
        self.fixed: dict[tuple[str, str], Route] = {}
        for i, route in enumerate(routes):
            if not isinstance(route, Route) or route.param_convertors or not route.methods:
                continue
            if any(_takes(r, route.path) for r in routes[:i]):
                continue  # a pattern before it may take its requests: leave it to them
            for method in route.methods:
                self.fixed.setdefault((method, route.path), route)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.fixed.get((scope["method"], scope["path"]))
        if route is None:
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        scope.update(endpoint=route.endpoint, path_params={})
        await route.handle(scope, receive, send)


def _takes(pattern: BaseRoute, path: str) -> bool:
    """Whether ``pattern``, a mount or a route with parameters, matches ``path``."""
    if isinstance(pattern, Route) and not pattern.param_convertors:
        return False
    return isinstance(pattern, Route | Mount) and bool(pattern.path_regex.match(path))


class _Lean(Starlette):
    """Starlette with one error layer (:class:`_Errors`) instead of its two (server errors,
    then exceptions, each wrapping ``send`` on every request): the handlers answer their
    own failures as problems already, so it only meets the router's 404 and 405 and bugs.
    Its router is :class:`_Router`."""

    def __init__(self, routes: Sequence[BaseRoute], middleware: Sequence[Middleware]) -> None:
        super().__init__(routes=routes, middleware=middleware)
        self.router = _Router(routes)

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return _Errors(app)


class _Errors:
    """ASGI: an HTTPException (no such route or method) as a problem, anything else raised
    as a 500 problem, logged and raised on to the server (as Starlette's own layers do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sender)
        except HTTPException as exc:
            if started:
                raise
            await (await _http_error(Request(scope), exc))(scope, receive, send)
        except Exception as exc:
            if not started:
                await (await _internal(Request(scope), exc))(scope, receive, send)
            raise


# --- answering -------------------------------------------------------------------------


class _Answers:
    """An ASGI endpoint: ``handler``'s response, or every kopsync error and
    :class:`Problem` it raised answered as a problem (the router calls an object that is
    not a function as an ASGI app: no further layer between it and the handler)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await self.handler(request)
        except Problem as p:
            response = p.response(scope["path"])
        except KopsyncError as exc:
            response = problem_for(exc).response(scope["path"])
        await response(scope, receive, send)


_answers = _Answers


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
    detail = f"no {request.method} {request.url.path} here; GET /openapi.json lists the API"
    headers = dict(exc.headers or {})
    return Problem(exc.status_code, code, detail, headers=headers).response(request.url.path)


async def _internal(request: Request, exc: Exception) -> Response:
    # A logger fetched now, not the module's: with cache_logger_on_first_use a module proxy
    # keeps the output of whichever configuration was current at its first use.
    structlog.get_logger("kopsync.edge.http").error(
        "internal_error", path=request.url.path, error=repr(exc), exc_info=exc
    )
    detail = "the agent failed on this request (a bug, logged); nothing was recorded by it"
    return problem(500, "internal", detail).response(request.url.path)


def receipt(env: Envelope, id_name: str | None = None) -> dict[str, Any]:
    """What a recording answers: where the event went in the log, and the new record's id."""
    out = {
        "seq": env.seq,
        "event_id": env.event_id,
        "type": env.type,
        "aggregate_id": env.aggregate_id,
        "recorded_at_ms": env.hlc.wall,
    }
    if id_name is not None:
        out[id_name] = env.aggregate_id
    return out


def _recorded(env: Envelope, replayed: bool, id_name: str | None = None) -> Response:
    headers = {REPLAYED: "true"} if replayed else {}
    return Json(receipt(env, id_name), 201, headers=headers)


# --- recording -------------------------------------------------------------------------


def _record(
    agent: EdgeAgent, call: Callable[..., Envelope], kwargs: dict[str, Any], key: Once | None
) -> tuple[Envelope, bool]:
    if key is None:
        return call(agent, **kwargs), False
    recorder = OnceRecorder(agent, key)
    return call(recorder, **kwargs), recorder.replayed


def _command(agent: EdgeAgent, command: Command, appends: Appends) -> Handler:
    async def handle(request: Request) -> Response:
        body = await json_body(request)
        kwargs = command.arguments(body, request.path_params)
        key = once(request, body)
        env, replayed = await appends.run(_record, agent, command.call, kwargs, key)
        return _recorded(env, replayed, command.new_id)

    return handle


def _generic(agent: EdgeAgent, appends: Appends) -> Handler:
    """``POST /v1/events/{type}``: any edge event, as ``kopsync edge record`` records it."""

    async def handle(request: Request) -> Response:
        event_type = request.path_params["event_type"]
        REGISTRY.latest_version(event_type)  # an unknown type is a 404 before the body is read
        body = await json_body(request)
        kwargs = generic_arguments(event_type, body)
        key = once(request, body)
        env, replayed = await appends.run(_record, agent, record_any, kwargs, key)
        return _recorded(env, replayed)

    return handle


# --- asking ----------------------------------------------------------------------------


def _query(agent: EdgeAgent, query: Query, workers: Workers) -> Handler:
    async def handle(request: Request) -> Response:
        # The views a query reads are what a tampered store changed: answer 503 as well.
        await workers.run(agent.ensure_trusted)
        answer = await workers.run(query.answer, agent, request)
        if answer is None:
            raise problem(404, "not_found", f"this device knows no {request.url.path}")
        return Json(answer)

    return handle


def _readyz(agent: EdgeAgent, workers: Workers) -> Handler:
    async def handle(request: Request) -> Response:
        problems = await workers.run(readiness, agent)
        if problems:
            raise problem(503, "not_ready", "; ".join(problems))
        return Json({"status": "ready", "device_id": agent.device_id})

    return handle


async def _healthz(request: Request) -> Response:
    return Json({"status": "ok"})


async def _openapi(request: Request) -> Response:
    # Loaded when first asked for: the document's shapes are memory an idle device keeps.
    from edge_agent.http import openapi

    return Json(openapi.document())


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
