"""The WebSocket endpoint: authenticate, say hello, then resume and live delivery through the hub."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.requests import cookie_parser
from starlette.websockets import WebSocket, WebSocketDisconnect

from mixun.api.deps import COOKIE, client_ip, locale_of
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.realtime.hub import CLOSE_LOCKED, Connection, Hub
from mixun.services import access, auth
from mixun.services.runtime import Ctx, Runtime

HOLD_SECONDS = 0.3  # how long live events wait for the client's resume before flowing
WS_PERMISSION = Perm.ACCOUNT
# Close codes: 4001 the session ended (logout, revocation, expiry), 4002 it idled out, 4003 refused
# (permission, origin, address), 4008 too slow, 4023 the session is locked (reconnect after unlock).


def origin_allowed(rt: Runtime, origin: str | None, host: str) -> bool:
    """No Origin (a non-browser API client) passes, as do the server's own origin (same Host) and those
    listed in MIXUN_ALLOWED_ORIGINS (comma-separated, e.g. https://im.bank.example)."""
    if not origin:
        return True
    if origin.split("://", 1)[-1].rstrip("/").lower() == host.lower():
        return True
    configured = rt.allowed_origins
    if configured is None:
        raw = rt.settings.extra.get("MIXUN_ALLOWED_ORIGINS", "")
        configured = rt.allowed_origins = frozenset(
            o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())
    return origin.rstrip("/").lower() in configured


async def websocket_endpoint(ws: WebSocket) -> None:
    rt: Runtime = ws.app.state.runtime
    hub = rt.hub
    assert isinstance(hub, Hub), "the app puts its hub in the runtime (api/app.py)"
    peer = ws.client.host if ws.client else ""
    # Read what is needed from the handshake, then let its headers go: an idle connection keeps
    # nothing of them (memory per connection is a target; see BENCHMARKS.md).
    headers = Headers(scope=ws.scope)
    ctx = Ctx(rt=rt, ip=client_ip(rt, peer, headers.get("x-forwarded-for")),
              client=headers.get("user-agent", "")[:300],
              locale=locale_of(headers.get("accept-language"), rt.settings.locale))
    query_token = QueryParams(ws.scope.get("query_string", b"")).get("token")
    token = query_token or cookie_parser(headers.get("cookie", "")).get(COOKIE, "")
    browser = not query_token
    origin_ok = origin_allowed(rt, headers.get("origin"), headers.get("host", ""))
    del headers
    ws.scope["headers"] = []
    if not origin_ok:  # a page of another site must not ride on the session cookie (CSWSH)
        await ws.close(code=4003, reason="origin_not_allowed")
        return
    try:
        auth.require_address(ctx)
        principal = auth.cached_principal(ctx, token, browser)
        if principal is None:
            principal = await asyncio.to_thread(auth.authenticate, ctx, token, browser)
        access.require(principal, WS_PERMISSION)
    except MixunError as exc:
        await ws.close(code=4001 if exc.status == 401 else 4003, reason=exc.code)
        return
    if principal.locked:  # no delivery while the session is locked; the client unlocks over HTTP
        await ws.close(code=CLOSE_LOCKED, reason="session_locked")
        return
    session_id = principal.session_id or 0
    auth.touch_session(rt, session_id)
    await ws.accept()
    last = await asyncio.to_thread(hub.last_seq, principal.user_id)
    conn = Connection(hub, ws, principal.user_id, principal.session_id or 0, last + 1)
    conn.catching_up = True  # hold live events until the client resumes (or doesn't)
    hub.add(conn)
    conn.send_now(orjson.dumps({"type": "hello", "user_id": principal.user_id, "last_event_seq": last}).decode())
    loop = asyncio.get_running_loop()
    released = False

    def release() -> None:
        nonlocal released
        if released or conn.closed:
            return
        released = True
        conn.catching_up = False
        # Always read once: a wake-up for an event committed after last_seq was read but arriving
        # before hub.add reached no socket (issue 23: a message from another node missing until the
        # next one). The read finds it; one query per connection, which a resume costs anyway.
        conn.start_catchup()

    timer = loop.call_later(HOLD_SECONDS, release)
    try:
        while True:
            raw = await ws.receive()
            if raw["type"] == "websocket.disconnect":
                break
            auth.touch_session(rt, session_id)  # the client's own frames are activity (pushes are not)
            text = raw.get("text") or (raw.get("bytes") or b"").decode("utf-8", "replace")
            try:
                msg = orjson.loads(text)
                kind = msg.get("type") if isinstance(msg, dict) else None
            except orjson.JSONDecodeError:
                kind = None
            if kind == "resume":
                after = msg.get("after_event_seq")
                if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                    conn.send_now('{"type":"error","code":"validation_failed","field":"after_event_seq"}')
                    continue
                if after + 1 < conn.next_seq:
                    conn.next_seq = after + 1
                    conn.live_max = max(conn.live_max, last)
                if released:
                    conn.start_catchup()
                else:
                    timer.cancel()
                    release()
            elif kind == "ping":
                conn.send_now('{"type":"pong"}')
                if not released:
                    timer.cancel()
                    release()
            else:
                conn.send_now('{"type":"error","code":"bad_request"}')
    except WebSocketDisconnect:
        pass
    finally:
        timer.cancel()
        hub.remove(conn)
        with contextlib.suppress(Exception):
            await ws.close()
