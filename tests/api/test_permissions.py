"""Roles and permissions: every route declares one, and every role × route gets the right answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute
from starlette.websockets import WebSocketDisconnect

from mixun.api.ws import WS_PERMISSION
from mixun.domain.roles import Perm, Role, permissions_for
from tests.conftest import Env
from tests.helpers import enable_totp, staff

ROLES = [r.value for r in Role]
# Routes that would end the caller's own sessions: they are walked last, in their own test.
SESSION_ENDING = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/logout-all"),
                  ("POST", "/api/v1/auth/lock")}  # locking: every later call would answer 423
# Any logged-in session passes these (the principal's state decides, not the role).
EVERYONE = {Perm.PUBLIC, Perm.SESSION, Perm.TOTP_SETUP, Perm.RULES}


def _flatten(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    out: list[tuple[str, BaseRoute]] = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:  # FastAPI's included router wrapper
            out += _flatten(inner.routes, prefix + getattr(r.include_context, "prefix", ""))
        elif hasattr(r, "routes") and not hasattr(r, "path"):
            out += _flatten(r.routes, prefix)
        else:
            out.append((prefix + getattr(r, "path", ""), r))
    return out


def _perms_of_dependant(dep: Any) -> list[Perm]:
    found = [dep.call.permission] if getattr(dep.call, "permission", None) is not None else []
    for sub in dep.dependencies:
        found += _perms_of_dependant(sub)
    return found


def route_permissions(app: Any) -> list[tuple[str, str, Perm | None]]:
    """(method, path, permission) for every route of the app; permission None when it declares none."""
    out: list[tuple[str, str, Perm | None]] = []
    for path, r in _flatten(app.routes):
        if isinstance(r, APIWebSocketRoute):
            out.append(("WS", path, WS_PERMISSION))
            continue
        perms: list[Perm] = []
        if isinstance(r, APIRoute):
            perms = _perms_of_dependant(r.dependant)
        endpoint_perm = getattr(getattr(r, "endpoint", None), "permission", None)
        if endpoint_perm is not None:
            perms.append(endpoint_perm)
        for method in sorted(getattr(r, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            out.append((method, path, perms[0] if len(set(perms)) == 1 else None))
    return out


def _concrete(path: str) -> str:
    path = path.replace("{name:path}", "no-such-asset.js").replace("{path:path}", "no/such/page")
    return re.sub(r"\{[^}]+\}", "999999", path)


def _call(env: Env, method: str, path: str, headers: dict[str, str]) -> Any:
    url = _concrete(path)
    if method in ("GET", "DELETE"):
        return env.client.request(method, url, headers=headers)
    return env.client.request(method, url, headers=headers, json={})


def test_every_route_declares_a_permission(sqlite_env: Env) -> None:
    """No route is reachable without a declared permission: the walk fails on any that has none."""
    missing = [(m, p) for m, p, perm in route_permissions(sqlite_env.app) if perm is None]
    assert missing == []


def test_walk_finds_the_api(sqlite_env: Env) -> None:
    """The walk sees the whole API (auth, me, directory, conversations, admin, WebSocket, web pages)."""
    walked = {(m, p) for m, p, _ in route_permissions(sqlite_env.app)}
    for expected in [("POST", "/api/v1/auth/login"), ("GET", "/api/v1/conversations"),
                     ("POST", "/api/v1/conversations/{conversation_id}/messages"),
                     ("GET", "/api/v1/admin/audit"), ("WS", "/api/v1/ws"), ("GET", "/"),
                     ("GET", "/api/v1/directory/users"), ("POST", "/api/v1/messages/forward"),
                     ("GET", "/api/v1/attachments/{attachment_id}/preview"),
                     ("POST", "/api/v1/conversations/{conversation_id}/dissolve"),
                     ("PUT", "/api/v1/conversations/{conversation_id}/notice")]:
        assert expected in walked
    assert len(walked) > 35


def test_unauthenticated_gets_401_except_public(env: Env) -> None:
    """Without a login every route but the public ones answers 401 in the error format."""
    for method, path, perm in route_permissions(env.app):
        if method == "WS" or perm is None:
            continue
        r = _call(env, method, path, {})
        assert r.status_code < 500, (method, path, r.text)
        if perm is Perm.PUBLIC:
            assert r.status_code != 401, (method, path)
        elif perm is Perm.SCIM:  # SCIM answers in its own error format (RFC 7644 §3.12)
            assert r.status_code == 401 and r.json()["status"] == "401", (method, path, r.text)
        else:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "not_authenticated"
    with pytest.raises(WebSocketDisconnect) as exc, env.client.websocket_connect("/api/v1/ws") as ws:
        ws.receive_json()
    assert exc.value.code == 4001


def test_route_role_walk(env: Env) -> None:
    """Every role calls every route: a missing permission is 403 forbidden, a held one is never 403
    forbidden, nothing is ever 500."""
    routes = [(m, p, perm) for m, p, perm in route_permissions(env.app) if perm is not None and m != "WS"]
    # SCIM takes its own bearer token, never a session (tests/api/test_scim.py): every role is a 401 there.
    routes = [r for r in routes if r[2] is not Perm.SCIM]
    for role in ROLES:
        uid = env.make_user(f"walk_{role}", f"角色{role}", roles=[role])
        token, spare = env.login(f"walk_{role}"), env.login(f"walk_{role}")
        enable_totp(env, uid)
        held = permissions_for([role])
        h = env.h(token)
        for method, path, perm in routes:
            if (method, path) in SESSION_ENDING:
                continue
            r = _call(env, method, path, h)
            where = (role, method, path, r.status_code, r.text[:200])
            assert r.status_code < 500, where
            assert r.status_code != 401, where
            code = r.json().get("error", {}).get("code") if r.headers.get("content-type", "").startswith(
                "application/json") and r.status_code >= 400 else None
            if perm in EVERYONE or perm in held:
                assert code != "forbidden", where
            else:
                assert r.status_code == 403 and code == "forbidden", where
        if WS_PERMISSION in held:
            with env.client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
                assert ws.receive_json()["type"] == "hello"
        assert _call(env, "POST", "/api/v1/auth/logout", h).status_code == 204
        assert env.client.get("/api/v1/me", headers=h).status_code == 401
        assert _call(env, "POST", "/api/v1/auth/logout-all", env.h(spare)).status_code == 204


def test_separation_of_the_three_administrators(env: Env) -> None:
    """三员分立: the auditor reads the audit trail but not users or conversations; the system
    administrator cannot read the audit trail; the security administrator cannot create or edit accounts."""
    _a, auditor = staff(env, "aud2", "审计员", "auditor")
    _s, sysadmin = staff(env, "sys2", "系统员", "sysadmin")
    _c, secadmin = staff(env, "sec2", "安全员", "secadmin")
    c = env.client
    r = c.get("/api/v1/admin/audit", headers=env.h(auditor))
    assert r.status_code == 200 and isinstance(r.json()["records"], list) and r.json()["records"]
    for path in ("/api/v1/admin/users", "/api/v1/conversations"):
        r = c.get(path, headers=env.h(auditor))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = c.get("/api/v1/admin/audit", headers=env.h(sysadmin))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert c.get("/api/v1/admin/users", headers=env.h(sysadmin)).status_code == 200
    # secadmin reads the people list (to grant roles, issue 19) but creates and edits no account.
    assert c.get("/api/v1/admin/users", headers=env.h(secadmin)).status_code == 200
    for method, path in (("POST", "/api/v1/admin/users"), ("PATCH", f"/api/v1/admin/users/{_a}")):
        r = c.request(method, path, headers=env.h(secadmin), json={})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert c.get("/api/v1/admin/login-alerts", headers=env.h(secadmin)).status_code == 200
    r = c.get("/api/v1/admin/audit", headers=env.h(secadmin))
    assert r.status_code == 403


def test_admin_without_two_factor_can_only_enrol(sqlite_env: Env) -> None:
    """An administrator who has not enrolled two-factor is held at enrolment on every admin route."""
    env = sqlite_env
    env.make_user("sys3", "系统员三", roles=["sysadmin"])
    h = env.h(env.login("sys3"))
    r = env.client.get("/api/v1/admin/users", headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "totp_enrollment_required"
    assert env.client.post("/api/v1/auth/totp/enroll", headers=h).status_code == 200
