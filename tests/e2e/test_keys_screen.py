"""The key management status in the console (issue 20), at 1440×900 and 390×844: the security
administrator opens 密钥管理 and sees the cipher, the KEK versions (current, then retired after a
`mixun keys rotate` on the server) with what each protects, this month's period keys and where they are
kept, the last rotation from the audit trail and the commands that act; the auditor sees the same screen
read-only; the system administrator has no such tab."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = os.environ.get("MIXUN_E2E_SCREENSHOTS")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_secadmin_and_auditor_see_the_key_status(own_server, browser, viewport):
    s = own_server
    emp, other = s.add_user("张三"), s.add_user("李四")
    with s.client(emp["token"]) as c:  # a message: a conversation data key under this month's period key
        conv = c.post("/conversations", json={"kind": "group", "name": "授信讨论", "members": [other["id"]]}).json()["id"]
        assert c.post(f"/conversations/{conv}/messages", json={"text": "本月的会话"}).status_code == 201
    contexts = []

    def page_for():
        ctx = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"native dialog: {d.message}")))
        page.set_default_timeout(15000)
        page.goto(s.base + "/")
        return page

    try:
        s.cli("keys", "rotate", "--quiet")

        sec = page_for()
        first_login_admin(sec, "secadmin", s.admins["secadmin"])
        sec.get_by_test_id("admin-tab-keys").click()
        screen = sec.get_by_test_id("admin-keys")
        expect(screen.get_by_role("heading", name="密钥管理状态")).to_be_visible()
        expect(screen.get_by_test_id("keys-cipher")).not_to_be_empty()
        expect(screen.get_by_test_id("keys-period-where")).to_contain_text("本机文件")
        expect(screen.locator('[data-testid="keys-version-row"][data-version="2"]')).to_contain_text("当前")
        expect(screen.locator('[data-testid="keys-version-row"][data-version="1"]')).to_contain_text("已退役")
        expect(screen.get_by_test_id("keys-last-rotated")).to_contain_text("新版本 v2（上一版本 v1）")
        expect(screen.get_by_test_id("keys-last-destroyed")).to_contain_text("尚无记录")
        expect(screen.get_by_test_id("keys-commands")).to_contain_text("mixun keys rotate")
        expect(screen.get_by_test_id("keys-period-row").filter(has_text="在用").first).to_be_visible()
        width = sec.evaluate("() => document.documentElement.clientWidth")
        assert sec.evaluate("() => document.documentElement.scrollWidth") <= width + 1
        if viewport == "phone":  # the tables are cards: no header row, each row a block
            assert screen.get_by_test_id("keys-versions").locator("thead").is_hidden()
        if SHOTS:
            expect(sec.get_by_test_id("toast")).to_have_count(0)  # the password change's toast has gone
            name = "admin-keys.png" if viewport == "desktop" else "admin-keys-phone.png"
            if viewport == "phone":  # the period keys as cards
                screen.get_by_test_id("keys-periods").scroll_into_view_if_needed()
            sec.screenshot(path=str(Path(SHOTS) / name), full_page=False)

        aud = page_for()
        first_login_admin(aud, "auditor", s.admins["auditor"])
        aud.get_by_test_id("admin-tab-keys").click()
        expect(aud.locator('[data-testid="keys-version-row"][data-version="2"]')).to_contain_text("当前")
        expect(aud.get_by_test_id("admin-keys").locator("button")).to_have_count(0)  # nothing to press
        aud.get_by_test_id("lang-switch").click()  # English is there too
        aud.get_by_test_id("admin-tab-keys").click()
        expect(aud.get_by_test_id("admin-keys").get_by_role("heading", name="Key management status")).to_be_visible()
        expect(aud.locator('[data-testid="keys-version-row"][data-version="1"]')).to_contain_text("Retired")
        expect(aud.get_by_test_id("keys-commands")).to_contain_text("mixun keys rotate")

        sysp = page_for()
        first_login_admin(sysp, "sysadmin", s.admins["sysadmin"])
        expect(sysp.get_by_test_id("admin-tab-users")).to_be_visible()
        expect(sysp.get_by_test_id("admin-tab-keys")).to_have_count(0)
        assert not sec.errors and not aud.errors and not sysp.errors, (sec.errors, aud.errors, sysp.errors)
    finally:
        for c in contexts:
            c.close()
