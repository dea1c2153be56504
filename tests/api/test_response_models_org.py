"""routes/org.py's response models tell the truth: for realistic account applications (through the unit
head, HR and sysadmin to an account; one skipping a unit with no head; one rejected), HR's unit tree
(create, rename, move, merge, close) and people (search, correct, a departure), the directory sync's
status (never run, then a run that failed) and requests for groups with other units (approved, rejected,
withdrawn), every JSON answer conforms to the OpenAPI document with extra keys refused, on SQLite and
PostgreSQL, the nullable and optional parts reached; every JSON route of the router is called."""

from __future__ import annotations

from typing import Any

import pytest

from mixun.api.routes import org
from mixun.services import ldap_sync
from mixun.services.runtime import Ctx
from tests.api.response_checks import Answers, check
from tests.conftest import Env
from tests.helpers import staff

UNIT_A = "总行/信息科技部"
UNIT_B = "总行/零售业务部"
NO_HEAD = "总行/办公室"


def scenario(env: Env) -> Answers:
    a = Answers(env)
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A)
    ww, _ww_t = env.person("wangwu", "王五", unit=UNIT_A)
    ls, _ls_t = env.person("lisi", "李四", unit=UNIT_B, phone="13800000002")
    _head, head_t = env.person("zhuren", "主任", unit=UNIT_A, roles=["unit_head"])
    _hr, hr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    _sys, sys = staff(env, "sys1", "系统管理员", "sysadmin")
    _sec, sec = staff(env, "sec1", "安全员", "secadmin")
    _o, off_t = env.person("zhaoliu", "赵六", unit=NO_HEAD)

    # The unit tree first (the applications below name its units).
    units = {u["path"]: u for u in a.call("units", "get", "/api/v1/org/units", hr)["units"]}
    top = units["总行"]["id"]
    data = a.call("unit.create", "post", "/api/v1/org/units", hr, 201, json={"name": "数据管理部", "parent_id": top})
    a.call("unit.create.top", "post", "/api/v1/org/units", hr, 201, json={"name": "分行筹备组"})
    sub = a.call("unit.create.sub", "post", "/api/v1/org/units", hr, 201, json={"name": "数据一处", "parent_id": data["id"]})
    a.call("unit.rename", "patch", "/api/v1/org/units/{unit_id}", hr, url=f"/api/v1/org/units/{data['id']}",
           json={"name": "数据管理中心"})
    a.call("unit.move.top", "patch", "/api/v1/org/units/{unit_id}", hr, url=f"/api/v1/org/units/{sub['id']}",
           json={"parent_id": None})
    a.call("unit.unchanged", "patch", "/api/v1/org/units/{unit_id}", hr, url=f"/api/v1/org/units/{sub['id']}", json={})
    a.call("unit.merge", "post", "/api/v1/org/units/{unit_id}/merge", hr, url=f"/api/v1/org/units/{sub['id']}/merge",
           json={"into_id": data["id"]})
    empty = a.call("unit.create.empty", "post", "/api/v1/org/units", hr, 201, json={"name": "临时组", "parent_id": top})
    a.call("unit.close", "post", "/api/v1/org/units/{unit_id}/close", hr, url=f"/api/v1/org/units/{empty['id']}/close")
    a.call("units.after", "get", "/api/v1/org/units", hr)

    # Account applications: one through every step, one to a unit with no head (skipped), one rejected.
    app = a.call("app.file", "post", "/api/v1/applications", zs_t, 201, json={
        "name": "陈新", "employee_no": "E900001", "unit_id": units[UNIT_A]["id"], "position": "开发工程师",
        "phone": "13800000001", "functions": ["chat", "files"], "username": "chenxin", "note": "新入职"})
    path = "/api/v1/applications/{application_id}/approve"
    a.call("app.approve.head", "post", path, head_t, url=f"/api/v1/applications/{app['id']}/approve", json={})
    a.call("app.approve.hr", "post", path, hr, url=f"/api/v1/applications/{app['id']}/approve", json={})
    a.call("app.allocate", "post", path, sys, url=f"/api/v1/applications/{app['id']}/approve", json={})
    skipped = a.call("app.file.nohead", "post", "/api/v1/applications", off_t, 201, json={
        "name": "李新", "employee_no": "E900002", "unit_id": units[NO_HEAD]["id"]})
    a.call("apps.todo", "get", "/api/v1/applications", hr, params={"scope": "todo"})
    a.call("app.reject", "post", "/api/v1/applications/{application_id}/reject", hr,
           url=f"/api/v1/applications/{skipped['id']}/reject", json={"reason": "工号有误"})
    a.call("app.file.third", "post", "/api/v1/applications", zs_t, 201, json={
        "name": "周新", "employee_no": "E900003", "unit_id": units[UNIT_A]["id"]})
    a.call("apps.mine", "get", "/api/v1/applications", zs_t)
    a.call("apps.mine.page", "get", "/api/v1/applications", zs_t, params={"limit": 1})
    a.call("apps.all", "get", "/api/v1/applications", sys, params={"scope": "all"})

    # People: HR's list, a correction, a departure (the drive goes to the unit head).
    a.call("people", "get", "/api/v1/org/people", hr, params={"limit": 200})
    a.call("people.q", "get", "/api/v1/org/people", hr, params={"q": "zhang"})
    a.call("people.unit", "get", "/api/v1/org/people", hr, params={"unit_id": units[UNIT_A]["id"], "limit": 1})
    a.call("person.update", "patch", "/api/v1/org/people/{user_id}", hr, url=f"/api/v1/org/people/{ls}",
           json={"name": "李斯", "position": "客户经理", "phone": "13800000003"})
    a.call("person.depart", "post", "/api/v1/org/people/{user_id}/depart", hr, url=f"/api/v1/org/people/{ww}/depart",
           json={"reason": "resignation", "pledged": True})
    a.call("person.depart.nohead", "post", "/api/v1/org/people/{user_id}/depart", hr,
           url=f"/api/v1/org/people/{ls}/depart", json={"reason": "retirement"})
    a.call("people.departed", "get", "/api/v1/org/people", hr, params={"q": "lisi"})

    # The directory sync: never run, then a run that could not read the directory (recorded).
    a.call("ldap.never", "get", "/api/v1/org/ldap-sync", hr)
    with pytest.raises(ldap_sync.LdapSyncError):
        ldap_sync.run_sync(Ctx(rt=env.rt, ip="127.0.0.1", client="tests"),
                           {"MIXUN_LDAP_URL": "ldap://127.0.0.1:1", "MIXUN_LDAP_BASE_DN": "dc=bank,dc=cn"}, dry_run=True)
    a.call("ldap.failed", "get", "/api/v1/org/ldap-sync", hr)

    # Groups with other units wait for the unit head: one approved, one rejected, one withdrawn.
    assert env.client.put("/api/v1/admin/function-rules", headers=env.h(sec), json={
        "scope": "unit", "target_id": units[UNIT_A]["id"], "function": "cross_unit_groups_unreviewed",
        "allowed": False}).status_code == 200
    other, _ot = env.person("qianqi", "钱七", unit=UNIT_B)
    requests = []
    for name in ("跨部门项目", "联合检查组", "临时讨论", "年度总结"):
        r = env.client.post("/api/v1/conversations", headers=env.h(zs_t),
                            json={"kind": "group", "name": name, "members": [other]})
        assert r.status_code == 202, r.text
        requests.append(r.json()["request"]["id"])
    a.call("requests.todo", "get", "/api/v1/group-requests", head_t, params={"scope": "todo"})
    a.call("request.approve", "post", "/api/v1/group-requests/{request_id}/approve", head_t,
           url=f"/api/v1/group-requests/{requests[0]}/approve")
    a.call("request.reject", "post", "/api/v1/group-requests/{request_id}/reject", head_t,
           url=f"/api/v1/group-requests/{requests[1]}/reject", json={"reason": "请走线下流程"})
    a.call("request.withdraw", "post", "/api/v1/group-requests/{request_id}/withdraw", zs_t,
           url=f"/api/v1/group-requests/{requests[2]}/withdraw")
    a.call("requests.mine", "get", "/api/v1/group-requests", zs_t)
    a.call("requests.head", "get", "/api/v1/group-requests", head_t)
    _ = zs
    return a


@pytest.fixture
def answers(env: Env) -> tuple[dict[str, Any], Answers]:
    return env.client.get("/api/v1/openapi.json").json(), scenario(env)


def test_every_org_answer_is_exactly_its_model(answers: tuple[dict[str, Any], Answers]) -> None:
    doc, a = answers
    check(doc, a, org.router)
    out = {name: value for name, (_m, _r, _s, value) in a.out.items()}
    # The optional and nullable parts are reached.
    assert out["app.allocate"]["password"] and "password" not in out["app.approve.hr"]
    apps = out["apps.all"]["applications"]
    assert {x["phone"] is None for x in apps} == {True, False} and {x["user_id"] is None for x in apps} == {True, False}
    assert {x["waiting_for"] is None for x in apps} == {True, False} and {x["username"] is None for x in apps} == {True, False}
    steps = [st for x in apps for st in x["steps"]]
    assert {st["by"] is None for st in steps} == {True, False}
    assert out["apps.mine.page"]["next_offset"] == 1 and out["apps.mine"]["next_offset"] is None
    tree = out["units.after"]["units"]
    assert {u["parent_id"] is None for u in tree} == {True, False} and {u["closed"] for u in tree} == {True, False}
    assert out["unit.create.top"]["parent_id"] is None and out["unit.move.top"]["parent_id"] is None
    people = out["people"]["people"]
    assert {p["employee_no"] is None for p in people} | {p["phone"] is None for p in people} == {True, False}
    assert {p["unit_id"] is None for p in people} | {p["departure_reason"] is None for p in people} == {True, False}
    assert out["people.unit"]["next_offset"] == 1 and out["people.departed"]["people"][0]["departure_reason"]
    assert out["person.depart"]["drive"]["handed_to"] and "folder_id" in out["person.depart"]["drive"]
    assert out["person.depart.nohead"]["drive"]["handed_to"] is None
    assert out["ldap.never"]["last"] is None and out["ldap.failed"]["last"]["errors"]
    mine = out["requests.mine"]["requests"]
    assert {r["decided_by"] is None for r in mine} == {True, False}
    assert {r["decided_at"] is None for r in mine} == {True, False}
    assert {r["conversation_id"] is None for r in mine} == {True, False}
