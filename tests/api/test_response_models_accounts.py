"""The account routes' response models tell the truth: sign-in, two-factor, sessions, login alerts,
presence, the client's settings and health (routes/auth.py, me.py), and the account console's acts on
staff (done at once) and on privileged accounts (filed for a second administrator, then approved or
rejected), units and the audit trail (routes/admin.py): every JSON answer conforms to the OpenAPI
document with extra keys refused, on SQLite and PostgreSQL, the nullable and optional parts reached. A
JSON route of these three files without a named model, or not called here, fails the test."""

from __future__ import annotations

import orjson
import pyotp
from pydantic import TypeAdapter

from mixun.api import models_consoles_a as m
from mixun.db.models import LoginAlert
from tests.api.test_response_models_compliance import Answers, caller, check
from tests.conftest import PASSWORD, Env
from tests.helpers import direct, staff

A = "/api/v1/admin"


def scenario(env: Env) -> Answers:
    out: Answers = {}
    call = caller(env, out)
    _sys, tsys = staff(env, "sys1", "系统管理员", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _aud, taud = staff(env, "aud1", "审计员", "auditor")
    a, ta = env.person("zhangsan", "张三", phone="13800000001")
    b, tb = env.person("lisi", "李四")
    leaver, _tl = env.person("wangwu", "王五")
    comp, _t = staff(env, "hegui", "何规", "compliance")
    comp2, _t2 = staff(env, "hegui2", "合规二", "compliance")
    comp3, _t3 = staff(env, "hegui3", "合规三", "compliance")
    direct(env, ta, b)
    with env.rt.db.write() as s:
        s.add(LoginAlert(user_id=a, ip="10.8.0.7", user_agent="Mozilla/5.0", reasons=["new_ip", "off_hours"]))

    # Signing in, the account, two-factor, sessions, what the client reads.
    call("login", "post", "/api/v1/auth/login", "", json={"username": "lisi", "password": PASSWORD})
    call("me", "get", "/api/v1/me", ta)
    call("me.patch", "patch", "/api/v1/me", ta, json={"status": "busy"})
    call("me.alerts", "get", "/api/v1/me/login-alerts", ta)
    call("me.alerts.none", "get", "/api/v1/me/login-alerts", tb)
    enrol = call("totp.enroll", "post", "/api/v1/auth/totp/enroll", ta)
    call("totp.verify", "post", "/api/v1/auth/totp/verify", ta, json={"otp": pyotp.TOTP(enrol["secret"]).now()})
    call("sessions", "get", "/api/v1/auth/sessions", tb)
    call("directory", "get", "/api/v1/directory/users", ta, params={"q": "李"})
    call("directory.person", "get", "/api/v1/directory/users/{user_id}", ta, url=f"/api/v1/directory/users/{b}")
    call("directory.units", "get", "/api/v1/directory/units", ta)
    call("presence", "get", "/api/v1/presence", ta)
    call("drafts", "get", "/api/v1/drafts", ta)
    call("client-config", "get", "/api/v1/client-config", "")
    call("health", "get", "/api/v1/health", "")

    # The account console: accounts, then acts on staff (done) and on compliance officers (filed).
    call("users", "get", f"{A}/users", tsys)
    call("users.create", "post", f"{A}/users", tsys, 201, json={
        "username": "zhaoliu", "name": "赵六", "unit_path": "总行/信息科技部", "password": PASSWORD})
    user = f"{A}/users/{{user_id}}"
    call("update", "patch", user, tsys, url=f"{A}/users/{a}", json={"position": "客户经理"})
    update_filed = call("update.filed", "patch", user, tsys, 202, url=f"{A}/users/{comp}", json={"position": "合规主管"})
    call("roles", "put", f"{user}/roles", tsec, url=f"{A}/users/{a}/roles", json={"roles": ["employee", "hr"]})
    roles_filed = call("roles.filed", "put", f"{user}/roles", tsec, 202, url=f"{A}/users/{b}/roles",
                       json={"roles": ["employee", "compliance"]})
    call("reset-password", "post", f"{user}/reset-password", tsys, url=f"{A}/users/{a}/reset-password")
    reset_filed = call("reset-password.filed", "post", f"{user}/reset-password", tsys, 202,
                       url=f"{A}/users/{comp}/reset-password")
    call("reset-two-factor", "post", f"{user}/reset-two-factor", tsys, url=f"{A}/users/{a}/reset-two-factor")
    two_factor_filed = call("reset-two-factor.filed", "post", f"{user}/reset-two-factor", tsys, 202,
                            url=f"{A}/users/{comp2}/reset-two-factor")
    call("depart", "post", f"{user}/depart", tsys, url=f"{A}/users/{leaver}/depart", json={"reason": "resignation"})
    depart_filed = call("depart.filed", "post", f"{user}/depart", tsys, 202, url=f"{A}/users/{comp3}/depart",
                        json={"reason": "retirement", "pledged": True})
    call("reinstate", "post", f"{user}/reinstate", tsys, 202, url=f"{A}/users/{leaver}/reinstate",
         json={"reason": "误操作，恢复在职"})

    # The second administrator decides.
    approve = f"{A}/approvals/{{approval_id}}/approve"
    call("approvals.pending", "get", f"{A}/approvals", tsec)
    for name, filed in (("update", update_filed), ("reset", reset_filed), ("depart", depart_filed)):
        aid = filed["approval"]["id"]
        call(f"approve.{name}", "post", approve, tsec, url=f"{A}/approvals/{aid}/approve")
    call("approve.roles", "post", approve, tsys, url=f"{A}/approvals/{roles_filed['approval']['id']}/approve")
    call("reject", "post", f"{A}/approvals/{{approval_id}}/reject", tsec,
         url=f"{A}/approvals/{two_factor_filed['approval']['id']}/reject", json={"reason": "请本人到场办理"})
    call("approvals.all", "get", f"{A}/approvals", tsec, params={"status": "all"})
    call("approvals.page", "get", f"{A}/approvals", tsys, params={"status": "decided", "limit": 1})

    # Units, sessions, login alerts, the audit trail.
    units = call("units", "get", f"{A}/units", tsys)
    call("unit.create", "post", f"{A}/units", tsys, 201, json={"name": "审计部"})
    call("unit.create.sub", "post", f"{A}/units", tsys, 201, json={"name": "二组", "parent_id": units["units"][0]["id"]})
    call("admin.sessions", "get", f"{A}/sessions", tsec)
    call("admin.alerts", "get", f"{A}/login-alerts", tsec)
    call("audit", "get", f"{A}/audit", taud, params={"limit": 5})
    call("audit.person", "get", f"{A}/audit", taud, params={"person": "张三"})
    return out


def test_every_account_answer_is_exactly_its_model(env: Env) -> None:
    from mixun.api.routes import admin, auth, me

    out = scenario(env)
    check(env, out, [admin.router, auth.router, me.router])
    v = {k: val for k, (_m, _r, _s, val) in out.items()}
    assert v["me.alerts"]["alerts"] and v["me.alerts.none"]["alerts"] == []
    assert any(s["current"] for s in v["sessions"]["sessions"])
    assert "password" in v["approve.roles"]["result"] and "password" not in v["approve.update"]["result"]
    assert set(v["approve.reset"]["result"]) == {"password", "disabled"}
    assert v["approve.depart"]["result"]["drive"]["handed_to"] is None
    approvals = v["approvals.all"]["approvals"]
    assert {x["status"] for x in approvals} == {"pending", "approved", "rejected"}
    assert {x["decided_by"] is None for x in approvals} == {True, False} and any(x["can_decide"] for x in approvals)
    assert v["approvals.page"]["next_offset"] == 1 and v["approvals.all"]["next_offset"] is None
    assert v["unit.create"]["parent_id"] is None and v["unit.create.sub"]["parent_id"]
    assert "people" in v["audit.person"] and "people" not in v["audit"] and v["audit"]["next_offset"] == 5
    assert any(r["actor_id"] is None for r in v["audit"]["records"]) or any(r["detail_names"] for r in v["audit"]["records"])
    # The wire is what the route builds: minutes as configured (an integer here stays an integer).
    minutes = v["client-config"]["idle_lock_minutes"]
    assert minutes == env.rt.settings.idle_lock_minutes and type(minutes) is type(env.rt.settings.idle_lock_minutes)


def test_an_approvals_result_keeps_its_builders_order() -> None:
    """The approval's ``result`` is one of three answers, each written in its builder's order: an account
    whose new compliance role reissued its password keeps ``password`` last."""
    account = {"id": 1, "username": "lisi", "name": "李四", "employee_no": None, "unit": "总行", "unit_id": 1,
               "position": "", "phone": None, "roles": ["employee", "compliance"], "disabled": False, "locked": False,
               "totp_enabled": False, "must_change_password": True, "last_login_at": None,
               "created_at": "2026-12-07T00:00:00+00:00", "departed": False, "departed_at": None,
               "departure_reason": None, "hr_verified": False, "privileged": True, "password": "Xk3#abcdEFGH"}
    reset = {"password": "Xk3#abcdEFGH", "disabled": False}
    departure = {"user_id": 3, "sessions_ended": 2, "groups_left": 1, "drive": {"handed_to": None, "files": 0, "bytes": 0}}
    result = TypeAdapter(m.AdminUserReissued | m.PasswordReset | m.Departure)
    for value in (account, reset, departure):
        assert result.dump_json(result.validate_python(value)) == orjson.dumps(value)
