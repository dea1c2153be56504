"""HR's organisation (issue 21 items 3-5): real names from HR only, the unit tree, moves, departures."""

from __future__ import annotations

from tests.conftest import Env
from tests.helpers import group, staff


def _units(env: Env, token: str) -> dict[str, dict]:
    r = env.client.get("/api/v1/org/units", headers=env.h(token))
    assert r.status_code == 200, r.text
    return {u["path"]: u for u in r.json()["units"]}


def _actions(env: Env) -> list[str]:
    from sqlalchemy import select

    from mixun.db.models import AuditLog

    with env.rt.db.read() as s:
        return list(s.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def test_real_names_come_only_from_hr(env: Env) -> None:
    """HR corrects a real name (audited, HR-verified badge set); sysadmin sending a name gets a 422 that
    names the field, and nothing else changes silently."""
    zs, tzs = env.person("zhangsan", "张三")
    _hr, thr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    _sys, tsys = staff(env, "sys1", "系统管理员", "sysadmin")
    assert env.client.get("/api/v1/me", headers=env.h(tzs)).json()["hr_verified"] is False
    r = env.client.patch("/api/v1/me", headers=env.h(tzs), json={"status": "busy", "name": "张大三"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"  # nobody renames themselves
    r = env.client.patch(f"/api/v1/admin/users/{zs}", headers=env.h(tsys), json={"name": "张叁", "position": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "field_not_changeable"
    assert r.json()["error"]["field"] == "name"
    r = env.client.patch(f"/api/v1/org/people/{zs}", headers=env.h(thr), json={"roles": ["compliance"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "roles"
    r = env.client.patch(f"/api/v1/org/people/{zs}", headers=env.h(thr), json={"name": "张叁", "position": "高级工程师"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "张叁" and r.json()["hr_verified"] is True and r.json()["changed"] == ["name", "position"]
    me = env.client.get("/api/v1/me", headers=env.h(tzs)).json()
    assert me["name"] == "张叁" and me["hr_verified"] is True
    found = env.client.get("/api/v1/directory/users?q=zhangsan", headers=env.h(thr)).json()["users"]
    assert found and found[0]["name"] == "张叁" and found[0]["hr_verified"] is True
    assert "person.hr_updated" in _actions(env)
    # sysadmin cannot reach HR's routes; HR cannot reach sysadmin's or grant roles.
    assert env.client.patch(f"/api/v1/org/people/{zs}", headers=env.h(tsys), json={"name": "x"}).status_code == 403
    assert env.client.put(f"/api/v1/admin/users/{zs}/roles", headers=env.h(thr), json={"roles": ["hr"]}).status_code == 403


def test_hr_manages_the_unit_tree_and_moves_people(env: Env) -> None:
    """HR creates, renames, moves, merges and closes units and moves a person; every act audited."""
    zs, _tzs = env.person("zhangsan", "张三", unit="总行/信息科技部/开发一处")
    _hr, thr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    h = env.h(thr)
    u = _units(env, thr)
    it = u["总行/信息科技部"]["id"]
    r = env.client.post("/api/v1/org/units", headers=h, json={"name": "数据管理部", "parent_id": u["总行"]["id"]})
    assert r.status_code == 201
    data = r.json()["id"]
    # rename: the sub-unit's path follows
    r = env.client.patch(f"/api/v1/org/units/{it}", headers=h, json={"name": "金融科技部"})
    assert r.status_code == 200 and r.json()["path"] == "总行/金融科技部"
    u = _units(env, thr)
    assert "总行/金融科技部/开发一处" in u and u["总行/金融科技部/开发一处"]["people"] == 1
    dev = u["总行/金融科技部/开发一处"]["id"]
    # move under itself is refused; move under 数据管理部 carries the person along
    r = env.client.patch(f"/api/v1/org/units/{it}", headers=h, json={"parent_id": dev})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unit_move_invalid"
    r = env.client.patch(f"/api/v1/org/units/{dev}", headers=h, json={"parent_id": data})
    assert r.status_code == 200 and r.json()["path"] == "总行/数据管理部/开发一处"
    # a unit that still holds someone cannot be closed; move the person, then close it
    r = env.client.post(f"/api/v1/org/units/{dev}/close", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "unit_not_empty"
    r = env.client.patch(f"/api/v1/org/people/{zs}", headers=h, json={"unit_id": it})
    assert r.status_code == 200 and r.json()["unit"] == "总行/金融科技部"
    assert env.client.post(f"/api/v1/org/units/{dev}/close", headers=h).json()["closed"] is True
    # nobody can be put into a closed unit; the directory no longer lists it
    r = env.client.patch(f"/api/v1/org/people/{zs}", headers=h, json={"unit_id": dev})
    assert r.status_code == 409 and r.json()["error"]["code"] == "unit_closed"
    assert all(x["id"] != dev for x in env.client.get("/api/v1/directory/units", headers=h).json()["units"])
    # merge: the person moves into the target and the merged unit is closed
    r = env.client.post(f"/api/v1/org/units/{it}/merge", headers=h, json={"into_id": data})
    assert r.status_code == 200 and r.json()["people_moved"] == 1
    assert env.client.get(f"/api/v1/directory/users/{zs}", headers=h).json()["unit"] == "总行/数据管理部"
    assert _units(env, thr)["总行/金融科技部"]["closed"] is True
    acts = _actions(env)
    for a in ("unit.created", "unit.renamed", "unit.moved", "unit.closed", "unit.merged", "person.hr_updated"):
        assert a in acts, a


def test_hr_records_departures_with_their_kinds(env: Env) -> None:
    """HR records a 内退 with the exit pledge: sessions end, groups are left, the kind is kept; HR cannot
    depart an administrator or compliance officer (sysadmin's, under dual control); bad kinds are 422."""
    zs, tzs = env.person("zhangsan", "张三")
    ls, tls = env.person("lisi", "李四")
    comp, _tc = env.person("comp1", "合规专员", roles=["compliance"])
    _hr, thr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    head, _th = env.person("wangwu", "王五", roles=["unit_head"])  # heads 张三's unit (总行/信息科技部)
    conv = group(env, tzs, "项目组", [ls])
    assert env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(tzs),
                           json={"user_ids": [head]}).status_code < 300
    r = env.client.post(f"/api/v1/org/people/{zs}/depart", headers=env.h(thr), json={"reason": "bored"})
    assert r.status_code == 422
    r = env.client.post(f"/api/v1/org/people/{comp}/depart", headers=env.h(thr), json={"reason": "retirement"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "hr_privileged_account"
    r = env.client.post(f"/api/v1/org/people/{zs}/depart", headers=env.h(thr),
                        json={"reason": "internal_retirement", "pledged": True})
    assert r.status_code == 200 and r.json()["groups_left"] == 1
    assert env.client.get("/api/v1/me", headers=env.h(tzs)).status_code == 401
    # the group passes to the unit head (no admin in it), though 李四 joined earlier
    members = env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(tls)).json()["members"]
    assert {m["id"]: m["role"] for m in members} == {ls: "member", head: "owner"}
    p = env.client.get("/api/v1/org/people?q=zhangsan", headers=env.h(thr)).json()["people"][0]
    assert p["departed"] is True and p["departure_reason"] == "internal_retirement"
    r = env.client.post(f"/api/v1/org/people/{zs}/depart", headers=env.h(thr), json={"reason": "transfer"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "account_departed"
