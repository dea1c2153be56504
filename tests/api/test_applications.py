"""Accounts by application (issue 21 item 1, A1): unit head, then HR, then sysadmin allocates."""

from __future__ import annotations

from tests.conftest import Env
from tests.helpers import staff


def _unit_id(env: Env, token: str, path: str) -> int:
    units = env.client.get("/api/v1/directory/units", headers=env.h(token)).json()["units"]
    return next(u["id"] for u in units if u["path"] == path)


def _audit(env: Env, action: str) -> list[dict]:
    from sqlalchemy import select

    from mixun.db.models import AuditLog

    with env.rt.db.read() as s:
        return [dict(r.details, actor_id=r.actor_id) for r in
                s.execute(select(AuditLog).where(AuditLog.action == action)).scalars()]


def test_application_goes_through_unit_head_hr_and_sysadmin(env: Env) -> None:
    """Anyone files; the unit head, then HR approve; sysadmin allocates with a one-time password the new
    person must change; each step is audited and the applicant sees where it stands."""
    zs, tzs = env.person("zhangsan", "张三", unit="总行/信息科技部")
    head, thead = env.person("wangwu", "王五", unit="总行/信息科技部", roles=["unit_head"])
    other_head, tother = env.person("zhaoliu", "赵六", unit="总行/风险管理部", roles=["unit_head"])
    hr, thr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    _sys, tsys = staff(env, "sys1", "系统管理员", "sysadmin")
    unit = _unit_id(env, tzs, "总行/信息科技部")
    body = {"name": "陈新", "employee_no": "E900001", "unit_id": unit, "position": "开发工程师",
            "phone": "13800000001", "functions": ["chat", "files"]}
    r = env.client.post("/api/v1/applications", headers=env.h(tzs), json=body)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "pending_unit_head" and app["waiting_for"] == "unit_head" and not app["can_decide"]
    # HR and another unit's head may not decide the unit head's step; the applicant may not either.
    for token in (thr, tother, tzs):
        r = env.client.post(f"/api/v1/applications/{app['id']}/approve", headers=env.h(token), json={})
        assert r.status_code == 403 and r.json()["error"]["code"] == "application_not_your_step", r.text
    todo = env.client.get("/api/v1/applications?scope=todo", headers=env.h(thead)).json()
    assert [a["id"] for a in todo["applications"]] == [app["id"]] and todo["todo_count"] == 1
    assert env.client.get("/api/v1/applications?scope=todo", headers=env.h(tother)).json()["todo_count"] == 0
    r = env.client.post(f"/api/v1/applications/{app['id']}/approve", headers=env.h(thead), json={})
    assert r.status_code == 200 and r.json()["status"] == "pending_hr"
    r = env.client.post(f"/api/v1/applications/{app['id']}/approve", headers=env.h(thr), json={})
    assert r.status_code == 200 and r.json()["status"] == "pending_sysadmin"
    r = env.client.post(f"/api/v1/applications/{app['id']}/approve", headers=env.h(tsys), json={"username": "chenxin"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "allocated" and done["username"] == "chenxin" and done["password"]
    assert [st["decision"] for st in done["steps"]] == ["approved", "approved", "allocated"]
    # The new person logs in with the one-time password and must change it; the name is HR-verified.
    r = env.client.post("/api/v1/auth/login", json={"username": "chenxin", "password": done["password"]})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    assert r.json()["user"]["hr_verified"] is True
    # The password is shown once: neither the applicant's view nor the audit trail carries it.
    mine = env.client.get("/api/v1/applications?scope=mine", headers=env.h(tzs)).json()["applications"]
    assert mine[0]["status"] == "allocated" and "password" not in mine[0]
    assert [a["stage"] for a in _audit(env, "application.approved")] == ["pending_unit_head", "pending_hr"]
    assert len(_audit(env, "application.filed")) == 1 and len(_audit(env, "application.allocated")) == 1
    assert done["password"] not in str(_audit(env, "application.allocated"))
    # Deciding twice is refused.
    r = env.client.post(f"/api/v1/applications/{app['id']}/approve", headers=env.h(tsys), json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "application_not_pending"
    _ = (zs, head, other_head, hr)


def test_rejection_with_reason_stops_the_application_and_the_next_decider_is_told(env: Env) -> None:
    """HR rejects with a reason: no account is created, the applicant sees the reason; whoever must act
    next receives an application.changed event."""
    _zs, tzs = env.person("zhangsan", "张三", unit="总行/办公室")  # no unit head over 总行/办公室
    hr, thr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    unit = _unit_id(env, tzs, "总行/办公室")
    r = env.client.post("/api/v1/applications", headers=env.h(tzs),
                        json={"name": "李新", "employee_no": "E900002", "unit_id": unit})
    app = r.json()
    assert app["status"] == "pending_hr" and app["steps"][0]["decision"] == "skipped"
    with env.rt.db.read() as s:
        from mixun.services.events import read_events

        assert any('"application.changed"' in body for _seq, body in read_events(s, hr, 0))
    r = env.client.post(f"/api/v1/applications/{app['id']}/reject", headers=env.h(thr), json={"reason": " "})
    assert r.status_code == 422
    r = env.client.post(f"/api/v1/applications/{app['id']}/reject", headers=env.h(thr), json={"reason": "工号有误"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    mine = env.client.get("/api/v1/applications", headers=env.h(tzs)).json()["applications"]
    assert mine[0]["reject_reason"] == "工号有误" and mine[0]["user_id"] is None
    assert env.client.post("/api/v1/auth/login", json={"username": "e900002", "password": "x"}).status_code == 401


def test_bad_applications_are_clear_4xx(env: Env) -> None:
    """Unknown functions, an employee number already taken, a field nobody may set: 4xx naming it."""
    _zs, tzs = env.person("zhangsan", "张三", unit="总行/办公室")
    unit = _unit_id(env, tzs, "总行/办公室")
    base = {"name": "李新", "employee_no": "E900003", "unit_id": unit}
    r = env.client.post("/api/v1/applications", headers=env.h(tzs), json={**base, "functions": ["root"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "functions"
    r = env.client.post("/api/v1/applications", headers=env.h(tzs), json={**base, "roles": ["secadmin"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "field_not_changeable"
    assert r.json()["error"]["field"] == "roles"
    assert env.client.post("/api/v1/applications", headers=env.h(tzs), json=base).status_code == 201
    r = env.client.post("/api/v1/applications", headers=env.h(tzs), json=base)
    assert r.status_code == 409 and r.json()["error"]["code"] == "employee_no_taken"
    r = env.client.post("/api/v1/applications", headers=env.h(tzs), json={**base, "employee_no": "E9", "unit_id": 999999})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unit_not_found"
