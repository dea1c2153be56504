"""The ASGI application, wired: the runtime (api/runtime_factory.py), the live parts (hub, bus, send
queue), the background jobs (api/jobs/), the routes, /metrics (api/monitoring.py), the OpenAPI document,
the web client (api/web.py) and, in front of everything, the edge (api/edge.py). Nothing here reads the
database or handles a request itself (the `app-wiring` import contract in pyproject.toml)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.formparsers import MultiPartParser

from mixun import metrics
from mixun.api import errors, openapi
from mixun.api.edge import WS_PATH, EdgeMiddleware, MixunApp
from mixun.api.jobs import presence as presence_job
from mixun.api.jobs import sessions as sessions_job
from mixun.api.jobs.sweep import sweep
from mixun.api.monitoring import mount_metrics
from mixun.api.responses import ORJSONResponse
from mixun.api.routes import admin, auth, compliance, conversations, dlp, drive, me, ops, people
from mixun.api.routes import org as org_routes
from mixun.api.routes import scim as scim_routes
from mixun.api.runtime_factory import build_runtime, bus_namespace
from mixun.api.web import mount_web
from mixun.api.ws import websocket_endpoint
from mixun.bus import make_bus
from mixun.config import Settings
from mixun.realtime.hub import Hub, watch_sessions
from mixun.realtime.presence import LocalPresence, RedisPresence
from mixun.sendpath.queue import SendQueue
from mixun.sendpath.transport import ProcessWriter, process_send_queue, use_process
from mixun.services import archive
from mixun.services.runtime import Ctx, Runtime

WRITER_READY_SECONDS = 60.0  # at most, before the server takes connections without its writer

__all__ = ["app_from_environment", "build_runtime", "create_app"]


def create_app(settings: Settings, runtime: Runtime | None = None, serving: bool = False) -> FastAPI:
    """The ASGI app. ``serving``: this process is `mixun serve` (its interpreter is tuned at start-up)."""
    rt = runtime or build_runtime(settings)
    # Uploaded files stay in memory while a request is parsed instead of spilling to unencrypted temp
    # files beyond 1 MB (D9: files are only ever on disk encrypted); bodies are capped at the edge.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_file_bytes + 1)
    bus = make_bus(settings.bus_url, bus_namespace(settings))
    presence = rt.presence
    assert isinstance(presence, LocalPresence), "build_runtime puts presence in the runtime"
    hub = Hub(Ctx(rt=rt), presence, settings.ws_queue_limit)
    rt.hub = hub
    rt.bus = bus

    def notify(msg: dict[str, Any]) -> None:
        bus.publish(orjson.dumps(msg))

    rt.notify = notify
    # One writer per process: measured on PostgreSQL, a second one added nothing (its batches wait on
    # the first's row locks), and one keeps batches large. Serving, it is a process of its own, so it
    # never waits for this process's interpreter lock (sendpath/transport.py).
    send_queue = (process_send_queue(settings, bus.publish) if use_process(settings, serving)
                  else SendQueue(linger=settings.send_linger_ms / 1000))
    rt.send_queue = send_queue
    hub.on_presence = presence_job.announcer(rt)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await bus.start(loop, hub.on_bus, hub.resync)
        sweeper = loop.create_task(sweep(hub, rt))
        toucher = loop.create_task(sessions_job.flush_touches(rt))
        watcher = loop.create_task(watch_sessions(hub, Ctx(rt=rt)))  # revocations elsewhere, idle sockets
        collector = None
        if isinstance(send_queue.writer, ProcessWriter):
            send_queue.writer.start()  # which keeps the search index current
            # Connections are taken once the writer can write: a process that took them earlier (a
            # worker of `--workers N` shares the listening socket) held their sends while its writer
            # was still starting (seconds on a busy host). One that cannot start: sends written here.
            await asyncio.to_thread(send_queue.writer.wait_ready, WRITER_READY_SECONDS)
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
        await asyncio.to_thread(sessions_job.flush_touches_once, rt)
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
    app.include_router(org_routes.router)  # applications, HR's tree and people
    scim_routes.install(app)  # SCIM 2.0 at /scim/v2 (its own token and error format)
    app.add_api_websocket_route(WS_PATH, websocket_endpoint)  # listed for the route walk; served by EdgeMiddleware
    openapi.mount_document(app)
    mount_metrics(app, bus)
    openapi.install(app, settings)  # every route's statuses documented (api/openapi.py)
    mount_web(app)
    app.edge = EdgeMiddleware(app.framework, settings)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker of `mixun serve --workers N`, from the MIXUN_* environment (a process of
    its own: its logging is set up here as `mixun` sets up its own)."""
    from mixun import logs
    from mixun.config import load_settings

    logs.configure()
    return create_app(load_settings(), serving=True)
