"""The administrators' console: first login (password change, then two-factor), and role separation."""

from __future__ import annotations

import pyotp
import pytest
from e2e_support import login
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "Admin#Strong2026"


def first_login_admin(page, username: str, one_time: str) -> None:
    login(page, username, one_time)
    page.get_by_test_id("password-old").fill(one_time)
    page.get_by_test_id("password-new").fill(NEW_PASSWORD)
    page.get_by_test_id("password-submit").click()
    # Two-factor enrolment comes before anything else.
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    expect(page.get_by_test_id("totp-qr")).to_be_visible()
    assert page.get_by_test_id("totp-qr").get_attribute("src").startswith("data:image/svg+xml")
    page.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("totp-submit").click()
    expect(page.get_by_test_id("totp-recovery-codes").locator("li")).to_have_count(10)
    page.recovery_codes = page.get_by_test_id("totp-recovery-codes").locator("li").all_inner_texts()  # type: ignore[attr-defined]
    page.get_by_test_id("totp-done").click()
    expect(page.get_by_test_id("admin-console")).to_be_visible()
    page.secret = secret  # type: ignore[attr-defined]


def test_admin_console_role_separation(own_server, make_page):
    s = own_server
    assert {"sysadmin", "auditor"} <= set(s.admins), s.admins

    sys_page = make_page(s.base)
    first_login_admin(sys_page, "sysadmin", s.admins["sysadmin"])
    expect(sys_page.get_by_test_id("admin-tab-users")).to_be_visible()
    expect(sys_page.get_by_test_id("admin-tab-audit")).to_have_count(0)
    expect(sys_page.get_by_test_id("admin-users")).to_be_visible()
    # The sysadmin creates the unit first (a person's unit must exist), then the person.
    sys_page.get_by_test_id("admin-tab-units").click()
    sys_page.get_by_test_id("unit-name").fill("运营管理部")
    sys_page.get_by_test_id("unit-create").click()
    expect(sys_page.get_by_test_id("admin-unit-row").filter(has_text="运营管理部")).to_have_count(1)
    sys_page.get_by_test_id("admin-tab-users").click()
    sys_page.get_by_test_id("admin-user-create").click()
    sys_page.get_by_test_id("new-user-username").fill("liuxin")
    sys_page.get_by_test_id("new-user-name").fill("刘欣")
    sys_page.get_by_test_id("new-user-unit_path").fill("运营管理部")
    sys_page.get_by_test_id("new-user-password").fill("Temp#Pass2026")
    sys_page.get_by_test_id("new-user-submit").click()
    expect(sys_page.get_by_test_id("dialog")).not_to_contain_text("重置密码")
    expect(sys_page.get_by_test_id("dialog")).to_contain_text("人员已创建")
    sys_page.get_by_test_id("one-time-password").get_by_role("button").last.click()
    expect(sys_page.locator("[data-testid=admin-user-row][data-username=liuxin]")).to_have_count(1)

    aud_page = make_page(s.base)
    first_login_admin(aud_page, "auditor", s.admins["auditor"])
    expect(aud_page.get_by_test_id("admin-tab-audit")).to_be_visible()
    for tab in ("users", "units", "sessions", "alerts"):
        expect(aud_page.get_by_test_id(f"admin-tab-{tab}")).to_have_count(0)
    expect(aud_page.get_by_test_id("audit-row").first).to_be_visible()

    # A second login of the sysadmin asks for the one-time code (the enrolment's code cannot be replayed,
    # so a recovery code is used here).
    again = make_page(s.base)
    login(again, "sysadmin", NEW_PASSWORD)
    again.get_by_test_id("login-otp").fill(sys_page.recovery_codes[0].strip())
    again.get_by_test_id("login-submit").click()
    expect(again.get_by_test_id("admin-tab-users")).to_be_visible()
