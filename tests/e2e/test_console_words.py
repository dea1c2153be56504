"""Consoles speak in words (issue 19 items 9-11): after the administrators have filed, refused, approved
and rejected requests, changed, disabled, enabled, departed and reinstated accounts, the auditor's trail
shows every action, role, kind and detail as Chinese words with names, never a raw code such as
`approval.requested`, `reset_two_factor`, `secadmin` or `new_client`."""

from __future__ import annotations

import re

import pyotp
import pytest
from e2e_support import PASSWORD, READY_PASSWORD
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

# A code left untranslated: dotted or underscored lowercase words, or one of the bare codes the server
# writes (roles, approval kinds, login-alert reasons).
RAW = re.compile(r"\b[a-z]+(?:[._][a-z0-9]+)+\b|\b(?:employee|compliance|sysadmin|secadmin|auditor|unit_head|update|"
                 r"roles|depart|reinstate|success|failure|cli|true|false)\b")


def _ready(s, username: str, name: str, role: str) -> str:
    """An account made on the server with ``role``, its password changed and two-factor enrolled by API."""
    s.cli("user", "add", "--username", username, "--name", name, "--unit", "总行/信息技术部", "--password", PASSWORD,
          "--role", role)
    token = s.login(username, PASSWORD)
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD}).status_code == 204
    token = s.login(username, READY_PASSWORD)
    with s.client(token) as c:
        secret = c.post("/auth/totp/enroll").json()["secret"]
        assert c.post("/auth/totp/verify", json={"otp": pyotp.TOTP(secret).now()}).status_code == 200
    return token


def test_the_audit_trail_shows_words_and_names_not_codes(own_server, make_page):
    s = own_server
    ts = _ready(s, "xitong", "系统员乙", "sysadmin")
    tsec = _ready(s, "anquan", "安全员乙", "secadmin")
    emp = s.add_user("张三", username="zhangsan")
    left = s.add_user("王五", username="wangwu")
    with s.client(ts) as sys_c, s.client(tsec) as sec_c:
        uid = emp["id"]
        # More than one page of records whatever else the server audits at start (47 without these):
        # the page below must be full.
        for position in ("柜员", "大堂经理", "综合柜员", "理财经理", "柜员"):
            assert sys_c.patch(f"/admin/users/{uid}", json={"position": position}).status_code == 200
        assert sys_c.patch(f"/admin/users/{uid}", json={"disabled": True}).status_code == 200
        assert sys_c.patch(f"/admin/users/{uid}", json={"disabled": False}).status_code == 200
        assert sec_c.put(f"/admin/users/{uid}/roles", json={"roles": ["employee", "unit_head"]}).status_code == 200
        grant = sec_c.put(f"/admin/users/{uid}/roles", json={"roles": ["employee", "compliance"]}).json()["approval"]["id"]
        assert sec_c.post(f"/admin/approvals/{grant}/approve").status_code == 403  # decision_refused
        assert sys_c.post(f"/admin/approvals/{grant}/approve").status_code == 200
        other = next(u for u in sys_c.get("/admin/users", params={"limit": 200}).json()["users"]
                     if u["username"] == "secadmin")
        req = sys_c.patch(f"/admin/users/{other['id']}", json={"disabled": True}).json()["approval"]["id"]
        assert sec_c.post(f"/admin/approvals/{req}/reject", json={"reason": "无正当理由"}).status_code == 200
        # (a reset makes this sysadmin unfit to approve that person's compliance grant: another person)
        assert sys_c.post(f"/admin/users/{left['id']}/reset-two-factor").status_code == 200
        assert sys_c.post(f"/admin/users/{left['id']}/depart", json={"reason": "resignation"}).status_code == 200
        back = sys_c.post(f"/admin/users/{left['id']}/reinstate", json={"reason": "误办离职，予以更正"}).json()
        assert "approval" in back, back
        assert sec_c.post(f"/admin/approvals/{back['approval']['id']}/approve").status_code == 200
    # A login from another machine is flagged (new_client).
    with s.client() as c:
        c.headers["User-Agent"] = "another-machine"
        assert c.post("/auth/login", json={"username": "wangwu", "password": READY_PASSWORD}).status_code == 200

    aud = make_page(s.base)
    first_login_admin(aud, "auditor", s.admins["auditor"])
    aud.get_by_test_id("admin-tab-audit").click()
    rows = aud.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    expect(rows).to_have_count(50)  # one full page, newest first
    texts = rows.all_inner_texts()
    shown = {r.get_attribute("data-action") for r in rows.all()}
    for code in ("approval.requested", "approval.approved", "approval.rejected", "approval.decision_refused",
                 "account.reinstated", "account.two_factor_reset", "account.enabled", "account.disabled",
                 "account.updated", "account.roles_changed", "auth.login_flagged"):
        assert code in shown, (code, sorted(shown))
    for text in texts:
        plain = re.sub(r"（[^）]*）", "", text)  # usernames in brackets are names, not codes
        assert not RAW.search(plain), text
    rejected = rows.filter(has_text="驳回审批申请").first
    expect(rejected.get_by_test_id("audit-target")).to_contain_text("（secadmin）")
    expect(rejected.get_by_test_id("audit-details")).to_contain_text("申请人：系统员乙（xitong）")
    expect(rows.filter(has_text="批准审批申请").filter(has_text="变更角色")).to_have_count(1)
    expect(rows.filter(has_text="异常登录提醒").filter(has_text="王五").first).to_contain_text("新设备登录")
    assert aud.errors == [], aud.errors


def test_approving_a_compliance_grant_hands_new_credentials_to_the_approver(own_server, make_page):
    """secadmin files a compliance grant; the sysadmin approves it in the console and is shown a new
    one-time password with the note that the old password and two-factor no longer work; the person's old
    session has ended and the new password starts a fresh first login."""
    s = own_server
    tsec = _ready(s, "anquan", "安全员乙", "secadmin")
    emp = s.add_user("何新规", username="hexingui")
    with s.client(tsec) as c:
        r = c.put(f"/admin/users/{emp['id']}/roles", json={"roles": ["employee", "compliance"]})
        assert r.status_code == 202, r.text
    page = make_page(s.base)
    first_login_admin(page, "sysadmin", s.admins["sysadmin"])
    page.get_by_test_id("admin-tab-approvals").click()
    row = page.locator("[data-testid=approval-row][data-kind=roles]")
    expect(row).to_contain_text("何新规")
    expect(row).to_contain_text("变更角色")
    row.get_by_test_id("approval-approve").click()
    page.get_by_test_id("dialog-ok").click()
    expect(page.get_by_test_id("approval-password-note")).to_contain_text("原密码和双因素认证已作废")
    expect(page.get_by_test_id("dialog")).to_contain_text("变更角色")
    password = page.get_by_test_id("one-time-password-value").inner_text().strip()
    assert len(password) >= 12
    page.get_by_test_id("dialog-ok").click()
    with s.client(emp["token"]) as c:
        assert c.get("/me").status_code == 401  # the old session is gone
    with s.client() as c:
        assert c.post("/auth/login", json={"username": "hexingui", "password": READY_PASSWORD}).status_code == 401
        r = c.post("/auth/login", json={"username": "hexingui", "password": password})
        assert r.status_code == 200 and r.json()["must_change_password"], r.text
    assert page.errors == [], page.errors
