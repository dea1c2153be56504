"""Item 8's gaps (issue 21): groups with other units needing the unit head's approval, and the drive's
function switch. secadmin switches ``cross_unit_groups_unreviewed`` off for a unit: a group with people
of other units becomes a request (202) the unit head approves (the group is made as asked) or rejects
with a reason; each step audited and told; the requester sees where it stands. ``use_drive`` off: every
drive route is a 403 that names the rule."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Env
from tests.helpers import staff

UNIT_A = "总行/信息科技部"
UNIT_B = "总行/零售业务部"


def _audit(env: Env) -> list[str]:
    from mixun.db.models import AuditLog

    with env.rt.db.read() as s:
        return list(s.execute(select(AuditLog.action)).scalars())


def _events(env: Env, user_id: int, kind: str) -> list[str]:
    from mixun.db.models import EventPayload, UserEvent

    with env.rt.db.read() as s:
        return list(s.execute(select(EventPayload.body).join(UserEvent, UserEvent.payload_id == EventPayload.id)
                              .where(UserEvent.user_id == user_id, EventPayload.type == kind)).scalars())


def _unit_id(env: Env, token: str, path: str) -> int:
    return next(u["id"] for u in env.client.get("/api/v1/directory/units", headers=env.h(token)).json()["units"]
                if u["path"] == path)


def test_cross_unit_group_waits_for_the_unit_head(env: Env) -> None:
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A)
    ww, ww_t = env.person("wangwu", "王五", unit=UNIT_A)
    head, head_t = env.person("zhuren", "主任", unit=UNIT_A, roles=["unit_head"])
    ls, ls_t = env.person("lisi", "李四", unit=UNIT_B)
    other_head, other_t = env.person("bhead", "零售主任", unit=UNIT_B, roles=["unit_head"])
    _sec, sec_t = staff(env, "sec2", "安全员", "secadmin")
    c = env.client
    r = c.put("/api/v1/admin/function-rules", headers=env.h(sec_t), json={
        "scope": "unit", "target_id": _unit_id(env, zs_t, UNIT_A), "function": "cross_unit_groups_unreviewed",
        "allowed": False})
    assert r.status_code == 200, r.text
    # within the unit nothing changes
    r = c.post("/api/v1/conversations", headers=env.h(zs_t), json={"kind": "group", "name": "本部门", "members": [ww]})
    assert r.status_code == 201
    # with someone of another unit: a request, not a group
    r = c.post("/api/v1/conversations", headers=env.h(zs_t), json={"kind": "group", "name": "跨部门项目",
                                                                    "members": [ww, ls]})
    assert r.status_code == 202, r.text
    req = r.json()["request"]
    assert r.json()["pending"] is True and req["status"] == "pending"
    assert [p["id"] for p in req["approvers"]] == [head] and other_head not in [p["id"] for p in req["approvers"]]
    assert not [x for x in c.get("/api/v1/conversations", headers=env.h(ls_t)).json()["conversations"]
                if x["name"] == "跨部门项目"]
    mine = c.get("/api/v1/group-requests", headers=env.h(zs_t)).json()["requests"]
    assert [m["status"] for m in mine] == ["pending"] and mine[0]["can_decide"] is False
    assert {m["unit"] for m in mine[0]["members"]} == {UNIT_A, UNIT_B}
    # only the requester's unit head decides
    assert c.post(f"/api/v1/group-requests/{req['id']}/approve", headers=env.h(other_t)).status_code == 403
    assert c.post(f"/api/v1/group-requests/{req['id']}/approve", headers=env.h(zs_t)).status_code == 403
    todo = c.get("/api/v1/group-requests?scope=todo", headers=env.h(head_t)).json()
    assert todo["todo_count"] == 1 and todo["requests"][0]["can_decide"] is True
    assert c.get("/api/v1/group-requests?scope=todo", headers=env.h(other_t)).json()["todo_count"] == 0
    r = c.post(f"/api/v1/group-requests/{req['id']}/approve", headers=env.h(head_t))
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["conversation_id"]
    conv = c.get(f"/api/v1/conversations/{r.json()['conversation_id']}", headers=env.h(ls_t)).json()
    assert conv["name"] == "跨部门项目" and {m["id"] for m in conv["members"]} == {zs, ww, ls}
    owner = next(m for m in conv["members"] if m["id"] == zs)
    assert owner.get("role") in (None, "owner")
    assert c.post(f"/api/v1/group-requests/{req['id']}/approve", headers=env.h(head_t)).status_code == 409
    # a second request, rejected with a reason; a third withdrawn
    r2 = c.post("/api/v1/conversations", headers=env.h(zs_t), json={"kind": "group", "name": "第二个",
                                                                     "members": [ls]}).json()["request"]
    assert c.post(f"/api/v1/group-requests/{r2['id']}/reject", headers=env.h(head_t), json={"reason": ""}).status_code == 422
    r = c.post(f"/api/v1/group-requests/{r2['id']}/reject", headers=env.h(head_t), json={"reason": "项目未立项"})
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "项目未立项"
    r3 = c.post("/api/v1/conversations", headers=env.h(zs_t), json={"kind": "group", "name": "第三个",
                                                                     "members": [ls]}).json()["request"]
    assert c.post(f"/api/v1/group-requests/{r3['id']}/withdraw", headers=env.h(ww_t)).status_code == 404
    assert c.post(f"/api/v1/group-requests/{r3['id']}/withdraw", headers=env.h(zs_t)).json()["status"] == "withdrawn"
    statuses = [m["status"] for m in c.get("/api/v1/group-requests", headers=env.h(zs_t)).json()["requests"]]
    assert statuses == ["withdrawn", "rejected", "approved"]
    actions = _audit(env)
    for a in ("group_request.filed", "group_request.approved", "group_request.rejected", "group_request.withdrawn"):
        assert a in actions
    # the unit head heard of each request, the requester of each decision
    assert len(_events(env, head, "group_request.changed")) >= 3
    assert len(_events(env, zs, "group_request.changed")) >= 5
    # with no unit head able to decide, the request is refused outright (nothing waits for no one)
    _x, x_t = env.person("xiaoqi", "小七", unit="分行/营业部")
    c.put("/api/v1/admin/function-rules", headers=env.h(sec_t), json={
        "scope": "unit", "target_id": _unit_id(env, x_t, "分行/营业部"), "function": "cross_unit_groups_unreviewed",
        "allowed": False})
    r = c.post("/api/v1/conversations", headers=env.h(x_t), json={"kind": "group", "name": "无人审批", "members": [ls]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_unit_head"


def test_drive_switch_gates_every_drive_route(env: Env) -> None:
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A)
    _sec, sec_t = staff(env, "sec2", "安全员", "secadmin")
    c = env.client
    assert c.get("/api/v1/drive", headers=env.h(zs_t)).status_code == 200
    r = c.put("/api/v1/admin/function-rules", headers=env.h(sec_t), json={
        "scope": "user", "target_id": zs, "function": "use_drive", "allowed": False})
    assert r.status_code == 200
    for method, path, body in (("GET", "/api/v1/drive", None), ("GET", "/api/v1/drive/usage", None),
                               ("POST", "/api/v1/drive/folders", {"name": "资料"}),
                               ("POST", "/api/v1/drive/uploads", {"name": "a.txt", "size": 3}),
                               ("GET", "/api/v1/drive/trash", None)):
        r = c.request(method, path, headers=env.h(zs_t), json=body)
        assert r.status_code == 403, (path, r.text)
        err = r.json()["error"]
        assert err["code"] == "function_disabled" and err["function"] == "use_drive" and err["rule_scope"] == "user"
        assert "使用网盘" in err["message"] or "drive" in err["message"]
    _o, o_t = env.person("lisi", "李四", unit=UNIT_A)
    assert c.get("/api/v1/drive", headers=env.h(o_t)).status_code == 200  # only the person it was set for
