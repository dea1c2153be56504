"""Request context and the permission gate every route declares (``Depends(gate(Perm.X))``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Path, Query, Request
from pydantic import BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.services import access, auth
from mixun.services.runtime import Ctx, Runtime

COOKIE = "mixun_session"
# Input rules decided once, here (docs/api.md "Input and errors"). Every id, cursor and count a client
# sends is an integer in [0, 2**53]: inside both databases' 64-bit range, and exact in a browser's
# numbers. Larger values are a 422 before any service sees them (and api/errors.py maps a database's
# own out-of-range error to the same 422, for an integer some route forgot to bound).
MAX_ID = 2**53
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]  # a row id, anywhere: path, query, body
DbCursor = Annotated[int, Field(ge=0, le=MAX_ID)]  # a cursor / "after" position (0 = from the start)
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[DbId | None, Query()]
QueryCursor = Annotated[DbCursor | None, Query()]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What a locked session may still call (its /me is minimal: whose lock screen it is).
WHILE_LOCKED = frozenset({("GET", "/api/v1/me"), *(("POST", f"/api/v1/auth/{p}") for p in
                                                   ("unlock", "lock", "logout", "logout-all"))})


def edge_datetime(value: object) -> datetime:
    """The one parser of client-sent times: an ISO 8601 / RFC 3339 string (a time without an offset is
    UTC), made an aware UTC datetime. A number, or a time whose UTC form falls off the calendar
    (``9999-12-31T23:59:59-14:00``), is refused (a ValueError, hence a 422)."""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            t = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError("not an ISO 8601 date-time") from exc
    else:
        raise ValueError("not an ISO 8601 date-time string")
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    try:
        t = t.astimezone(UTC)
        t + timedelta(days=1)  # noqa: B018 - a day of headroom for the services' range arithmetic
        t - timedelta(days=1)  # noqa: B018
    except OverflowError as exc:
        raise ValueError("outside the supported calendar range") from exc
    return t


Instant = Annotated[datetime, BeforeValidator(edge_datetime)]  # body fields and query parameters


def client_ip(rt: Runtime, peer: str, forwarded: str | None) -> str:
    """The peer address; X-Forwarded-For is believed only when the peer is a configured trusted proxy."""
    proxies = rt.settings.trusted_proxies
    if not forwarded or not proxies:  # the usual case, decided without parsing an address
        return peer
    try:
        peer_addr = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    if not any(peer_addr in net for net in proxies):
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            addr = ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not any(addr in net for net in proxies):
            return hop
    return peer


def locale_of(accept: str | None, default: str) -> str:
    if accept and accept.lower().startswith("en"):
        return "en"
    return default


def base_ctx(request: Request) -> Ctx:
    rt: Runtime = request.app.state.runtime
    peer = request.client.host if request.client else ""
    return Ctx(rt=rt, ip=client_ip(rt, peer, request.headers.get("x-forwarded-for")),
               client=request.headers.get("user-agent", "")[:300],
               locale=locale_of(request.headers.get("accept-language"), rt.settings.locale))


def token_of(request: Request) -> tuple[str, bool]:
    """(token, from_cookie)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(COOKIE, ""), True


def _check_same_origin(request: Request) -> None:
    """Cookie-authenticated writes must come from our own pages (CSRF)."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin:
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise MixunError("forbidden", ("跨站请求被拒绝", "Cross-site request refused"))
    elif request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise MixunError("forbidden", ("跨站请求被拒绝", "Cross-site request refused"))


def gate(perm: Perm) -> Callable[[Request], Awaitable[Ctx]]:
    """The dependency that authenticates the caller and checks ``perm``; the route walk test finds it."""

    async def dependency(request: Request) -> Ctx:
        # Async, so a request whose session is cached is authorised on the event loop without a hop to
        # the thread pool; a cache miss reads the database in the pool.
        ctx = base_ctx(request)
        request.state.locale = ctx.locale
        token, from_cookie = token_of(request)
        if perm is Perm.PUBLIC:
            return ctx
        auth.require_address(ctx)  # every request, not only the login (a cached decision per address)
        principal = auth.cached_principal(ctx, token, from_cookie)
        if principal is None:
            principal = await run_in_threadpool(auth.authenticate, ctx, token, from_cookie)
        if from_cookie:
            _check_same_origin(request)
        if principal.locked and (request.method, request.url.path) not in WHILE_LOCKED:
            raise MixunError("session_locked")  # the lock screen is the server's: only unlock/logout/me
        access.require(principal, perm)
        ctx.principal = principal
        return ctx

    dependency.permission = perm  # type: ignore[attr-defined]
    dependency.__name__ = f"gate_{perm.value.replace('.', '_')}"
    return dependency
