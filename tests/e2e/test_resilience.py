"""Delivery after a server restart: the page reconnects, resumes, and shows each message exactly once."""

from __future__ import annotations

import time

import pytest
from e2e_support import login_ready, open_direct
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_delivery_after_server_restart(own_server, make_page):
    s = own_server
    alice = s.add_user("冯可靠")
    bob = s.add_user("陈重启")
    page = make_page(s.base)
    login_ready(page, alice)
    open_direct(page, "陈重启")
    page.get_by_test_id("composer").fill("重启前")
    page.get_by_test_id("composer").press("Enter")
    expect(page.get_by_test_id("message").filter(has_text="重启前")).to_have_count(1)
    conv_id = int(page.get_by_test_id("chat").get_attribute("data-conversation-id"))

    s.stop()
    expect(page.get_by_test_id("connection-status")).to_be_visible(timeout=10000)
    # Typed while the server is down: queued, then sent with its client_id once it is back.
    page.get_by_test_id("composer").fill("断线时输入")
    page.get_by_test_id("composer").press("Enter")
    expect(page.get_by_test_id("message").filter(has_text="断线时输入")).to_have_count(1)
    time.sleep(1)

    s.start()
    # Bob sends through the API while Alice's page may still be reconnecting.
    token = s.login(bob["username"], bob["password"])
    with s.client(token) as c:
        r = c.post(
            f"/conversations/{conv_id}/messages",
            json={"text": "重启后的第一条", "client_id": "bob-after-restart"},
        )
        assert r.status_code == 201, r.text
    expect(page.get_by_test_id("connection-status")).to_have_count(0, timeout=20000)
    expect(page.get_by_test_id("message").filter(has_text="重启后的第一条")).to_have_count(1, timeout=15000)
    expect(page.get_by_test_id("message").filter(has_text="断线时输入")).to_have_count(1)
    expect(page.locator("[data-testid=message][data-pending]")).to_have_count(0, timeout=15000)
    time.sleep(1.5)
    expect(page.get_by_test_id("message").filter(has_text="重启后的第一条")).to_have_count(1)
    expect(page.get_by_test_id("message").filter(has_text="重启前")).to_have_count(1)

    # The queued message reached the server exactly once.
    with s.client(token) as c:
        msgs = c.get(f"/conversations/{conv_id}/messages", params={"after_seq": 0, "limit": 50}).json()[
            "messages"
        ]
    texts = [m["text"] for m in msgs]
    assert texts.count("断线时输入") == 1, texts
    assert texts.count("重启后的第一条") == 1, texts

    # A live message after the restart still arrives over the resumed WebSocket.
    with s.client(token) as c:
        c.post(f"/conversations/{conv_id}/messages", json={"text": "实时送达"})
    expect(page.get_by_test_id("message").filter(has_text="实时送达")).to_have_count(1)
