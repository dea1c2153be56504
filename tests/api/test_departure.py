"""A4 departures: the account leaves the org at once, its history stays."""

from __future__ import annotations

from tests.conftest import Env
from tests.helpers import group, send, staff


def test_departure_ends_sessions_leaves_groups_and_keeps_history(env: Env) -> None:
    """sysadmin records a departure: the person's token stops working, they leave groups, messages remain."""
    _adm, tadm = staff(env, "sys1", "系统管理员", "sysadmin")
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, "项目组", [b])
    env.client.post(f"/api/v1/conversations/{conv}/owner", headers=env.h(ta), json={"user_id": b})
    assert send(env, ta, conv, "交接文档在共享盘").status_code == 201
    r = env.client.post(f"/api/v1/admin/users/{a}/depart", headers=env.h(tadm), json={"reason": "resignation"})
    assert r.status_code == 200 and r.json()["groups_left"] == 1
    assert env.client.get("/api/v1/me", headers=env.h(ta)).status_code == 401
    members = env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(tb)).json()["members"]
    assert [m["id"] for m in members] == [b]
    history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tb)).json()["messages"]
    assert history[0]["text"] == "交接文档在共享盘"
    relogin = env.client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": "Str0ng!Pass#2026"})
    assert relogin.status_code == 403
    bad = env.client.post(f"/api/v1/admin/users/{b}/depart", headers=env.h(tadm), json={"reason": "x"})
    assert bad.status_code == 422
