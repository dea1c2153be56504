"""Security the user can see: inert XSS payloads, the watermark, the idle lock."""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from e2e_support import MixunServer, login_ready, open_direct
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PAYLOADS = [
    "<script>alert('xss-1')</script>",
    "<img src=x onerror=alert('xss-2')>",
    "\"><svg/onload=alert('xss-3')>",
    "<a href=\"javascript:alert('xss-4')\">点我</a>",
]


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_xss_payloads_stay_inert(server, make_page):
    evil_name = "<img src=x onerror=alert('name')>恶意"
    mallory = server.add_user(evil_name)
    victim = server.add_user("钱安全")
    pm = make_page(server.base)
    pv = make_page(server.base)
    login_ready(pm, mallory)
    login_ready(pv, victim)

    open_direct(pm, "钱安全")
    for p in PAYLOADS:
        pm.get_by_test_id("composer").fill(p)
        pm.get_by_test_id("composer").press("Enter")
    # An image whose file name is a payload.
    pm.get_by_test_id("image-input").set_input_files(
        files=[
            {"name": "<img src=x onerror=alert('file')>.png", "mimeType": "image/png", "buffer": tiny_png()}
        ]
    )

    pv.get_by_test_id("conversation-item").filter(has_text="恶意").click()
    for p in PAYLOADS:
        expect(pv.get_by_test_id("message").filter(has_text=p)).to_have_count(1)
    expect(pv.get_by_test_id("message-image")).to_have_count(1)
    expect(pv.get_by_test_id("chat-title")).to_have_text(evil_name)
    # The sender's name shows as text in the list and the search results.
    expect(pv.get_by_test_id("conversation-item").first).to_contain_text(evil_name)
    pv.get_by_test_id("directory-search").fill("恶意")
    expect(pv.get_by_test_id("directory-result").first).to_contain_text(evil_name)
    time.sleep(1)
    for page in (pm, pv):
        assert page.dialogs == [], page.dialogs
        assert page.locator("script:not([src])").count() == 0
        assert (
            page.locator(
                "[data-testid=message] img[onerror], [data-testid=message] svg, [data-testid=message] a[href^=javascript]"
            ).count()
            == 0
        )
        assert page.evaluate("() => !!window.__xss") is False


def test_watermark_present_and_restored(server, make_page):
    user = server.add_user("孙守密")
    peer = server.add_user("周同事")
    page = make_page(server.base)
    login_ready(page, user)
    open_direct(page, "周同事")
    wm = page.get_by_test_id("watermark")
    expect(wm).to_have_count(1)
    expect(wm).to_contain_text("孙守密")
    assert peer["id"]

    # Removed from the DOM: it comes back.
    page.evaluate("() => document.querySelector('[data-testid=watermark]').remove()")
    expect(page.get_by_test_id("watermark")).to_have_count(1)
    expect(page.get_by_test_id("watermark")).to_contain_text("孙守密")
    # Hidden by restyling: it is rebuilt visible.
    page.evaluate(
        "() => { const w = document.querySelector('[data-testid=watermark]'); w.style.display = 'none'; }"
    )
    expect(page.get_by_test_id("watermark")).to_be_visible()
    # Its text replaced: rebuilt with the real name.
    page.evaluate("() => { document.querySelector('[data-testid=watermark]').textContent = ''; }")
    expect(page.get_by_test_id("watermark")).to_contain_text("孙守密")
    # It never catches the pointer: the composer under it still works.
    page.get_by_test_id("composer").click()
    page.get_by_test_id("composer").fill("水印之下")
    page.get_by_test_id("composer").press("Enter")
    expect(page.get_by_test_id("message").filter(has_text="水印之下")).to_have_count(1)


def test_idle_lock(tmp_path_factory, make_page):
    s = MixunServer(tmp_path_factory.mktemp("mixun-idle"), env={"MIXUN_IDLE_LOCK_MINUTES": "0.05"})
    s.start()
    try:
        with s.client() as c:
            minutes = c.get("/client-config").json().get("idle_lock_minutes")
        assert minutes == pytest.approx(0.05), (
            f"server ignored MIXUN_IDLE_LOCK_MINUTES: idle_lock_minutes={minutes}"
        )
        user = s.add_user("吴锁屏")
        s.add_user("郑同事")
        page = make_page(s.base)
        login_ready(page, user)
        open_direct(page, "郑同事")
        page.get_by_test_id("composer").fill("锁屏前的消息")
        page.get_by_test_id("composer").press("Enter")
        expect(page.get_by_test_id("message").filter(has_text="锁屏前的消息")).to_have_count(1)
        # No input for 3 s: the lock screen covers everything.
        expect(page.get_by_test_id("lock-screen")).to_be_visible(timeout=10000)
        # A wrong password does not unlock.
        page.get_by_test_id("lock-password").fill("wrong-password-1!")
        page.get_by_test_id("lock-submit").click()
        expect(page.get_by_test_id("unlock-error")).to_be_visible()
        expect(page.get_by_test_id("lock-screen")).to_be_visible()
        page.get_by_test_id("lock-password").fill(user["password"])
        page.get_by_test_id("lock-submit").click()
        expect(page.get_by_test_id("lock-screen")).to_have_count(0)
        expect(page.get_by_test_id("message").filter(has_text="锁屏前的消息")).to_have_count(1)
        # Nothing of the conversation was written to browser storage.
        stored = page.evaluate("() => JSON.stringify({l: {...localStorage}, s: {...sessionStorage}})")
        assert "锁屏前的消息" not in stored
    finally:
        s.stop()
