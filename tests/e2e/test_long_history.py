"""A conversation of 10,000 messages: scrolling back to the first one and down again, with a bounded page."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_support import MixunServer, _skip_reason, login_ready
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

N = 10_000


@pytest.fixture
def busy_server(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    s = MixunServer(tmp_path_factory.mktemp("mixun"),
                    env={"MIXUN_SEND_RATE_PER_MINUTE": "10000000", "MIXUN_SEND_BURST": "1000000"})
    s.start()
    yield s
    s.stop()


def _seed(server: MixunServer, alice: dict, bob: dict) -> tuple[str, str]:
    """10,000 messages through the API; returns the texts of the first and the newest by seq."""
    with server.client(alice["token"]) as c:
        r = c.post("/conversations", json={"kind": "direct", "members": [bob["id"]]})
        assert r.status_code == 201, r.text
        conv = r.json()["id"]

    def send(chunk: range) -> None:
        with server.client(alice["token"]) as c:
            for i in chunk:
                r = c.post(f"/conversations/{conv}/messages",
                           json={"text": f"第{i}条 例行对账记录", "client_id": f"seed-{i}"})
                assert r.status_code == 201, r.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, [range(k, N + 1, 4) for k in range(1, 5)]))
    with server.client(alice["token"]) as c:
        oldest = c.get(f"/conversations/{conv}/messages", params={"after_seq": 0, "limit": 1}).json()["messages"]
        newest = c.get(f"/conversations/{conv}/messages", params={"before_seq": N + 1, "limit": 1}).json()["messages"]
    assert oldest[0]["seq"] == 1 and newest[0]["seq"] == N
    return oldest[0]["text"], newest[0]["text"]


def _at_bottom(page) -> bool:
    return page.evaluate("() => { const el = document.querySelector('[data-testid=message-list]');"
                         " return el.scrollHeight - el.scrollTop - el.clientHeight < 40; }")


def test_ten_thousand_messages_scroll_back_to_the_first(busy_server, make_page):
    """Bob scrolls from the newest of 10,000 messages back to the first and down again; the page keeps
    a bounded window of messages in the DOM the whole way (no growth, no jank from 10,000 nodes)."""
    server = busy_server
    alice = server.add_user("周建国")
    bob = server.add_user("吴海燕")
    first_text, newest_text = _seed(server, alice, bob)

    page = make_page(server.base)
    login_ready(page, bob)
    page.get_by_test_id("conversation-item").filter(has_text="周建国").click()
    messages = page.get_by_test_id("message")
    expect(messages.filter(has_text=newest_text)).to_be_visible()
    listing = page.get_by_test_id("message-list")

    most = 0
    first = messages.filter(has_text=first_text)
    for _ in range(1000):
        listing.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        page.wait_for_timeout(25)
        most = max(most, messages.count())
        if first.count() and page.get_by_text("已经到顶了").count():
            break
    expect(first).to_be_visible()
    expect(page.get_by_text("已经到顶了")).to_be_visible()
    assert most <= 200, f"{most} messages rendered at once"

    newest = messages.filter(has_text=newest_text)
    for _ in range(1000):
        listing.evaluate("el => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); }")
        page.wait_for_timeout(25)
        most = max(most, messages.count())
        if newest.count() and _at_bottom(page):
            break
    expect(newest).to_be_visible()
    assert most <= 200, f"{most} messages rendered at once"
    assert page.errors == [] and page.dialogs == []
