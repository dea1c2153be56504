"""The lock screen is the server's (issue 18 item 1, 24 item 10): it stays through a reload and in a new
tab, and the shared demo password is changed at first login (18 item 13). Real Chromium."""

from __future__ import annotations

import pytest
from e2e_support import READY_PASSWORD, login, login_ready
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_lock_survives_reload_and_new_tab(server, browser, size):
    """Locked with lock-now: F5 and a new tab show the lock screen, never the chat list; the API answers
    423; the password unlocks every tab."""
    user = server.add_user("钱锁定")
    ctx = browser.new_context(locale="zh-CN", viewport={"width": size[0], "height": size[1]})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(15000)
        page.goto(server.base + "/")
        login_ready(page, user)
        page.get_by_test_id("lock-now").click()
        expect(page.get_by_test_id("lock-screen")).to_be_visible()
        expect(page.get_by_test_id("conversation-list")).to_have_count(0)
        # The lock screen shows at once; the server's lock follows with the POST a moment later.
        status = 0
        for _ in range(50):
            status = page.evaluate("() => fetch('/api/v1/conversations', {cache: 'no-store'}).then((r) => r.status)")
            if status == 423:
                break
            page.wait_for_timeout(100)
        assert status == 423

        page.reload()
        expect(page.get_by_test_id("lock-screen")).to_be_visible()
        expect(page.get_by_test_id("app-shell")).to_have_count(0)
        expect(page.get_by_test_id("conversation-list")).to_have_count(0)

        second = ctx.new_page()
        second.set_default_timeout(15000)
        second.goto(server.base + "/")
        expect(second.get_by_test_id("lock-screen")).to_be_visible()
        expect(second.get_by_test_id("conversation-list")).to_have_count(0)

        second.get_by_test_id("lock-password").fill("Wrong#Guess2026")
        second.get_by_test_id("lock-submit").click()
        expect(second.get_by_test_id("unlock-error")).to_be_visible()
        expect(second.get_by_test_id("lock-screen")).to_be_visible()
        second.get_by_test_id("lock-password").fill(user["password"])
        second.get_by_test_id("lock-submit").click()
        expect(second.get_by_test_id("app-shell")).to_be_visible()
        expect(second.get_by_test_id("lock-screen")).to_have_count(0)
        # The first tab follows without its own password.
        expect(page.get_by_test_id("app-shell")).to_be_visible()
        expect(page.get_by_test_id("lock-screen")).to_have_count(0)
        assert errors == []
    finally:
        ctx.close()


def test_lock_in_one_tab_locks_the_other(server, browser):
    """Locking in one tab locks the session's other tab at once (its socket is closed by the server)."""
    user = server.add_user("孙两页")
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    try:
        first = ctx.new_page()
        first.set_default_timeout(15000)
        first.goto(server.base + "/")
        login_ready(first, user)
        second = ctx.new_page()
        second.set_default_timeout(15000)
        second.goto(server.base + "/")
        expect(second.get_by_test_id("app-shell")).to_be_visible()
        first.get_by_test_id("lock-now").click()
        expect(second.get_by_test_id("lock-screen")).to_be_visible()
        expect(second.get_by_test_id("conversation-list")).to_have_count(0)
    finally:
        ctx.close()


def test_demo_staff_must_replace_the_shared_password(own_server, make_page):
    """A demo person logging in with the README's shared password is asked for their own first; the
    shared one is refused as the new one."""
    own_server.cli("demo")
    page = make_page(own_server.base)
    login(page, "lisi", "Mixun@2026")
    expect(page.get_by_test_id("password-form")).to_be_visible()
    expect(page.get_by_test_id("app-shell")).to_have_count(0)
    page.get_by_test_id("password-old").fill("Mixun@2026")
    page.get_by_test_id("password-new").fill("Mixun@2026")
    if page.get_by_test_id("password-confirm").count():
        page.get_by_test_id("password-confirm").fill("Mixun@2026")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_be_visible()
    expect(page.get_by_test_id("app-shell")).to_have_count(0)
    page.get_by_test_id("password-old").fill("Mixun@2026")
    page.get_by_test_id("password-new").fill(READY_PASSWORD)
    if page.get_by_test_id("password-confirm").count():
        page.get_by_test_id("password-confirm").fill(READY_PASSWORD)
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("app-shell")).to_be_visible()
    expect(page.get_by_test_id("conversation-item").first).to_be_visible()


def test_login_from_another_machine_is_noticed(server, make_page):
    """While the person is signed in, a login to their account from another client shows them a notice
    at once, in words (19.17)."""
    import httpx

    user = server.add_user("周提醒")
    page = make_page(server.base)
    login_ready(page, user)
    expect(page.get_by_test_id("connection-status")).to_have_count(0)  # the socket is up
    r = httpx.post(server.base + "/api/v1/auth/login", headers={"user-agent": "another-machine/1.0"},
                   json={"username": user["username"], "password": user["password"]})
    assert r.status_code == 200
    expect(page.get_by_test_id("toast")).to_contain_text("另一台设备")
