"""审批 in the console (issue 19): the sysadmin files a request on a compliance officer's account, the
secadmin approves it in a browser of their own; destructive acts ask first; a departure shows as 离职."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_sysadmin_files_and_secadmin_approves(own_server, browser, viewport):
    """A password reset of a compliance officer waits for the secadmin; the password is shown to the
    approver only; departing an employee is confirmed and then shows 离职 with no second 办理离职."""
    s = own_server
    s.cli("user", "add", "--username", "hegui", "--name", "何规", "--unit", "总行/合规部",
          "--password", "Init#Pass2026", "--role", "compliance")
    # The officer has signed in and enrolled two-factor (an account without it cannot be reset from the console).
    token = s.login("hegui", "Init#Pass2026")
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": "Init#Pass2026", "new_password": "Ready#Pass2026"}).status_code == 204
    token = s.login("hegui", "Ready#Pass2026")
    with s.client(token) as c:
        secret = c.post("/auth/totp/enroll").json()["secret"]
        assert c.post("/auth/totp/verify", json={"otp": pyotp.TOTP(secret).now()}).status_code == 200
    s.cli("user", "add", "--username", "zhaomin", "--name", "赵敏", "--unit", "总行/合规部",
          "--password", "Init#Pass2026")
    contexts = []

    def page_for(username: str):
        ctx = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"native dialog: {d.message}")))
        page.set_default_timeout(15000)
        page.goto(s.base + "/")
        first_login_admin(page, username, s.admins[username])
        return page

    try:
        sys_page = page_for("sysadmin")
        sys_page.get_by_test_id("admin-tab-users").click()
        row = sys_page.locator("[data-testid=admin-user-row][data-username=hegui]")
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("admin-user-roles")).to_have_count(0)  # granting is secadmin's
        # Cancelling the confirmation does nothing.
        row.get_by_test_id("admin-user-toggle").click()
        expect(sys_page.get_by_test_id("dialog")).to_be_visible()
        sys_page.get_by_test_id("dialog-cancel").click()
        expect(sys_page.get_by_test_id("dialog")).to_have_count(0)
        # The reset is filed, not done: no password reaches the sysadmin.
        row.get_by_test_id("admin-user-reset").click()
        expect(sys_page.get_by_test_id("dialog")).to_contain_text("何规")
        sys_page.get_by_test_id("dialog-ok").click()
        expect(sys_page.get_by_test_id("toast")).to_contain_text("已提交审批")
        expect(sys_page.get_by_test_id("one-time-password-value")).to_have_count(0)
        expect(row.get_by_test_id("user-pending")).to_have_text("待审批")
        sys_page.get_by_test_id("admin-tab-approvals").click()
        pending = sys_page.locator("[data-testid=approval-row][data-kind=reset_password]")
        expect(pending).to_contain_text("待安全管理员审批")
        expect(pending.get_by_test_id("approval-approve")).to_have_count(0)

        sec_page = page_for("secadmin")
        sec_page.get_by_test_id("admin-tab-approvals").click()
        req = sec_page.locator("[data-testid=approval-row][data-kind=reset_password]")
        expect(req).to_contain_text("重置密码")
        expect(req).to_contain_text("何规")
        expect(req).to_contain_text("系统管理员")
        req.get_by_test_id("approval-approve").click()
        sec_page.get_by_test_id("dialog-ok").click()
        value = sec_page.get_by_test_id("one-time-password-value")
        expect(value).to_be_visible()
        password = value.inner_text().strip()
        assert len(password) >= 12
        sec_page.get_by_test_id("dialog-ok").click()
        sec_page.get_by_test_id("approvals-decided").click()
        expect(sec_page.locator("[data-testid=approval-row][data-status=approved]")).to_contain_text("已批准")
        with s.client() as c:
            r = c.post("/auth/login", json={"username": "hegui", "password": password})
            assert r.status_code == 401 and r.json()["error"]["code"] == "otp_required", r.text  # the password alone opens nothing
            r = c.post("/auth/login", json={"username": "hegui", "password": password, "otp": pyotp.TOTP(secret).at(time.time() + 30)})
            assert r.status_code == 200 and r.json()["must_change_password"], r.text
        # secadmin grants roles; the sysadmin's screen offers none.
        sec_page.get_by_test_id("admin-tab-users").click()
        expect(sec_page.locator("[data-testid=admin-user-row][data-username=zhaomin]")
               .get_by_test_id("admin-user-roles")).to_have_count(1)
        expect(sec_page.get_by_test_id("admin-user-create")).to_have_count(0)

        # Departure: confirmed in a dialog, then shown as 离职 apart from 已停用, never offered again.
        sys_page.get_by_test_id("admin-tab-users").click()
        emp = sys_page.locator("[data-testid=admin-user-row][data-username=zhaomin]")
        emp.get_by_test_id("admin-user-depart").click()
        expect(sys_page.get_by_test_id("dialog")).to_contain_text("赵敏")
        sys_page.get_by_test_id("dialog-ok").click()
        expect(emp.get_by_test_id("user-state")).to_have_text("离职")
        expect(emp.get_by_test_id("admin-user-depart")).to_have_count(0)
        expect(emp.get_by_test_id("admin-user-toggle")).to_have_count(0)
        expect(emp.get_by_test_id("admin-user-reinstate")).to_be_visible()
        # The sysadmin's own row offers nothing that would lock them out.
        me = sys_page.locator("[data-testid=admin-user-row][data-username=sysadmin]")
        expect(me.get_by_test_id("admin-user-toggle")).to_have_count(0)
        assert sys_page.errors == [] and sec_page.errors == []  # type: ignore[attr-defined]
    finally:
        for ctx in contexts:
            ctx.close()
