"""A message whose data key retention destroyed (crypto-shredding) shows as destroyed in the chat, at
desktop and phone sizes: marked, explained on hover, not editable — never the sealed value, never an error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from e2e_support import login_ready, open_direct
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_destroyed_message_reads_as_destroyed(own_server, make_page):
    from mixun.keystore import KeyStore, period_of

    s = own_server
    alice = s.add_user("周明远")
    bob = s.add_user("吴晓峰")
    with s.client(alice["token"]) as c:
        conv = c.post("/conversations", json={"kind": "direct", "members": [bob["id"]]}).json()["id"]
        for text in ("去年的授信材料在共享盘", "这条还在"):
            r = c.post(f"/conversations/{conv}/messages", json={"text": text})
            assert r.status_code == 201, r.text
    # Retention destroyed this conversation-month's key while the server was down (it caches keys).
    s.stop()
    ring = KeyStore(s.data_dir / "keys" / "master.key").data_keys
    assert ring.destroy([(f"c:{conv}", period_of(datetime.now(UTC)))], "retention")
    s.start()

    for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
        page = make_page(s.base)
        page.set_viewport_size(viewport)
        login_ready(page, bob)
        open_direct(page, "周明远")
        bubbles = page.locator("[data-testid=message][data-destroyed=true]")
        expect(bubbles).to_have_count(2)
        expect(bubbles.first).to_contain_text("此内容已按保留期限销毁")
        assert "保留期限" in (bubbles.first.get_attribute("title") or "")
        expect(page.get_by_text("去年的授信材料")).to_have_count(0)
        assert not page.errors, page.errors
