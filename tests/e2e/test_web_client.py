"""The staff web client at desktop (1440×900) and phone (390×844) sizes: opening a chat and going back,
presence from the first screen, humane DLP dialogs and escalation notices, and message search."""

from __future__ import annotations

import pytest
from e2e_support import login_ready
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])


def _page(server, make_page, user: dict, size: dict):
    page = make_page(server.base)
    page.set_viewport_size(size)
    login_ready(page, user)
    return page


def _direct(server, sender: dict, recipient: dict) -> int:
    with server.client(sender["token"]) as c:
        r = c.post("/conversations", json={"kind": "direct", "members": [recipient["id"]]})
        assert r.status_code in (200, 201), r.text
        return int(r.json()["id"])


def _send(server, sender: dict, conv: int, text: str) -> dict:
    with server.client(sender["token"]) as c:
        r = c.post(f"/conversations/{conv}/messages", json={"text": text})
        assert r.status_code == 201, r.text
        return r.json()


def _unread_on_server(server, user: dict, conv: int) -> int:
    with server.client(user["token"]) as c:
        convs = c.get("/conversations").json()["conversations"]
    return next(x["unread_count"] for x in convs if x["id"] == conv)


@SIZES
def test_open_a_chat_go_back_and_reach_the_me_page(server, make_page, size):
    """On a phone a tapped chat fills the screen with a back button; the 我 page (with logout) shows."""
    alice = server.add_user("欧阳倩")
    bob = server.add_user("司马南")
    conv = _direct(server, alice, bob)
    _send(server, alice, conv, "明早九点营业部碰头。")
    page = _page(server, make_page, bob, size)
    item = page.get_by_test_id("conversation-item").filter(has_text="欧阳倩")
    expect(item.get_by_test_id("unread-count")).to_have_text("1")
    item.click()
    expect(page.get_by_test_id("message").filter(has_text="营业部碰头")).to_be_visible()
    expect(page.get_by_test_id("chat-title")).to_be_visible()
    expect(page.get_by_test_id("composer")).to_be_visible()
    if size is PHONE:
        expect(page.get_by_test_id("conversation-list")).to_be_hidden()
        page.get_by_test_id("back").click()
        expect(page.get_by_test_id("conversation-list")).to_be_visible()
        expect(page.get_by_test_id("chat")).to_have_count(0)
    else:
        expect(page.get_by_test_id("back")).to_be_hidden()
        expect(page.get_by_test_id("conversation-list")).to_be_visible()
    page.get_by_test_id("nav-me").click()
    expect(page.get_by_test_id("profile")).to_be_visible()
    expect(page.get_by_test_id("logout")).to_be_visible()
    box = page.get_by_test_id("logout").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
    assert page.errors == []


@SIZES
def test_nothing_is_marked_read_that_was_not_shown(server, make_page, size):
    """A message arriving while the 我 page covers the chat stays unread until the chat is shown again."""
    alice = server.add_user("上官燕")
    bob = server.add_user("诸葛明")
    conv = _direct(server, alice, bob)
    _send(server, alice, conv, "第一条")
    page = _page(server, make_page, bob, size)
    page.get_by_test_id("conversation-item").filter(has_text="上官燕").click()
    expect(page.get_by_test_id("message").filter(has_text="第一条")).to_be_visible()
    if size is PHONE:
        page.get_by_test_id("back").click()
    page.get_by_test_id("nav-me").click()
    expect(page.get_by_test_id("profile")).to_be_visible()
    _send(server, alice, conv, "第二条，请回电")
    expect(page.get_by_test_id("total-unread")).to_have_text("1")
    page.wait_for_timeout(800)  # longer than the client's read debounce: a wrong read would have been sent
    assert _unread_on_server(server, bob, conv) == 1
    page.get_by_test_id("nav-chats").click()
    if size is PHONE:
        page.get_by_test_id("conversation-item").filter(has_text="上官燕").click()
    expect(page.get_by_test_id("message").filter(has_text="请回电")).to_be_visible()
    expect(page.get_by_test_id("total-unread")).to_have_count(0)


@SIZES
def test_presence_is_right_from_the_first_screen(server, make_page, size):
    """Someone online before I log in shows as 在线 in the list and the chat header, then 离线 when they leave."""
    alice = server.add_user("慕容雪")
    bob = server.add_user("东方亮")
    _direct(server, alice, bob)
    pa = _page(server, make_page, alice, DESKTOP)
    expect(pa.get_by_test_id("connection-status")).to_have_count(0)
    pb = _page(server, make_page, bob, size)
    item = pb.get_by_test_id("conversation-item").filter(has_text="慕容雪")
    expect(item.locator(".status-dot.st-online")).to_have_count(1)
    item.click()
    expect(pb.get_by_test_id("chat-status")).to_have_text("在线")
    pa.get_by_test_id("nav-me").click()
    pa.get_by_test_id("status-select").select_option("meeting")
    expect(pb.get_by_test_id("chat-status")).to_have_text("会议中")
    pa.context.close()
    expect(pb.get_by_test_id("chat-status")).to_have_text("离线")
