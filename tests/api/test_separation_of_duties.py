"""三员分立 that no single administrator can defeat (issue 19): every path by which one administrator
alone could read archive content, read the audit trail, or silence another administrator fails."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mixun.db.models import AuditLog, MessageVersion, User
from mixun.domain.roles import Perm, permissions_for
from tests.api.test_permissions import _call, route_permissions
from tests.conftest import PASSWORD, Env
from tests.helpers import staff


def _err(r: Any) -> str:
    return r.json().get("error", {}).get("code", "")


def _user(env: Env, uid: int) -> User:
    with env.rt.db.read() as s:
        u = s.get(User, uid)
        assert u is not None
        s.expunge(u)
        return u


def _actions(env: Env) -> list[str]:
    with env.rt.db.read() as s:
        return list(s.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def test_one_administrator_alone_cannot_read_archive_audit_or_silence_a_colleague(env: Env) -> None:
    """Driven as a single sysadmin, then a single secadmin: no archive, no audit trail, and nothing done
    to the auditor, a fellow administrator or a compliance officer takes effect alone."""
    c = env.client
    s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    s2, ts2 = staff(env, "sys2", "系统员乙", "sysadmin")
    sec1, tsec1 = staff(env, "sec1", "安全员甲", "secadmin")
    aud, taud = staff(env, "aud1", "审计员甲", "auditor")
    comp, _tcomp = staff(env, "comp1", "合规员甲", "compliance")
    emp, _temp = env.person("zhangsan", "张三")

    # Reading archive content or the audit trail: every such route refuses both administrators.
    # Whatever the auditor or a compliance officer holds beyond an employee's (the review queue of DLP holds
    # excepted, which secadmin shares by design) is out of both administrators' reach, route by route.
    # The inspection report and the rules-acceptance list are counts and names shared with the
    # administrators by design (issue 21, issue 22): they carry no message, file or trail content; nor
    # does the key management status the auditor shares with the security administrator (issue 20).
    content = ((permissions_for(["auditor"]) | permissions_for(["compliance"]))
               - permissions_for(["employee"]) - {Perm.REVIEW, Perm.REPORTS, Perm.RULES_REPORT, Perm.KEYS_STATUS})
    assert {Perm.AUDIT_READ, Perm.ARCHIVE_SEARCH} <= content
    assert Perm.KEYS_STATUS in permissions_for(["secadmin"]) & permissions_for(["auditor"])
    assert Perm.KEYS_STATUS not in permissions_for(["sysadmin"]) | permissions_for(["employee"])
    for role in ("sysadmin", "secadmin"):
        assert not permissions_for([role]) & content, role
    guarded = [(m, p) for m, p, perm in route_permissions(env.app) if perm in content and m != "WS"]
    assert any("/compliance/archive" in p for _, p in guarded) and any("/admin/audit" in p for _, p in guarded)
    for token in (ts1, tsec1):
        for method, path in guarded:
            r = _call(env, method, path, env.h(token))
            assert r.status_code == 403 and _err(r) == "forbidden", (method, path, r.status_code)

    # No route lets an administrator end someone else's sessions (the sessions list is read-only).
    ending = [(m, p) for m, p, _perm in route_permissions(env.app)
              if "session" in p and m in ("POST", "DELETE", "PATCH", "PUT") and p.startswith("/api/v1/admin")]
    assert ending == []

    # Silencing the auditor, another administrator or a compliance officer: each act is only filed.
    for target in (aud, s2, sec1, comp):
        r = c.patch(f"/api/v1/admin/users/{target}", headers=env.h(ts1), json={"disabled": True})
        assert r.status_code == 202 and r.json()["approval"]["status"] == "pending", r.text
        r = c.post(f"/api/v1/admin/users/{target}/reset-password", headers=env.h(ts1))
        assert r.status_code == 202 and "password" not in r.json(), r.text
        r = c.post(f"/api/v1/admin/users/{target}/reset-two-factor", headers=env.h(ts1))
        assert r.status_code == 202, r.text
        assert not _user(env, target).disabled and _user(env, target).totp_enabled
    for target in (aud, s2, sec1):
        r = c.post(f"/api/v1/admin/users/{target}/depart", headers=env.h(ts1), json={"reason": "resignation"})
        assert r.status_code == 403 and _err(r) == "reserved_role"
    r = c.post(f"/api/v1/admin/users/{comp}/depart", headers=env.h(ts1), json={"reason": "resignation"})
    assert r.status_code == 202 and not _user(env, comp).disabled
    # The auditor still reads the audit trail: nothing took effect.
    assert c.get("/api/v1/admin/audit", headers=env.h(taud)).status_code == 200

    # Role changes: sysadmin cannot grant at all; secadmin's compliance grant waits for a sysadmin.
    for body in ({"roles": ["employee", "compliance"]}, {"roles": ["employee", "hr"]}):
        r = c.patch(f"/api/v1/admin/users/{emp}", headers=env.h(ts1), json=body)
        assert r.status_code == 403 and _err(r) == "role_grant_not_allowed"
    r = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(ts1), json={"roles": ["employee", "compliance"]})
    assert r.status_code == 403 and _err(r) == "forbidden"
    r = c.post("/api/v1/admin/users", headers=env.h(ts1), json={
        "username": "mole", "name": "内鬼", "unit_path": "总行/信息科技部", "password": PASSWORD,
        "roles": ["employee", "compliance"]})
    assert r.status_code == 403 and _err(r) == "role_grant_not_allowed"
    r = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(tsec1), json={"roles": ["employee", "compliance"]})
    assert r.status_code == 202
    assert _user(env, emp).roles == ["employee"]
    r = c.put(f"/api/v1/admin/users/{comp}/roles", headers=env.h(tsec1), json={"roles": ["employee"]})
    assert r.status_code == 202 and "compliance" in _user(env, comp).roles
    for target in (aud, s1):
        r = c.put(f"/api/v1/admin/users/{target}/roles", headers=env.h(tsec1), json={"roles": ["employee"]})
        assert r.status_code == 403 and _err(r) == "reserved_role"

    # The employee route: reset their password and log in as them still gives no archive.
    r = c.post(f"/api/v1/admin/users/{emp}/reset-password", headers=env.h(ts1))
    assert r.status_code == 200
    t_emp = env.login("zhangsan", r.json()["password"])
    r = c.get("/api/v1/compliance/archive/search", headers=env.h(t_emp), params={"q": "x", "reason": "测试原因测试"})
    assert r.status_code == 403

    # Nobody decides their own request, nor one of their own kind, nor one about themselves.
    pending = c.get("/api/v1/admin/approvals", headers=env.h(tsec1)).json()["approvals"]
    assert pending and all(a["status"] == "pending" for a in pending)
    for a in pending:
        filed_by_sys = a["requester_role"] == "sysadmin"
        for token in ((ts1, ts2) if filed_by_sys else (tsec1,)):
            r = c.post(f"/api/v1/admin/approvals/{a['id']}/approve", headers=env.h(token))
            assert r.status_code == 403 and _err(r) == "approval_not_allowed", (a["kind"], r.text)
        if filed_by_sys and a["target"]["id"] == sec1:
            r = c.post(f"/api/v1/admin/approvals/{a['id']}/approve", headers=env.h(tsec1))
            assert r.status_code == 403 and _err(r) == "approval_not_allowed"
    for token in (taud,):
        r = c.get("/api/v1/admin/approvals", headers=env.h(token))
        assert r.status_code == 403
    assert not _user(env, aud).disabled and not _user(env, sec1).disabled
    assert "approval.decision_refused" in _actions(env)


def test_compliance_grant_takes_effect_after_a_sysadmin_approves(env: Env) -> None:
    """secadmin grants compliance: pending until a sysadmin approves; both sides are in the audit trail."""
    c = env.client
    s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    emp, _t = env.person("lisi", "李四")
    r = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(tsec), json={"roles": ["employee", "unit_head"]})
    assert r.status_code == 200 and r.json()["roles"] == ["employee", "unit_head"]
    r = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(tsec), json={"roles": ["employee", "compliance"]})
    assert r.status_code == 202
    aid = r.json()["approval"]["id"]
    again = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(tsec), json={"roles": ["employee", "compliance"]})
    assert again.status_code == 409 and _err(again) == "approval_pending_exists"
    rows = {u["id"]: u for u in c.get("/api/v1/admin/users", headers=env.h(ts1)).json()["users"]}
    assert rows[emp]["pending_approvals"] == ["roles"]
    listed = c.get("/api/v1/admin/approvals", headers=env.h(ts1)).json()
    mine = next(a for a in listed["approvals"] if a["id"] == aid)
    assert mine["can_decide"] and mine["target"]["name"] == "李四" and mine["requested_by"]["name"] == "安全员甲"
    r = c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(ts1))
    assert r.status_code == 200, r.text
    assert _user(env, emp).roles == ["employee", "compliance"]
    r = c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(ts1))
    assert r.status_code == 409 and _err(r) == "approval_not_pending"
    decided = c.get("/api/v1/admin/approvals", headers=env.h(tsec), params={"status": "decided"}).json()["approvals"]
    assert decided[0]["decided_by"]["id"] == s1 and decided[0]["status"] == "approved"
    actions = _actions(env)
    assert {"approval.requested", "approval.approved", "account.roles_changed"} <= set(actions)


def test_rejection_needs_a_reason_and_changes_nothing(env: Env) -> None:
    """secadmin rejects a sysadmin's request to disable the auditor, with a reason; the auditor stays."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    aud, _ta = staff(env, "aud1", "审计员甲", "auditor")
    aid = c.patch(f"/api/v1/admin/users/{aud}", headers=env.h(ts1), json={"disabled": True}).json()["approval"]["id"]
    r = c.post(f"/api/v1/admin/approvals/{aid}/reject", headers=env.h(tsec), json={"reason": " "})
    assert r.status_code == 422
    r = c.post(f"/api/v1/admin/approvals/{aid}/reject", headers=env.h(tsec), json={"reason": "未说明理由"})
    assert r.status_code == 200 and r.json()["approval"]["status"] == "rejected"
    assert not _user(env, aud).disabled
    assert "approval.rejected" in _actions(env)


def test_privileged_password_reset_gives_the_resetter_nothing_usable(env: Env) -> None:
    """Resetting a compliance officer's password: the requester never sees it, the approver does, and the
    password alone opens no session because the officer's two-factor enrolment stays."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    comp, _tc = staff(env, "comp1", "合规员甲", "compliance")
    r = c.post(f"/api/v1/admin/users/{comp}/reset-password", headers=env.h(ts1))
    assert r.status_code == 202 and "password" not in r.json()
    aid = r.json()["approval"]["id"]
    r = c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(tsec))
    assert r.status_code == 200
    password = r.json()["result"]["password"]
    listed = c.get("/api/v1/admin/approvals", headers=env.h(ts1), params={"status": "all"}).text
    assert password not in listed
    r = c.post("/api/v1/auth/login", json={"username": "comp1", "password": password})
    assert r.status_code == 401 and _err(r) == "otp_required"
    with env.rt.db.read() as s:
        details = [str(d) for d in s.execute(select(AuditLog.details)).scalars()]
    assert not any(password in d for d in details)


def test_nobody_disables_departs_or_regrants_their_own_account(env: Env) -> None:
    """An administrator's own account is out of their reach in the console: disable, depart, reset, roles."""
    c = env.client
    s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    for method, path, body in (("PATCH", f"/api/v1/admin/users/{s1}", {"disabled": True}),
                               ("POST", f"/api/v1/admin/users/{s1}/depart", {"reason": "resignation"}),
                               ("POST", f"/api/v1/admin/users/{s1}/reset-password", None),
                               ("POST", f"/api/v1/admin/users/{s1}/reset-two-factor", None)):
        r = c.request(method, path, headers=env.h(ts1), json=body)
        assert r.status_code == 403 and _err(r) == "self_action_forbidden", (path, r.text)
    r = c.put(f"/api/v1/admin/users/{sec}/roles", headers=env.h(tsec), json={"roles": ["employee"]})
    assert r.status_code == 403 and _err(r) == "self_action_forbidden"
    assert not _user(env, s1).disabled


def test_last_active_auditor_cannot_be_disabled(env: Env) -> None:
    """With one auditor left, disabling it is refused even with an approval; with two, one may go."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    aud, _ta = staff(env, "aud1", "审计员甲", "auditor")
    with env.rt.db.read() as s:
        builtin = s.execute(select(User.id).where(User.username == "auditor")).scalar_one()
    aid = c.patch(f"/api/v1/admin/users/{aud}", headers=env.h(ts1), json={"disabled": True}).json()["approval"]["id"]
    other = c.patch(f"/api/v1/admin/users/{builtin}", headers=env.h(ts1), json={"disabled": True})
    assert other.status_code == 202
    assert c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(tsec)).status_code == 200
    assert _user(env, aud).disabled
    r = c.post(f"/api/v1/admin/approvals/{other.json()['approval']['id']}/approve", headers=env.h(tsec))
    assert r.status_code == 409 and _err(r) == "last_administrator"
    assert c.post(f"/api/v1/admin/approvals/{other.json()['approval']['id']}/reject", headers=env.h(tsec),
                  json={"reason": "最后一名审计员"}).status_code == 200
    r = c.patch(f"/api/v1/admin/users/{builtin}", headers=env.h(ts1), json={"disabled": True})
    assert r.status_code == 409 and _err(r) == "last_administrator"  # refused when filed, too
    r = c.patch(f"/api/v1/admin/users/{builtin}", headers=env.h(ts1), json={"position": "审计"})
    assert r.status_code == 202  # other edits still go through approval
    assert not _user(env, builtin).disabled


def test_departure_is_final_until_an_approved_reinstatement(env: Env) -> None:
    """A departed person is shown as departed, cannot be re-enabled or departed again; a reinstatement with a
    reason, approved by secadmin, brings them back."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    emp, _t = env.person("wangwu", "王五")
    other, _t2 = env.person("zhaoliu", "赵六")
    assert c.post(f"/api/v1/admin/users/{emp}/depart", headers=env.h(ts1), json={"reason": "resignation"}).status_code == 200
    assert c.patch(f"/api/v1/admin/users/{other}", headers=env.h(ts1), json={"disabled": True}).status_code == 200
    rows = {u["username"]: u for u in c.get("/api/v1/admin/users", headers=env.h(ts1)).json()["users"]}
    assert rows["wangwu"]["departed"] and rows["wangwu"]["disabled"]
    assert rows["zhaoliu"]["disabled"] and not rows["zhaoliu"]["departed"]
    r = c.patch(f"/api/v1/admin/users/{emp}", headers=env.h(ts1), json={"disabled": False})
    assert r.status_code == 409 and _err(r) == "account_departed"
    r = c.post(f"/api/v1/admin/users/{emp}/depart", headers=env.h(ts1), json={"reason": "resignation"})
    assert r.status_code == 409 and _err(r) == "account_departed"
    assert c.post(f"/api/v1/admin/users/{emp}/reinstate", headers=env.h(ts1), json={"reason": ""}).status_code == 422
    r = c.post(f"/api/v1/admin/users/{emp}/reinstate", headers=env.h(ts1), json={"reason": "误办离职，予以更正"})
    assert r.status_code == 202 and _user(env, emp).disabled
    r = c.post(f"/api/v1/admin/approvals/{r.json()['approval']['id']}/approve", headers=env.h(tsec))
    assert r.status_code == 200
    u = _user(env, emp)
    assert not u.disabled and u.departed_at is None
    assert "account.reinstated" in _actions(env)


def test_unknown_unit_is_an_error_not_a_new_department(env: Env) -> None:
    """Creating a person in a unit that does not exist, or moving them to one, answers unit_not_found."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    before = len(c.get("/api/v1/admin/units", headers=env.h(ts1)).json()["units"])
    r = c.post("/api/v1/admin/users", headers=env.h(ts1), json={
        "username": "newbie", "name": "新人", "unit_path": "总行/不存在的部", "password": PASSWORD})
    assert r.status_code == 422 and _err(r) == "unit_not_found"
    assert len(c.get("/api/v1/admin/units", headers=env.h(ts1)).json()["units"]) == before
    r = c.post("/api/v1/admin/users", headers=env.h(ts1), json={
        "username": "newbie", "name": "新人", "unit_path": "总行/信息科技部", "password": PASSWORD})
    assert r.status_code == 201 and r.json()["roles"] == ["employee"]
    r = c.patch(f"/api/v1/admin/users/{r.json()['id']}", headers=env.h(ts1), json={"unit_id": 999999})
    assert r.status_code == 422 and _err(r) == "unit_not_found"


def test_administrators_are_not_in_the_directory_or_chat(env: Env) -> None:
    """Employees do not find administrators in the directory, cannot open their page or start a chat."""
    c = env.client
    s1, _ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    aud, _ta = staff(env, "aud1", "审计员甲", "auditor")
    comp, _tc = staff(env, "comp1", "合规员甲", "compliance")
    _e, te = env.person("zhangsan", "张三")
    listed = {u["id"] for u in c.get("/api/v1/directory/users", headers=env.h(te), params={"limit": 200}).json()["users"]}
    assert s1 not in listed and aud not in listed and comp in listed
    for q in ("系统员甲", "sys1", "审计员甲", "信息科技部"):
        found = {u["id"] for u in c.get("/api/v1/directory/users", headers=env.h(te), params={"q": q}).json()["users"]}
        assert s1 not in found and aud not in found, q
    assert c.get(f"/api/v1/directory/users/{aud}", headers=env.h(te)).status_code == 404
    for target in (s1, aud):
        r = c.post("/api/v1/conversations", headers=env.h(te), json={"kind": "direct", "members": [target]})
        assert r.status_code == 422 and _err(r) == "invalid_members"
        r = c.post("/api/v1/conversations", headers=env.h(te), json={"kind": "group", "name": "群", "members": [target]})
        assert r.status_code == 422


def test_sysadmin_who_reset_a_person_cannot_approve_their_compliance_grant(env: Env) -> None:
    """A sysadmin who reset an employee's password (and so may hold their login) is refused as the approver
    of that employee's compliance grant; another sysadmin may approve it."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _s2, ts2 = staff(env, "sys2", "系统员乙", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    emp, _t = env.person("lisi", "李四")
    assert c.post(f"/api/v1/admin/users/{emp}/reset-password", headers=env.h(ts1)).status_code == 200
    aid = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(tsec),
                json={"roles": ["employee", "compliance"]}).json()["approval"]["id"]
    r = c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(ts1))
    assert r.status_code == 403 and _err(r) == "approval_not_allowed"
    assert _user(env, emp).roles == ["employee"]
    assert c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(ts2)).status_code == 200
    assert "compliance" in _user(env, emp).roles


def test_the_auditor_sees_approvals_by_name(env: Env) -> None:
    """The auditor reads a request and its decision with names: the target, and the requester named in the
    details (detail_names), never only an id."""
    c = env.client
    s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    aud, taud = staff(env, "aud1", "审计员甲", "auditor")
    aid = c.patch(f"/api/v1/admin/users/{aud}", headers=env.h(ts1), json={"disabled": True}).json()["approval"]["id"]
    assert c.post(f"/api/v1/admin/approvals/{aid}/reject", headers=env.h(tsec),
                  json={"reason": "无正当理由"}).status_code == 200
    records = c.get("/api/v1/admin/audit", headers=env.h(taud), params={"action": "approval."}).json()["records"]
    by_action = {r["action"]: r for r in records}
    assert {"approval.requested", "approval.rejected"} <= set(by_action)
    rejected = by_action["approval.rejected"]
    assert rejected["target_name"] == "审计员甲（aud1）"
    assert rejected["details"]["requested_by"] == s1
    assert rejected["detail_names"] == {"requested_by": "系统员甲（sys1）"}
    assert by_action["approval.requested"]["actor_name"] == "系统员甲"


def test_a_compliance_grant_leaves_nothing_to_a_past_resetter(env: Env) -> None:
    """A sysadmin resets an employee's password, signs in as them and enrols an authenticator of their own.
    Another sysadmin then approves secadmin's compliance grant: the grant reissues the credentials (a new
    one-time password to the approver, two-factor cleared, sessions ended), so what the resetter holds
    opens nothing and the archive stays out of their reach."""
    import pyotp

    from tests.conftest import PASSWORD as NEW

    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    s2, ts2 = staff(env, "sys2", "系统员乙", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    emp, _t = env.person("lisi", "李四")
    one_time = c.post(f"/api/v1/admin/users/{emp}/reset-password", headers=env.h(ts1)).json()["password"]
    tok = env.login("lisi", one_time)
    assert c.post("/api/v1/auth/password", headers=env.h(tok),
                  json={"old_password": one_time, "new_password": NEW + "x"}).status_code == 204
    tok = env.login("lisi", NEW + "x")
    secret = c.post("/api/v1/auth/totp/enroll", headers=env.h(tok)).json()["secret"]
    assert c.post("/api/v1/auth/totp/verify", headers=env.h(tok), json={"otp": pyotp.TOTP(secret).now()}).status_code == 200
    aid = c.put(f"/api/v1/admin/users/{emp}/roles", headers=env.h(tsec),
                json={"roles": ["employee", "compliance"]}).json()["approval"]["id"]
    r = c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(ts2))
    assert r.status_code == 200, r.text
    issued = r.json()["result"]["password"]
    assert "compliance" in _user(env, emp).roles and not _user(env, emp).totp_enabled
    # The resetter's session is gone, their password and authenticator open nothing.
    assert c.get("/api/v1/me", headers=env.h(tok)).status_code == 401
    r = c.post("/api/v1/auth/login", json={"username": "lisi", "password": NEW + "x",
                                           "otp": pyotp.TOTP(secret).now()})
    assert r.status_code == 401
    # The person, handed the new password by the approver, starts afresh (password change, then two-factor).
    r = c.post("/api/v1/auth/login", json={"username": "lisi", "password": issued})
    assert r.status_code == 200 and r.json()["must_change_password"]
    listed = c.get("/api/v1/admin/approvals", headers=env.h(tsec), params={"status": "all"}).text
    assert issued not in listed
    with env.rt.db.read() as s:
        rec = s.execute(select(AuditLog).where(AuditLog.action == "account.roles_changed")
                        .order_by(AuditLog.id.desc())).scalars().first()
        assert rec is not None and rec.details["credentials_reissued"] is True and rec.actor_id == s2
        assert not any(issued in str(d) for d in s.execute(select(AuditLog.details)).scalars())


def test_no_approved_reset_opens_an_account_without_two_factor(env: Env) -> None:
    """A compliance officer who has not enrolled two-factor yet: a reset password alone would open the
    account, so the console refuses to file it (and to carry out one filed earlier); the CLI still can."""
    from mixun.db.models import User as U

    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    comp, _tc = staff(env, "comp1", "合规员甲", "compliance")
    aid = c.post(f"/api/v1/admin/users/{comp}/reset-password", headers=env.h(ts1)).json()["approval"]["id"]
    with env.rt.db.write() as s:
        s.get(U, comp).totp_enabled = False  # type: ignore[union-attr]
    r = c.post(f"/api/v1/admin/approvals/{aid}/approve", headers=env.h(tsec))
    assert r.status_code == 409 and _err(r) == "reset_needs_two_factor" and "result" not in r.json()
    assert c.post(f"/api/v1/admin/approvals/{aid}/reject", headers=env.h(tsec),
                  json={"reason": "本人到场办理"}).status_code == 200
    r = c.post(f"/api/v1/admin/users/{comp}/reset-password", headers=env.h(ts1))
    assert r.status_code == 409 and _err(r) == "reset_needs_two_factor"


def test_the_auditor_or_a_compliance_officer_alone_cannot_reach_beyond_their_role(env: Env) -> None:
    """The other two of the four: the auditor reads the trail but no content (not even through the trail's
    own records of messages, DLP hits, searches and exports) and acts on nobody; a compliance officer reads
    the archive but not the audit trail, acts on nobody, cannot shorten how long the trail is kept, and
    under dual control can neither export a person's or unit's history, see an original, nor approve their
    own request."""
    from tests.helpers import group, send

    c = env.client
    _aud, taud = staff(env, "aud1", "审计员甲", "auditor")
    s1, _ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员甲", "secadmin")
    comp, tcomp = staff(env, "comp1", "合规员甲", "compliance")
    _comp2, _tcomp2 = staff(env, "comp2", "合规员乙", "compliance")
    zs, tz = env.person("zhangsan", "张三")
    ls, tl = env.person("lisi", "李四")
    secret_phrase, id_number = "暗号蓝鲸七七八八", "11010519491231002X"
    conv = group(env, tz, "项目组", [ls])
    sent = send(env, tz, conv, f"{secret_phrase}，身份证 {id_number}")
    assert sent.status_code == 201 and id_number not in sent.json()["text"]
    mid = sent.json()["id"]
    assert c.patch(f"/api/v1/messages/{mid}", headers=env.h(tz), json={"text": f"{secret_phrase}（改）"}).status_code == 200
    assert c.post("/api/v1/reports", headers=env.h(tl), json={"message_id": mid, "reason": "含身份证号"}).status_code in (200, 201)
    why = {"category": "internal_investigation", "reason": "内部调查：核对往来记录是否合规"}
    assert c.get("/api/v1/compliance/archive/search", headers=env.h(tcomp),
                 params={"q": secret_phrase, **why}).status_code == 200
    assert c.post("/api/v1/compliance/exports", headers=env.h(tcomp),
                  json={**why, "conversation_id": conv, "formats": ["jsonl"]}).status_code == 201

    # The auditor: every route beyond reading the trail refuses; the trail itself holds no content.
    mine = permissions_for(["auditor"])
    beyond = [(m, p) for m, p, perm in route_permissions(env.app)
              if perm is not None and perm not in mine
              and perm not in (Perm.PUBLIC, Perm.SESSION, Perm.TOTP_SETUP, Perm.RULES)  # every session's own
              and m != "WS"]
    assert any("/compliance/archive" in p for _, p in beyond) and any("/admin/users" in p for _, p in beyond)
    for method, path in beyond:
        r = _call(env, method, path, env.h(taud))
        if path.startswith("/scim/"):  # HR's system only, with its own token: a session is not one
            assert r.status_code == 401, (method, path, r.status_code)
            continue
        assert r.status_code == 403 and _err(r) == "forbidden", (method, path, r.status_code)
    trail = c.get("/api/v1/audit/export", headers=env.h(taud))
    assert trail.status_code == 200 and "dlp.hit" in trail.text and "archive.searched" in trail.text
    for content in (secret_phrase, id_number, id_number[-6:], "含身份证号"):
        assert content not in trail.text, content
    listed = c.get("/api/v1/admin/audit", headers=env.h(taud), params={"limit": 200}).text
    assert secret_phrase not in listed and id_number not in listed

    # A compliance officer: no audit trail, no administration, nobody silenced.
    for method, path, perm in route_permissions(env.app):
        if perm in (Perm.AUDIT_READ, Perm.ADMIN_USERS, Perm.ADMIN_ROLES, Perm.APPROVALS, Perm.ADMIN_SESSIONS,
                    Perm.DLP_MANAGE, Perm.SECURITY_ALERTS, Perm.ADMIN_USERS_READ) and method != "WS":
            r = _call(env, method, path, env.h(tcomp))
            assert r.status_code == 403 and _err(r) == "forbidden", (method, path, r.status_code)
    # The trail is kept at least its minimum, and shortening any policy waits for a second officer.
    r = c.put("/api/v1/compliance/retention/policies", headers=env.h(tcomp),
              json={**why, "scope": "audit", "messages_days": 1, "files_days": 1})
    assert r.status_code == 422, r.text
    # Dual control on every kind: each heavy access is only filed, and its maker cannot approve it.
    assert c.put("/api/v1/security/dual-control", headers=env.h(tsec),
                 json={"export_person": True, "export_unit": True, "originals": True}).status_code == 200
    filed = []
    for body in ({"user": "zhangsan"}, {"unit": "总行"}, {"conversation_id": conv}, {},
                 {"conversation_id": conv, "include_originals": True}):
        r = c.post("/api/v1/compliance/exports", headers=env.h(tcomp), json={**why, **body, "formats": ["jsonl"]})
        assert r.status_code == 202, (body, r.text)
        filed.append(r.json()["request"]["id"])
    with env.rt.db.read() as s:
        vid = s.execute(select(MessageVersion.id).where(MessageVersion.message_id == mid)
                        .order_by(MessageVersion.id)).scalars().first()
    r = c.post(f"/api/v1/compliance/archive/versions/{vid}/original", headers=env.h(tcomp), json=why)
    assert r.status_code == 202 and id_number not in r.text
    filed.append(r.json()["request"]["id"])
    r = c.get(f"/api/v1/compliance/archive/conversations/{conv}", headers=env.h(tcomp), params={"originals": True, **why})
    assert r.status_code == 403 and id_number not in r.text
    for rid in filed:
        r = c.post(f"/api/v1/compliance/access-requests/{rid}/approve", headers=env.h(tcomp), json={})
        assert r.status_code == 403 and _err(r) == "own_request"
        assert c.post(f"/api/v1/compliance/access-requests/{rid}/run", headers=env.h(tcomp)).status_code == 409
    assert c.get("/api/v1/compliance/exports", headers=env.h(tcomp)).json()["exports"][1:] == []
    # Nothing was done to anyone: every account as it was.
    for uid in (s1, comp, zs):
        assert not _user(env, uid).disabled
