"""Employees chatting live in two browser contexts; first-login password change."""

from __future__ import annotations

import re

import pytest
from e2e_support import READY_PASSWORD, login, login_ready, open_direct
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_two_employees_chat_live(server, make_page):
    alice = server.add_user("王小丽", phone="13800000001")
    bob = server.add_user("李大伟", phone="13800000002")
    pa = make_page(server.base)
    pb = make_page(server.base)
    login_ready(pa, alice)
    login_ready(pb, bob)

    open_direct(pa, "李大伟")
    expect(pa.get_by_test_id("chat-title")).to_have_text("李大伟")
    pa.get_by_test_id("composer").fill("你好，大伟！下午三点开会。")
    pa.get_by_test_id("composer").press("Enter")
    expect(pa.get_by_test_id("message").filter(has_text="下午三点开会")).to_have_count(1)
    expect(pa.get_by_test_id("composer")).to_have_value("")

    # Bob sees the new conversation arrive live, with an unread count, and opens it.
    item = pb.get_by_test_id("conversation-item").filter(has_text="王小丽")
    expect(item).to_have_count(1)
    expect(item.get_by_test_id("unread-count")).to_have_text("1")
    item.click()
    expect(pb.get_by_test_id("message").filter(has_text="你好，大伟！下午三点开会。")).to_have_count(1)

    # Shift+Enter makes a new line, Enter sends; Alice receives it live without reloading.
    box = pb.get_by_test_id("composer")
    box.fill("收到")
    box.press("Shift+Enter")
    box.type("准时参加")
    expect(box).to_have_value("收到\n准时参加")
    box.press("Enter")
    msg = pa.get_by_test_id("message").filter(has_text="准时参加")
    expect(msg).to_have_count(1)
    assert msg.inner_text() == "收到\n准时参加"
    # Alice's message is shown as read once Bob has opened the conversation.
    expect(pa.get_by_test_id("read-state").first).to_have_text(re.compile("已读"))
    assert pa.dialogs == [] and pb.dialogs == []
    assert pa.errors == [] and pb.errors == []


def test_login_with_forced_password_change(server, make_page):
    carol = server.add_user("赵晓燕", ready=False)
    page = make_page(server.base)
    login(page, carol["username"], carol["password"])
    page.get_by_test_id("password-old").fill(carol["password"])
    page.get_by_test_id("password-new").fill("short")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_be_visible()
    expect(page.get_by_test_id("app-shell")).to_have_count(0)

    page.get_by_test_id("password-old").fill(carol["password"])
    page.get_by_test_id("password-new").fill(READY_PASSWORD)
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("app-shell")).to_be_visible()
    expect(page.get_by_test_id("directory-search")).to_be_visible()

    # The old password no longer works, the new one does.
    with server.client() as c:
        assert (
            c.post(
                "/auth/login", json={"username": carol["username"], "password": carol["password"]}
            ).status_code
            == 401
        )
        assert (
            c.post(
                "/auth/login", json={"username": carol["username"], "password": READY_PASSWORD}
            ).status_code
            == 200
        )


def test_dlp_confirm_shows_findings_and_resends(server, make_page):
    sender = server.add_user("蒋合规")
    server.add_user("韩客户")
    page = make_page(server.base)
    login_ready(page, sender)
    open_direct(page, "韩客户")
    page.get_by_test_id("composer").fill("客户身份证 11010519491231002X 请核对")
    page.get_by_test_id("composer").press("Enter")
    dialog = page.get_by_test_id("dlp-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("dlp-finding")).to_contain_text("110105********002X")
    expect(dialog.get_by_test_id("dlp-finding")).to_contain_text("身份证号")
    dialog.get_by_test_id("dialog-ok").click()
    expect(page.get_by_test_id("dlp-dialog")).to_have_count(0)
    expect(page.locator("[data-testid=message]:not([data-pending])").filter(has_text="请核对")).to_have_count(
        1
    )
