"""Personas and helpers for the compliance archive tests."""

from __future__ import annotations

from typing import Any

import pyotp
from sqlalchemy import text

from tests.conftest import Env


def officer(env: Env, username: str = "hegui", name: str = "李合规", role: str = "compliance") -> tuple[int, str]:
    """A compliance officer (or auditor) with two-factor enrolled, ready to work."""
    uid, tok = env.person(username, name, roles=[role])
    h = env.h(tok)
    secret = env.client.post("/api/v1/auth/totp/enroll", headers=h).json()["secret"]
    r = env.client.post("/api/v1/auth/totp/verify", headers=h, json={"otp": pyotp.TOTP(secret).now()})
    assert r.status_code == 200, r.text
    return uid, tok


def group(env: Env, token: str, members: list[int], name: str = "授信审批群") -> int:
    r = env.client.post("/api/v1/conversations", headers=env.h(token),
                        json={"kind": "group", "name": name, "members": members})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def send(env: Env, token: str, conv: int, text_: str) -> dict[str, Any]:
    r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(token), json={"text": text_})
    assert r.status_code == 201, r.text
    return dict(r.json())


def cli_ctx(env: Env) -> Any:
    from mixun.services.runtime import Ctx

    return Ctx(rt=env.rt, ip="127.0.0.1", client="mixun-cli (tests)")


def drop_append_only_triggers(env: Env, table: str) -> None:
    """What an intruder with database access would do first."""
    with env.rt.db.write_engine.begin() as c:
        if env.rt.db.is_sqlite:
            c.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            c.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            c.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def raw(env: Env, sql: str, **params: Any) -> Any:
    with env.rt.db.write_engine.begin() as c:
        return c.execute(text(sql), params)
