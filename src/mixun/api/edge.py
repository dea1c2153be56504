"""The edge: the ASGI layer in front of FastAPI's own. Security headers on every response, request
bodies capped (and JSON bodies and query strings checked) before any route reads them, the WebSocket
and the busiest request (a send) handed straight to their endpoints."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from mixun import metrics
from mixun.api import edge_input
from mixun.api.deps import COOKIE
from mixun.api.routes.conversations import send_direct
from mixun.api.ws import websocket_endpoint
from mixun.config import Settings
from mixun.errors import error_body
from mixun.services.drive import CHUNK as _DRIVE_CHUNK

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
    metrics.ERRORS.labels(code).inc()
    accept = dict(scope["headers"]).get(b"accept-language", b"").decode()
    body = orjson.dumps(error_body(code, "en" if accept.lower().startswith("en") else "zh-CN", **details))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
