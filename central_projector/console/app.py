"""The console's routes: parse the request, call the reporting or decision function, render.

No business rule lives here: figures come from :mod:`central_projector.reporting`, a
decision from :func:`~central_projector.projection.resolve.resolve_conflict`, and the
error tree maps to a status (``UsageError`` 400, ``NotAuthorised`` 403, ``UnknownItem``
404) with the error's own one-line message on the page.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from central_projector.console import i18n, operators
from central_projector.console.metrics import ConsoleMetrics, DeviceCollector
from central_projector.console.views import Views
from central_projector.projection.resolve import may_decide, resolve_conflict
from central_projector.record.store import CentralStore
from central_projector.reporting import exports, rollups
from central_projector.reporting.reader import read_engine
from central_projector.reporting.regions import Region, check_date, parse_region
from sync_core.errors import KopsyncError, NotAuthorised, UnknownItem, UsageError

HERE = Path(__file__).parent
SESSION_HOURS = 8


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """What the console needs; built once by its command (``kopsync central console``)."""

    db_url: str
    secret: str
    secure_cookies: bool = False
    silent_days: int = rollups.SILENT_DAYS
    cache_s: float = 15.0


Handler = Callable[[Request], Awaitable[Response]]


def create_app(settings: ConsoleSettings, metrics: ConsoleMetrics | None = None) -> Starlette:
    """The console as an ASGI app over the store at ``settings.db_url``."""
    engine = read_engine(settings.db_url)
    store = CentralStore(settings.db_url, create=False)
    metrics = metrics or ConsoleMetrics()
    DeviceCollector(engine, metrics.registry)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    views = Views(engine, settings.silent_days, settings.cache_s)

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        lang = request.session.get("lang", "id")
        op = request.session.get("op")
        base = {
            "t": lambda key: i18n.label(key, lang),
            "fl": lambda path: i18n.figure_label(path, lang),
            "lang": lang,
            "op": op,
            "csrf": request.session.get("csrf", ""),
            "path": request.url.path,
            "query": request.url.query,
        }
        return templates.TemplateResponse(request, name, base | context, status_code=status)

    def failed(request: Request, exc: KopsyncError) -> Response:
        status = (
            403
            if isinstance(exc, NotAuthorised)
            else 404
            if isinstance(exc, UnknownItem)
            else 400
            if isinstance(exc, UsageError)
            else 500
        )
        metrics.errors.labels(str(status)).inc()
        return page(request, "error.html", {"message": str(exc)}, status)

    def signed_in(handler: Callable[[Request, operators.Operator], Awaitable[Response]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            op = request.session.get("op")
            if not op:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
            operator = operators.Operator(op["id"], op["name"], tuple(op["regions"]))
            started = time.perf_counter()
            route = request.scope.get("route")
            name = getattr(route, "name", None) or "page"
            try:
                response = await handler(request, operator)
            except KopsyncError as exc:
                response = failed(request, exc)
            seconds = time.perf_counter() - started
            metrics.requests.labels(name, str(response.status_code)).inc()
            metrics.seconds.labels(name).observe(seconds)
            # the page's server time, for people's browsers and benchmarks/rollup.py
            response.headers["Server-Timing"] = f"app;dur={seconds * 1000:.1f}"
            return response

        return wrapped

    def allowed(operator: operators.Operator, region: Region) -> None:
        if not may_decide(operator.regions, region.code):
            raise NotAuthorised(
                f"region {region.code} is outside your regions ({', '.join(operator.regions)})"
            )

    def csrf_ok(request: Request, form: Any) -> bool:
        token, given = request.session.get("csrf"), form.get("csrf")
        if not isinstance(token, str) or not isinstance(given, str) or not token:
            return False
        return secrets.compare_digest(token.encode(), given.encode())

    # --- login -------------------------------------------------------------------------
    async def login_form(request: Request) -> Response:
        request.session.setdefault("csrf", secrets.token_urlsafe(32))
        return page(request, "login.html", {"next": request.query_params.get("next", "/")})

    async def login(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            return PlainTextResponse("CSRF token missing or wrong", status_code=403)
        operator_id, password = str(form.get("operator_id", "")), str(form.get("password", ""))

        def check() -> operators.Operator | None:
            with engine.connect() as conn:
                return operators.authenticate(conn, operator_id, password)

        op = await run_in_threadpool(check)
        if op is None:
            metrics.logins.labels("refused").inc()
            context = {"next": form.get("next", "/"), "failed": True}
            return page(request, "login.html", context, 401)
        metrics.logins.labels("ok").inc()
        lang = request.session.get("lang", "id")
        request.session.clear()  # a new session at login: no fixation
        request.session.update(
            {
                "op": {"id": op.operator_id, "name": op.name, "regions": list(op.regions)},
                "csrf": secrets.token_urlsafe(32),
                "lang": lang,
            }
        )
        target = str(form.get("next") or "/")
        return RedirectResponse(target if target.startswith("/") else "/", status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if csrf_ok(request, form):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def language(request: Request) -> Response:
        lang = request.path_params["lang"]
        if lang in i18n.LANGS:
            request.session["lang"] = lang
        target = request.query_params.get("next", "/")
        return RedirectResponse(target if target.startswith("/") else "/", status_code=303)

    # --- pages -------------------------------------------------------------------------
    @signed_in
    async def home(request: Request, op: operators.Operator) -> Response:
        return RedirectResponse(f"/region/{op.regions[0]}", status_code=303)

    def as_of(request: Request) -> str | None:
        value = request.query_params.get("as_of") or None
        return check_date(value) if value else None

    @signed_in
    async def region_page(request: Request, op: operators.Operator) -> Response:
        region = parse_region(request.path_params["code"])
        allowed(op, region)
        report = await run_in_threadpool(views.rollup, region, as_of(request))
        return page(request, "region.html", views.region_context(report))

    @signed_in
    async def coop_page(request: Request, op: operators.Operator) -> Response:
        region = Region(request.path_params["coop_id"], "cooperative")
        parse_region(region.code)  # a cooperative id, or a one-line error
        allowed(op, region)
        context = await run_in_threadpool(views.coop_context, region, as_of(request))
        return page(request, "coop.html", context)

    @signed_in
    async def sync_page(request: Request, op: operators.Operator) -> Response:
        region = parse_region(request.query_params.get("region") or op.regions[0])
        allowed(op, region)
        days = _int(request.query_params.get("days"), settings.silent_days)
        context = await run_in_threadpool(views.sync_context, region, days)
        return page(request, "sync.html", context)

    @signed_in
    async def conflicts_page(request: Request, op: operators.Operator) -> Response:
        q = request.query_params
        region = parse_region(q.get("region") or op.regions[0])
        allowed(op, region)
        status = q.get("status", "OPEN")
        coop = q.get("coop") or None
        if coop is not None:
            allowed(op, parse_region(coop))
        filters = {
            "kind": q.get("kind") or None,
            "status": status if status != "ALL" else None,
            "coop_id": coop,
        }
        context = await run_in_threadpool(views.queue_context, region, filters)
        return page(request, "conflicts.html", context | {"status": status})

    @signed_in
    async def conflict_page(request: Request, op: operators.Operator) -> Response:
        item = await run_in_threadpool(views.item, request.path_params["conflict_id"])
        allowed(op, Region(item["coop_id"], "cooperative"))
        done = request.query_params.get("done") == "1"
        return page(request, "conflict.html", views.item_context(item) | {"done": done})

    @signed_in
    async def resolve(request: Request, op: operators.Operator) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            return PlainTextResponse("CSRF token missing or wrong", status_code=403)
        conflict_id = request.path_params["conflict_id"]
        decision = await run_in_threadpool(
            resolve_conflict,
            store,
            conflict_id,
            str(form.get("decision", "")),
            str(form.get("note", "")),
            resolved_by=f"{op.operator_id} ({op.name})",
            regions=op.regions,
        )
        metrics.decisions.labels(decision.kind or "-").inc()
        return RedirectResponse(f"/conflicts/{conflict_id}?done=1", status_code=303)

    @signed_in
    async def replay_page(request: Request, op: operators.Operator) -> Response:
        context = await run_in_threadpool(views.replay_context, op.regions[0])
        return page(request, "replay.html", context)

    # --- exports -----------------------------------------------------------------------
    @signed_in
    async def export_region(request: Request, op: operators.Operator) -> Response:
        region = parse_region(request.path_params["code"])
        allowed(op, region)
        fmt = request.path_params["fmt"]
        section = exports.check_section(request.query_params.get("section") or None)
        report = await run_in_threadpool(views.rollup, region, as_of(request))
        name = f"kopsync-{region.code}-{report['as_of']}{'-' + section if section else ''}"
        if fmt == "csv":
            body = exports.to_csv(exports.rollup_rows(report, section))
            return _download(body, f"{name}.csv", "text/csv; charset=utf-8")
        if fmt == "json":
            body = json.dumps(exports.rollup_json(report, section), ensure_ascii=False)
            return _download(body, f"{name}.json", "application/json")
        raise UnknownItem(f"no export format '{fmt}'; use csv or json")

    @signed_in
    async def export_coop(request: Request, op: operators.Operator) -> Response:
        coop_id = request.path_params["coop_id"]
        region = Region(coop_id, "cooperative")
        parse_region(coop_id)
        allowed(op, region)
        day = as_of(request)
        tables = await run_in_threadpool(views.ministry, region, day)
        table = request.query_params.get("table")
        stem = f"kopsync-{coop_id}-{tables['cooperative'][0]['as_of']}"
        if table is None:
            return _download(json.dumps(tables, ensure_ascii=False), f"{stem}.json",
                             "application/json")  # fmt: skip
        if table not in tables:
            raise UnknownItem(f"no table '{table}'; choose one of {', '.join(tables)}")
        body = exports.to_csv(tables[table]) if tables[table] else ""
        return _download(body, f"{stem}-{table}.csv", "text/csv; charset=utf-8")

    # --- probes ------------------------------------------------------------------------
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        def ready() -> str | None:
            try:
                with engine.connect() as conn:
                    if not sa.inspect(conn).has_table("rm_coop"):
                        return "no read models yet"
            except sa.exc.SQLAlchemyError as exc:
                return f"store unreachable: {type(exc).__name__}"
            return None

        problem = await run_in_threadpool(ready)
        if problem:
            return PlainTextResponse(f"not ready: {problem}\n", status_code=503)
        return PlainTextResponse("ready\n")

    async def metrics_page(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang/{lang}", language),
        Route("/", home, name="home"),
        Route("/region/{code}", region_page, name="region"),
        Route("/coop/{coop_id}", coop_page, name="coop"),
        Route("/sync", sync_page, name="sync"),
        Route("/conflicts", conflicts_page, name="conflicts"),
        Route("/conflicts/{conflict_id}", conflict_page, name="conflict"),
        Route("/conflicts/{conflict_id}/resolve", resolve, methods=["POST"], name="resolve"),
        Route("/replay", replay_page, name="replay"),
        Route("/export/region/{code}.{fmt}", export_region, name="export_region"),
        Route("/export/coop/{coop_id}", export_coop, name="export_coop"),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_page),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret,
            session_cookie="kopsync_console",
            max_age=SESSION_HOURS * 3600,
            same_site="lax",
            https_only=settings.secure_cookies,
        )
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with contextlib.suppress(sa.exc.SQLAlchemyError), engine.connect() as conn:
            views.warm(
                sorted({code for op in operators.list_operators(conn) for code in op.regions})
            )
        yield
        store.close()
        engine.dispose()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        raise UsageError(f"'{value}' is not a whole number of days") from None


def _quote(target: str) -> str:
    from urllib.parse import quote

    return quote(target, safe="")


def _download(body: str, filename: str, media_type: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
