#!/usr/bin/env python3
"""Regenerates the PNG screenshots of the web client's main screens into docs/screenshots/.

Starts a throw-away server (`mixun init`, `mixun demo` when available, a few accounts of its own added with
`mixun user add`), drives Debian's Chromium with Playwright and writes:
login.png, chat.png, chat-phone.png, chat-list-phone.png, secure-pack.png, group.png, directory.png, profile.png, admin.png, admin-dlp.png, lock.png,
totp.png.
Usage: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_support import CHROMIUM, CHROMIUM_ARGS, MixunServer, _skip_reason, login, login_ready  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    reason = _skip_reason()
    if reason:
        sys.stderr.write(f"cannot take screenshots: {reason}\n")
        return 1
    import pyotp
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mixun-shots-") as tmp:
        s = MixunServer(Path(tmp), env={"MIXUN_IDLE_LOCK_MINUTES": "30"})
        try:
            s.cli("demo", check=False)
        except Exception as e:  # noqa: BLE001 - demo data is a nicety here
            sys.stderr.write(f"mixun demo unavailable: {e}\n")
        s.start()
        try:
            shoot(s, sync_playwright, pyotp)
        finally:
            s.stop()
    sys.stdout.write(f"screenshots written to {OUT}\n")
    return 0


def shoot(s: MixunServer, sync_playwright, pyotp) -> None:
    me = s.add_user(
        "张明远", username="zhangmy", unit="总行/信息技术部", phone="13912345678", position="高级工程师"
    )
    li = s.add_user(
        "李静怡", username="lijy", unit="总行/信息技术部", phone="13787654321", position="项目经理"
    )
    wang = s.add_user(
        "王建国", username="wangjg", unit="总行/风险管理部", phone="13611112222", position="风险经理"
    )
    zhao = s.add_user(
        "赵雪梅", username="zhaoxm", unit="总行/运营管理部", phone="13533334444", position="运营主管"
    )

    def api(user):
        return s.client(user["token"])

    with api(li) as c:
        conv = c.post("/conversations", json={"kind": "direct", "members": [me["id"]]}).json()
        for text in [
            "明远，核心系统升级的割接方案评审定在周四上午十点。",
            "评审材料麻烦今天下班前发到群里。",
        ]:
            c.post(f"/conversations/{conv['id']}/messages", json={"text": text})
    with api(me) as c:
        c.post(f"/conversations/{conv['id']}/messages", json={"text": "好的，材料已经整理完，下午发。"})
    with api(li) as c:
        c.post(
            f"/conversations/{conv['id']}/messages", json={"text": "辛苦！另外记得周五前完成季度密码修改。"}
        )
    with api(me) as c:
        group = c.post(
            "/conversations",
            json={
                "kind": "group",
                "name": "核心系统升级项目组",
                "members": [li["id"], wang["id"], zhao["id"]],
            },
        ).json()
        c.post(
            f"/conversations/{group['id']}/messages",
            json={"text": "各位好，本周六晚 22:00 开始割接演练，请各条线安排人员值守。"},
        )
    with api(wang) as c:
        c.post(
            f"/conversations/{group['id']}/messages",
            json={"text": "风险管理部已安排两人值守，应急预案已更新。"},
        )
    with api(zhao) as c:
        c.post(
            f"/conversations/{group['id']}/messages",
            json={"text": "@张明远 运营这边需要提前拿到停机公告的终稿。"},
        )
    with api(li) as c:
        c.post(
            f"/conversations/{group['id']}/messages",
            json={"text": "演练窗口内请勿发起生产变更。", "urgent": True},
        )
    with api(wang) as c:
        other = c.post("/conversations", json={"kind": "direct", "members": [me["id"]]}).json()
        c.post(f"/conversations/{other['id']}/messages", json={"text": "下午的风险例会改到 3 楼第二会议室。"})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
        page = ctx.new_page()
        page.goto(s.base + "/")
        page.get_by_test_id("login-username").wait_for()
        page.screenshot(path=str(OUT / "login.png"))

        # 李静怡 is online in a browser of her own, so the chat header shows her as 在线.
        lctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        lpage = lctx.new_page()
        lpage.goto(s.base + "/")
        login_ready(lpage, li)

        login_ready(page, me)
        page.get_by_test_id("conversation-title").filter(has_text="核心系统升级项目组").click()
        page.get_by_test_id("message").last.wait_for()
        page.get_by_test_id("composer").fill("收到，我今晚把停机公告终稿发给 @赵雪梅 ")
        time.sleep(0.5)
        page.screenshot(path=str(OUT / "group.png"))
        page.get_by_test_id("composer").fill("")

        page.get_by_test_id("conversation-title").filter(has_text=re.compile("^李静怡$")).click()
        page.get_by_test_id("message").last.wait_for()
        time.sleep(0.3)
        page.screenshot(path=str(OUT / "chat.png"))

        # Phone size: the list, then the open conversation with its back button.
        pctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone = pctx.new_page()
        phone.goto(s.base + "/")
        login_ready(phone, me)
        phone.get_by_test_id("conversation-item").first.wait_for()
        time.sleep(0.3)
        phone.screenshot(path=str(OUT / "chat-list-phone.png"))
        phone.get_by_test_id("conversation-title").filter(has_text=re.compile("^李静怡$")).click()
        phone.get_by_test_id("message").last.wait_for()
        phone.get_by_test_id("chat-status").wait_for()
        time.sleep(0.3)
        phone.screenshot(path=str(OUT / "chat-phone.png"))
        pctx.close()

        # D2: the secure-pack dialog, files chosen and the password rules ticked.
        page.get_by_test_id("pack-button").click()
        dialog = page.get_by_test_id("pack-dialog")
        dialog.get_by_test_id("pack-files").set_input_files(files=[
            {"name": "割接方案评审材料.txt", "mimeType": "text/plain", "buffer": "割接方案评审材料".encode()},
            {"name": "应急联系人.csv", "mimeType": "text/csv", "buffer": "姓名,电话\n".encode()},
        ])
        dialog.get_by_test_id("pack-name").fill("评审材料")
        dialog.get_by_test_id("pack-password").fill("Pingshen#2026")
        dialog.get_by_test_id("pack-password2").fill("Pingshen#2026")
        time.sleep(0.3)
        page.screenshot(path=str(OUT / "secure-pack.png"))
        page.keyboard.press("Escape")

        page.get_by_test_id("nav-contacts").click()
        page.get_by_test_id("org-unit").first.wait_for()
        units = page.get_by_test_id("org-unit").filter(has_text="信息技术部")
        if units.count():
            units.first.click()
            page.get_by_test_id("org-person").first.wait_for()
            page.get_by_test_id("org-person").filter(has_text="李静怡").first.click()
            page.get_by_test_id("person-card").wait_for()
        time.sleep(0.3)
        page.screenshot(path=str(OUT / "directory.png"))
        page.keyboard.press("Escape")

        page.get_by_test_id("nav-me").click()
        page.get_by_test_id("session-row").first.wait_for()
        page.screenshot(path=str(OUT / "profile.png"))

        page.get_by_test_id("lock-now").click()
        page.get_by_test_id("lock-screen").wait_for()
        page.screenshot(path=str(OUT / "lock.png"))

        actx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
        ap = actx.new_page()
        ap.goto(s.base + "/")
        login(ap, "sysadmin", s.admins["sysadmin"])
        ap.get_by_test_id("password-old").fill(s.admins["sysadmin"])
        ap.get_by_test_id("password-new").fill("Admin#Strong2026")
        ap.get_by_test_id("password-submit").click()
        secret = ap.get_by_test_id("totp-secret").inner_text().strip()
        time.sleep(0.3)
        ap.screenshot(path=str(OUT / "totp.png"))
        ap.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
        ap.get_by_test_id("totp-submit").click()
        ap.get_by_test_id("totp-done").click()
        ap.get_by_test_id("admin-user-row").first.wait_for()
        time.sleep(0.3)
        ap.screenshot(path=str(OUT / "admin.png"))

        sctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1400})
        sp = sctx.new_page()
        sp.goto(s.base + "/")
        login(sp, "secadmin", s.admins["secadmin"])
        sp.get_by_test_id("password-old").fill(s.admins["secadmin"])
        sp.get_by_test_id("password-new").fill("Admin#Strong2026")
        sp.get_by_test_id("password-submit").click()
        secret = sp.get_by_test_id("totp-secret").inner_text().strip()
        sp.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
        sp.get_by_test_id("totp-submit").click()
        sp.get_by_test_id("totp-done").click()
        sp.get_by_test_id("admin-tab-dlp-policy").click()
        sp.get_by_test_id("dlp-rule-row").first.wait_for()
        sp.get_by_test_id("dlp-try-text").fill(
            "客户王女士身份证 11010519491231002X，手机 139 1234 5678，请在群里核对开户资料。"
        )
        sp.get_by_test_id("dlp-try-channel").select_option("group")
        sp.get_by_test_id("dlp-try-submit").click()
        sp.get_by_test_id("dlp-try-result").wait_for()
        time.sleep(0.3)
        sp.get_by_test_id("dlp-try-result").scroll_into_view_if_needed()
        sp.screenshot(path=str(OUT / "admin-dlp.png"))
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
