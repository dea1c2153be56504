"""The ASGI application: routes, the hub, the bus, security headers, body limits, the web client."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from mixun import metrics
from mixun.api import edge_input, errors, openapi
from mixun.api.deps import COOKIE
from mixun.api.responses import ORJSONResponse
from mixun.api.routes import admin, auth, compliance, conversations, dlp, drive, me, ops, people
from mixun.api.routes import org as org_routes
from mixun.api.routes import scim as scim_routes
from mixun.api.routes.conversations import send_direct
from mixun.api.ws import websocket_endpoint
from mixun.bus import make_bus
from mixun.config import Settings
from mixun.db.engine import Database
from mixun.errors import error_body
from mixun.keystore import keystore_from
from mixun.realtime.hub import Hub, watch_sessions
from mixun.realtime.presence import LocalPresence, RedisPresence
from mixun.realtime.ratelimit import RedisWindow, TokenBucket
from mixun.services import archive, events
from mixun.services.drive import CHUNK as _DRIVE_CHUNK
from mixun.services.runtime import Ctx, Runtime

log = logging.getLogger("mixun.app")
TOUCH_FLUSH_SECONDS = 10.0
WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
IMAGE_SUFFIX = "/images"
FILE_SUFFIXES = ("/files", "/secure-pack")
UPLOAD_SUFFIXES = (IMAGE_SUFFIX, *FILE_SUFFIXES)
DRIVE_CHUNK = re.compile(r"/api/v1/drive/uploads/[0-9a-f]{32}/chunks/[0-9]{1,7}")
DRIVE_CHUNK_BYTES = _DRIVE_CHUNK + 1024
WS_PATH = "/api/v1/ws"
SEND_PREFIX = "/api/v1/conversations/"


class MixunApp(FastAPI):
    """FastAPI with the edge (EdgeMiddleware) in front of everything, the framework's own middleware
    included: a send answered by the edge's direct path passes through no other layer, and every
    response, a 500 from the framework's error handler included, gets the security headers."""

    edge: EdgeMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.edge is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await self.edge(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


class EdgeMiddleware:
    """Security headers on every response; request bodies capped before they are read."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and scope["path"] == WS_PATH:
                # Straight to the endpoint (it authenticates and checks WS_PERMISSION itself): a live
                # connection then holds no router, exception-handler or exit-stack frames, ~7 KB less each.
                await websocket_endpoint(WebSocket(scope, receive, send))
                return
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.settings.max_body_bytes
        headers = dict(scope["headers"])
        # Upload limits only for requests that carry credentials (checked properly by the route): an
        # anonymous client cannot make the server take in tens of megabytes first.
        if path.endswith(UPLOAD_SUFFIXES) and (b"authorization" in headers or COOKIE.encode() in headers.get(b"cookie", b"")):
            if path.endswith(IMAGE_SUFFIX):
                limit = self.settings.max_image_bytes + 64 * 1024
            else:
                limit = self.settings.max_file_bytes + 256 * 1024  # the multipart framing of up to 20 files
        elif DRIVE_CHUNK.fullmatch(path) and (b"authorization" in headers or COOKIE.encode() in headers.get(b"cookie", b"")):
            limit = DRIVE_CHUNK_BYTES  # one chunk of a drive upload (services/drive.py)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _send_error(send, 413, "body_too_large", scope)
            return

        answered = False

        async def send_with_headers(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                # A response that sets its own policy keeps it (file previews: stricter CSP, framed by the app).
                extra = SECURITY_HEADERS if not any(k.lower() == b"content-security-policy" for k, _v in own) else [
                    h for h in SECURITY_HEADERS if h[0] not in (b"content-security-policy", b"x-frame-options")]
                message["headers"] = own + extra
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True
            await send(message)

        refused = edge_input.query_refused(scope.get("query_string", b""))
        if refused:
            await _send_error(send, 422, "validation_failed", scope, **edge_input.refusal(refused))
            return
        sending = scope["method"] == "POST" and path.endswith("/messages") and path.startswith(SEND_PREFIX)
        json_body = scope["method"] in edge_input.BODY_METHODS and edge_input.is_json(headers)
        if sending or json_body or (length is None and scope.get("method") in edge_input.BODY_METHODS):
            # No declared length (chunked): read up to the limit here, answer 413 beyond it. A send is
            # read here too, for the direct path, and any JSON body for its text check.
            body = await _read_body(receive, limit)
            if body == 413:
                await _send_error(send, 413, "body_too_large", scope)
            if not isinstance(body, bytes):
                return
            refused = edge_input.json_refused(body) if json_body else None
            if refused:
                await _send_error(send, 422, "validation_failed", scope, **edge_input.refusal(refused))
                return
            if sending and await send_direct(scope, body, send_with_headers):
                return
            receive = _replay(body, receive)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The framework's error layer answers an unexpected error with the documented 500 (and logs
            # it: api/errors.py), then re-raises it for the server, which would close the keep-alive
            # connection. Once the whole answer has gone out, the error ends here; a response cut short
            # still goes up, as the connection cannot be reused then.
            if not answered:
                raise


async def _read_body(receive: Receive, limit: int) -> bytes | int:
    """The whole request body; 413 past ``limit``, 0 when the client left before sending it all."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return 0
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return 413
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_error(send: Send, status: int, code: str, scope: Scope, **details: Any) -> None:
    import orjson

    metrics.ERRORS.labels(code).inc()
    accept = dict(scope["headers"]).get(b"accept-language", b"").decode()
    body = orjson.dumps(error_body(code, "en" if accept.lower().startswith("en") else "zh-CN", **details))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def build_runtime(settings: Settings) -> Runtime:
    rt = Runtime(settings=settings, db=Database(settings.database_url, settings.db_lock_timeout_seconds), keys=keystore_from(settings))
    redis_url = settings.bus_url if settings.bus_url.startswith("redis") else None
    ns = bus_namespace(settings)
    rt.presence = RedisPresence(redis_url, ns) if redis_url else LocalPresence()
    rt.rate_limiter = (RedisWindow(redis_url, settings.send_rate_per_minute, settings.send_burst, ns)
                       if redis_url else TokenBucket(settings.send_rate_per_minute, settings.send_burst))
    # Directory harvesting (issue 21 item 10): pages of people and person cards, per person, shared by
    # every process when Redis is configured. No burst beyond the minute's allowance.
    rt.directory_limiter, rt.directory_card_limiter = (
        RedisWindow(redis_url, per_minute, 0, f"{ns}:{key}" if ns else key) if redis_url
        else TokenBucket(per_minute, per_minute)
        for key, per_minute in (("directory_limiter", settings.directory_rate_per_minute),
                                ("directory_card_limiter", settings.directory_card_rate_per_minute)))
    from mixun import notify

    rt.notifier = notify.from_settings(
        settings.data_dir, settings.extra, on_outcome=lambda channel, outcome: metrics.NOTIFICATIONS.labels(
            channel, outcome).inc())
    probes = rt.health_probes
    probes["notifications_dead_letters"] = lambda: notify.count_dead_letters(settings.data_dir)

    def fault_counts(which: int) -> float:
        from mixun.services.faults import open_counts

        return float(open_counts(Ctx(rt=rt))[which])

    probes["fault_reports_open"] = lambda: fault_counts(0)
    probes["fault_reports_overdue"] = lambda: fault_counts(1)
    install_dlp(rt)
    return rt


def bus_namespace(settings: Settings) -> str:
    """Processes on one database share a namespace on the bus; other deployments on the same Redis or
    NATS server never hear them (MIXUN_BUS_NAMESPACE overrides)."""
    import hashlib

    explicit = settings.extra.get("MIXUN_BUS_NAMESPACE")
    return explicit or hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]


def install_dlp(rt: Runtime) -> None:
    """Wire the DLP engine into the send path when it is available."""
    try:
        from mixun.services.dlp import make_hook
    except ImportError:
        return
    rt.dlp = make_hook(rt)


def create_app(settings: Settings, runtime: Runtime | None = None, serving: bool = False) -> FastAPI:
    """The ASGI app. ``serving``: this process is `mixun serve` (its interpreter is tuned at start-up)."""
    rt = runtime or build_runtime(settings)
    # Uploaded files stay in memory while a request is parsed instead of spilling to unencrypted temp
    # files beyond 1 MB (D9: files are only ever on disk encrypted); bodies are capped at the edge.
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_file_bytes + 1)
    bus = make_bus(settings.bus_url, bus_namespace(settings))
    presence = rt.presence
    assert isinstance(presence, LocalPresence), "build_runtime puts presence in the runtime"
    hub = Hub(Ctx(rt=rt), presence, settings.ws_queue_limit)
    rt.hub = hub
    rt.bus = bus
    from mixun.services.sendqueue import SendQueue
    from mixun.services.writer_process import WriterProcess, use_process

    def notify(msg: dict[str, Any]) -> None:
        import orjson

        bus.publish(orjson.dumps(msg))

    rt.notify = notify
    # One writer per process: measured on PostgreSQL, a second one added nothing (its batches wait on
    # the first's row locks), and one keeps batches large. Serving, it is a process of its own, so it
    # never waits for this process's interpreter lock (services/writer_process.py).
    send_queue: SendQueue | WriterProcess = (WriterProcess(settings, bus.publish) if use_process(settings, serving)
                                             else SendQueue())
    rt.send_queue = send_queue

    def on_presence(user_id: int, online: bool) -> None:
        async def fan_out() -> None:
            def contacts() -> list[int]:
                from mixun.services.membership import contacts_of

                with rt.db.read() as s:
                    return contacts_of(s, user_id)

            try:
                ids = await asyncio.to_thread(contacts)
                from mixun.db.models import User

                def status() -> str:
                    with rt.db.read() as s:
                        u = s.get(User, user_id)
                        return u.work_status if u else "available"

                ws = await asyncio.to_thread(status)
                from mixun.domain.presence import presence_status

                events.ephemeral(Ctx(rt=rt), [*ids, user_id], "presence.changed",
                                 {"user_id": user_id, "status": presence_status(ws, online)})
            except Exception:
                log.exception("presence fan-out failed")

        asyncio.get_running_loop().create_task(fan_out())

    hub.on_presence = on_presence

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await bus.start(loop, hub.on_bus, hub.resync)
        sweeper = loop.create_task(_sweep(hub, rt))
        toucher = loop.create_task(_flush_touches(rt))
        watcher = loop.create_task(watch_sessions(hub, Ctx(rt=rt)))  # revocations elsewhere, idle sockets
        collector = None
        if isinstance(send_queue, WriterProcess):
            send_queue.start()  # which keeps the search index current
            indexer = None
        else:
            indexer = archive.start_indexer(rt)
        if serving:
            from mixun.api import interpreter

            interpreter.tune_for_serving()
            collector = loop.create_task(interpreter.collect_periodically())
        yield
        if collector is not None:
            collector.cancel()
        sweeper.cancel()
        toucher.cancel()
        watcher.cancel()
        await asyncio.to_thread(send_queue.close)
        if indexer is not None:
            indexer[1].set()
            await asyncio.to_thread(indexer[0].join, 10)
        await asyncio.to_thread(_flush_touches_once, rt)
        await bus.stop()
        metrics.process_exited()
        if isinstance(presence, RedisPresence):
            presence.close()
        rt.db.dispose()

    app = MixunApp(title="Mixun 密讯 API", version="1", openapi_url=None, docs_url=None,
                  redoc_url=None, lifespan=lifespan, default_response_class=ORJSONResponse,
                  # No OpenTelemetry export on a bank's closed network; left on, FastAPI asks the
                  # (unconfigured) providers on every request, about 6% of a send's event-loop time.
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.runtime = rt
    errors.install(app)
    for module in (auth, me, conversations, admin, dlp, compliance, people, ops, drive):
        app.include_router(module.router)
    app.include_router(org_routes.router)  # issue 21: applications, HR's tree and people
    scim_routes.install(app)  # issue 21: SCIM 2.0 at /scim/v2 (its own token and error format)
    app.add_api_websocket_route(WS_PATH, websocket_endpoint)  # listed for the route walk; served by EdgeMiddleware
    _mount_openapi(app)
    _mount_metrics(app, bus)
    openapi.install(app, settings)  # every route's statuses documented (api/openapi.py)
    _mount_web(app)
    app.edge = EdgeMiddleware(app.framework, settings)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker of `mixun serve --workers N`, from the MIXUN_* environment (a process of
    its own: its logging is set up here as `mixun` sets up its own)."""
    from mixun import logs
    from mixun.config import load_settings

    logs.configure()
    return create_app(load_settings(), serving=True)


async def _sweep(hub: Hub, rt: Runtime) -> None:
    """Close live connections whose session ended or expired; keep shared presence fresh."""
    from mixun.services import auth as auth_service

    while True:
        await asyncio.sleep(20)
        try:
            if rt.presence is not None:
                rt.presence.refresh()
            await asyncio.to_thread(_rescan_files, rt)
            bus = rt.bus
            rt.bus_up = bool(await bus.healthy()) if bus is not None else True
            await asyncio.to_thread(_operations_round, rt)
            await asyncio.to_thread(_review_accounts, rt)
            live = list(hub.by_session)
            alive = await asyncio.to_thread(auth_service.sessions_alive, Ctx(rt=rt), live)
            for sid in live:
                if sid not in alive:
                    for conn in list(hub.by_session.get(sid, ())):
                        hub.drop(conn, 4001, "session ended")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep failed")


def touch_flush_seconds(settings: Settings) -> float:
    """How often activity reaches the database: every 10 s, or a sixth of the idle limit when that is
    shorter, so another process (``--workers N``) judging a session on its flushed time never ends one
    that is in use here."""
    return min(TOUCH_FLUSH_SECONDS, max(0.5, settings.session_idle_minutes * 60 / 6))


async def _flush_touches(rt: Runtime) -> None:
    """Every few seconds, write the sessions' last-seen times gathered by authentication in one batch."""
    interval = touch_flush_seconds(rt.settings)
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(_flush_touches_once, rt)


def _flush_touches_once(rt: Runtime) -> None:
    from mixun.services.auth import flush_touches

    try:
        flush_touches(rt)
    except Exception:
        log.exception("writing session activity failed; kept for the next attempt")


def _operations_round(rt: Runtime) -> None:
    """Fault reports past their clock are escalated (once, whichever process gets there first)."""
    from mixun.services import faults, ops_alerts

    try:
        faults.escalate_overdue(Ctx(rt=rt, ip="127.0.0.1", client="mixun-server"))
    except Exception:
        log.exception("escalating overdue fault reports failed; retried at the next sweep")
    try:
        ops_alerts.notify_new(rt)  # newly raised fault alerts to the supervisor, through the gateways
    except Exception:
        log.exception("checking operations alerts failed; retried at the next sweep")


def _rescan_files(rt: Runtime) -> None:
    """Files that arrived while clamd was away are scanned once it is back (D7)."""
    from mixun.services.attachments import rescan_pending

    try:
        while rescan_pending(rt) >= 20:
            pass
    except Exception:
        log.exception("rescanning waiting files failed; retried at the next sweep")
    try:
        from mixun.services import drive as drive_service

        drive_service.housekeeping(rt)
    except Exception:
        log.exception("drive housekeeping failed; retried at the next sweep")


def _review_accounts(rt: Runtime) -> None:
    """The scheduled account review (issue 21 item 9): once a day, by whichever server is first."""
    from mixun.services.account_review import run_if_due

    try:
        run_if_due(rt)
    except Exception:
        log.exception("the scheduled account review failed; retried at the next sweep")


def _mount_openapi(app: FastAPI) -> None:
    """The OpenAPI document, behind the same gate as every other route (public: it holds no data)."""
    from fastapi import Depends

    from mixun.api.deps import gate
    from mixun.domain.roles import Perm

    def openapi(_ctx: Any = Depends(gate(Perm.PUBLIC))) -> Any:
        return ORJSONResponse(app.openapi())

    app.add_api_route("/api/v1/openapi.json", openapi, include_in_schema=False)


def metrics_access(settings: Settings, peer: str, authorization: str) -> str | None:
    """Who may read ``/metrics`` (INTERFACE.md): with MIXUN_METRICS_TOKEN set, only a request bearing it
    (else 401 ``not_authenticated``); with MIXUN_METRICS_NETWORKS set, only from those networks (else 403
    ``forbidden``); with neither, only from this machine (loopback). None when allowed, else the code."""
    import hmac
    import ipaddress

    from mixun.config import _networks

    token = settings.extra.get("MIXUN_METRICS_TOKEN", "")
    networks = settings.extra.get("MIXUN_METRICS_NETWORKS", "")
    if token:
        given = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return "not_authenticated"
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return "forbidden"
    if networks:
        try:
            allowed = _networks(networks)
        except ValueError:  # a malformed MIXUN_METRICS_NETWORKS lets nobody in, and says why
            log.error("MIXUN_METRICS_NETWORKS is not a list of CIDRs: /metrics refused")
            return "forbidden"
        return None if any(addr in net for net in allowed) else "forbidden"
    return None if token or addr.is_loopback else "forbidden"


def _mount_metrics(app: FastAPI, bus: Any) -> None:
    """``GET /metrics``: Prometheus text format (mixun.metrics), from the addresses or with the token
    metrics_access allows; outside the login sessions and the web client's routes."""
    from mixun.api.deps import client_ip
    from mixun.domain.roles import Perm
    from mixun.errors import MixunError

    rt: Runtime = app.state.runtime

    async def scrape(request: Request) -> Any:
        from fastapi.responses import Response

        peer = client_ip(rt, request.client.host if request.client else "", request.headers.get("x-forwarded-for"))
        refused = metrics_access(rt.settings, peer, request.headers.get("authorization", ""))
        if refused:
            raise MixunError(refused)
        bus_up = 1.0 if await bus.healthy() else 0.0
        body, ctype = await asyncio.to_thread(metrics.render, _health_probes(rt, bus_up))
        return Response(body, media_type=ctype, headers={"Cache-Control": "no-store"})

    scrape.permission = Perm.PUBLIC  # type: ignore[attr-defined]  # checked above: token or address
    app.add_api_route("/metrics", scrape, include_in_schema=False, methods=["GET"])


def _health_probes(rt: Runtime, bus_up: float) -> dict[str, tuple[str, Any]]:
    from sqlalchemy import text

    from mixun.files.antivirus import ClamdScanner

    def database() -> float:
        with rt.db.read() as s:
            return float(s.execute(text("SELECT 1")).scalar() == 1)

    def scanner() -> float:
        return float(ClamdScanner(rt.settings.clamd_socket, timeout=2).available())

    probes: dict[str, Any] = {"database": database, "bus": lambda: bus_up, "scanner": scanner}
    probes.update(rt.health_probes)
    return {f"mixun_{name}_up" if name in ("database", "bus", "scanner") else f"mixun_{name}":
            (metrics.HEALTH_GAUGES.get(f"mixun_{name}_up", metrics.HEALTH_GAUGES.get(f"mixun_{name}", name)), fn)
            for name, fn in probes.items()}


def _mount_web(app: FastAPI) -> None:
    from mixun.domain.roles import Perm

    index = WEB_DIST / "index.html"
    assets = (WEB_DIST / "assets").resolve()

    def page() -> Any:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>Mixun 密讯</title>"
                            "<p>Web client not built: run <code>make install</code>.</p>")

    async def asset(name: str) -> Any:
        target = (assets / name).resolve()
        if not str(target).startswith(str(assets) + "/") or not target.is_file():
            from mixun.errors import MixunError

            raise MixunError("not_found")
        return FileResponse(target, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    async def spa(path: str, request: Request) -> Any:
        from mixun.errors import MixunError

        if request.method != "GET" or path.startswith("api/") or "." in path.rsplit("/", 1)[-1]:
            allowed = _allowed_methods(app, request.scope)
            if allowed:  # a real route with other methods (PUT on a collection): 405, not 404
                from starlette.exceptions import HTTPException

                raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
            raise MixunError("not_found")
        return page()

    for fn in (page, asset, spa):
        fn.permission = Perm.PUBLIC  # type: ignore[union-attr]
    app.add_api_route("/", page, include_in_schema=False)
    app.add_api_route("/assets/{name:path}", asset, include_in_schema=False)
    app.add_api_route("/{path:path}", spa, include_in_schema=False,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods the routes at this request's path accept (the web client's catch-all aside)."""
    from fastapi.routing import iter_route_contexts

    allowed: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        path, methods = route.path, route.methods
        if path and methods and path != "/{path:path}" and _path_regex(path).fullmatch(scope["path"]):
            allowed |= set(methods)
    return sorted(allowed)


@functools.lru_cache(maxsize=512)
def _path_regex(path: str) -> re.Pattern[str]:
    from starlette.routing import compile_path

    return compile_path(path)[0]
