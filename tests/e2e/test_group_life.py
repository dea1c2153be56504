"""Group life and message actions in the browser, at desktop (1440x900) and phone (390x844) sizes:
system lines, removal with confirmation, 群公告 once, 置顶 and 免打扰, 解散群, forwarding one by one and
merged, quote, 收到, report; and file previews (PDF pages, a Word document's text under a watermark)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_support import login_ready
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(params=list(SIZES))
def sized(request, browser):
    """Opens logged-in pages at the parameter's size (one fresh context each)."""
    contexts = []

    def _open(server, user: dict):
        ctx = browser.new_context(locale="zh-CN", viewport=SIZES[request.param])
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("dialog", lambda d: d.dismiss())
        page.set_default_timeout(15000)
        page.goto(server.base + "/")
        login_ready(page, user)
        page.size = request.param  # type: ignore[attr-defined]
        return page

    yield _open
    for c in contexts:
        c.close()


def _api(server, user: dict, method: str, path: str, **kw):
    with server.client(user["token"]) as c:
        r = c.request(method, path, **kw)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None


def _group(server, owner: dict, name: str, members: list[dict]) -> int:
    return _api(server, owner, "POST", "/conversations",
                json={"kind": "group", "name": name, "members": [m["id"] for m in members]})["id"]


def _open(page, conv_id: int) -> None:
    page.locator(f'[data-testid="conversation-item"][data-conversation-id="{conv_id}"]').click()
    page.get_by_test_id("composer").wait_for()


def _menu(page, text: str):
    """The context menu of the message showing ``text`` (right click; a long press does the same on phones)."""
    page.get_by_test_id("message").filter(has_text=text).last.click(button="right")
    return page.get_by_test_id("message-menu")


def test_invite_shows_a_system_line_and_removal_asks_first(server, sized):
    """Inviting someone shows "王五邀请…加入了群聊" to everyone; removing asks first and shows its line."""
    wang, zhang, li = server.add_user("王五"), server.add_user("张三"), server.add_user("李四")
    conv = _group(server, wang, "巡检小组", [zhang])
    pw, pz = sized(server, wang), sized(server, zhang)
    _open(pw, conv)
    _open(pz, conv)
    expect(pw.get_by_test_id("system-line").first).to_contain_text("你创建了群聊")
    pw.get_by_test_id("group-manage").click()
    pw.get_by_test_id("member-add-search").fill("李四")
    pw.get_by_test_id("member-add-option").filter(has_text="李四").first.click()
    expect(pw.get_by_test_id("member-row")).to_have_count(3)
    expect(pz.get_by_test_id("system-line").filter(has_text="王五邀请李四加入了群聊")).to_have_count(1, timeout=15000)
    row = pw.get_by_test_id("member-row").filter(has_text="李四")
    row.get_by_test_id("member-remove").click()
    dialog = pw.get_by_test_id("remove-dialog")
    expect(dialog).to_contain_text("确定将李四移出“巡检小组”吗")
    pw.keyboard.press("Escape")  # closes the confirmation only: the member list under it stays open
    expect(dialog).to_have_count(0)
    expect(pw.get_by_test_id("member-row")).to_have_count(3)
    row.get_by_test_id("member-remove").click()
    dialog.get_by_test_id("dialog-cancel").click()
    expect(pw.get_by_test_id("member-row")).to_have_count(3)
    row.get_by_test_id("member-remove").click()
    pw.get_by_test_id("remove-dialog").get_by_test_id("dialog-ok").click()
    expect(pw.get_by_test_id("member-row")).to_have_count(2)
    expect(pz.get_by_test_id("system-line").filter(has_text="王五将李四移出了群聊")).to_have_count(1, timeout=15000)
    assert li["id"] and not pw.errors and not pz.errors


def test_group_notice_is_shown_once(server, sized):
    """The owner publishes a 群公告; a member sees it on opening the group, once (not after a reload)."""
    wang, zhang = server.add_user("王五"), server.add_user("张三")
    conv = _group(server, wang, "网点运营群", [zhang])
    pw = sized(server, wang)
    _open(pw, conv)
    pw.get_by_test_id("conv-settings-button").click()
    pw.get_by_test_id("notice-input").fill("本周五下班前提交巡检表。")
    pw.get_by_test_id("notice-save").click()
    expect(pw.get_by_test_id("system-line").filter(has_text="你发布了群公告")).to_have_count(1)
    if pw.size == "desktop":
        pw.screenshot(path=str(SHOTS / "group-info.png"))
    pz = sized(server, zhang)
    _open(pz, conv)
    dialog = pz.get_by_test_id("notice-dialog")
    expect(dialog.get_by_test_id("notice-text")).to_have_text("本周五下班前提交巡检表。")
    dialog.get_by_test_id("dialog-ok").click()
    expect(dialog).to_have_count(0)
    pz.reload()
    pz.get_by_test_id("app-shell").wait_for()
    _open(pz, conv)
    pz.get_by_test_id("message-list").wait_for()
    expect(pz.get_by_test_id("notice-dialog")).to_have_count(0)


def test_pin_and_mute(server, sized):
    """置顶 moves a chat to the top of one's own list; 免打扰 greys its unread count."""
    wang, zhang = server.add_user("王五"), server.add_user("张三")
    old = _group(server, wang, "较早的群", [zhang])
    _group(server, wang, "较新的群", [zhang])
    pz = sized(server, zhang)
    items = pz.get_by_test_id("conversation-item")
    expect(items.first).to_contain_text("较新的群")
    _open(pz, old)
    pz.get_by_test_id("conv-settings-button").click()
    pz.get_by_test_id("pin-toggle").check()
    pz.get_by_test_id("mute-toggle").check()
    pz.keyboard.press("Escape")
    if pz.size == "phone":
        pz.get_by_test_id("back").click()
    expect(items.first).to_contain_text("较早的群")
    expect(items.first).to_have_attribute("data-pinned", "true")
    expect(items.first.get_by_test_id("muted-mark")).to_have_count(1)
    if pz.size == "desktop":
        pz.locator('[data-testid="conversation-item"]').nth(1).click()
    _api(server, wang, "POST", f"/conversations/{old}/messages", json={"text": "今天的报表"})
    badge = items.first.get_by_test_id("unread-count")
    expect(badge).to_have_text("1")
    expect(badge).to_have_class("unread-badge muted-badge")


def test_owner_dissolves_the_group(server, sized):
    """解散群 asks first; then the group leaves every member's list."""
    wang, zhang = server.add_user("王五"), server.add_user("张三")
    conv = _group(server, wang, "临时项目群", [zhang])
    pw, pz = sized(server, wang), sized(server, zhang)
    expect(pz.locator(f'[data-testid="conversation-item"][data-conversation-id="{conv}"]')).to_have_count(1)
    _open(pw, conv)
    pw.get_by_test_id("conv-settings-button").click()
    pw.get_by_test_id("group-dissolve").click()
    pw.get_by_test_id("dissolve-dialog").get_by_test_id("dialog-ok").click()
    expect(pw.locator(f'[data-testid="conversation-item"][data-conversation-id="{conv}"]')).to_have_count(0)
    expect(pz.locator(f'[data-testid="conversation-item"][data-conversation-id="{conv}"]')).to_have_count(0)


def test_forward_quote_react_and_report(server, sized):
    """From the message menu: forward one, pick several and forward them merged (it opens to show
    them), quote, 收到 (seen by the sender), and report."""
    wang, zhang = server.add_user("王五"), server.add_user("张三")
    one = _api(server, wang, "POST", "/conversations", json={"kind": "direct", "members": [zhang["id"]]})["id"]
    grp = _group(server, zhang, "转发目标群", [wang])
    _api(server, wang, "POST", f"/conversations/{one}/messages", json={"text": "客户周四来访"})
    _api(server, wang, "POST", f"/conversations/{one}/messages", json={"text": "请准备材料"})
    pz, pw = sized(server, zhang), sized(server, wang)
    _open(pz, one)
    _open(pw, one)
    _menu(pz, "客户周四来访").get_by_test_id("menu-forward").click()
    pz.get_by_test_id("forward-dialog").locator(f'[data-testid="forward-target"][data-conversation-id="{grp}"]').click()
    expect(pz.get_by_test_id("forward-dialog")).to_have_count(0)
    _menu(pz, "客户周四来访").get_by_test_id("menu-select").click()
    pz.get_by_test_id("message").filter(has_text="请准备材料").locator("xpath=../..").get_by_test_id("message-select").check()
    expect(pz.get_by_test_id("select-bar")).to_contain_text("已选择 2 条")
    pz.get_by_test_id("forward-merged").click()
    pz.get_by_test_id("forward-dialog").locator(f'[data-testid="forward-target"][data-conversation-id="{grp}"]').click()
    _menu(pz, "请准备材料").get_by_test_id("menu-quote").click()
    pz.get_by_test_id("composer").fill("好的，我来准备")
    pz.get_by_test_id("send-button").click()
    expect(pw.get_by_test_id("message-quote")).to_contain_text("请准备材料")
    _menu(pz, "请准备材料").locator('[data-testid="reaction-option"][data-emoji="收到"]').click()
    expect(pw.get_by_test_id("reaction").filter(has_text="收到")).to_contain_text("张三")
    _menu(pz, "客户周四来访").get_by_test_id("menu-report").click()
    pz.get_by_test_id("report-reason").fill("测试举报")
    pz.get_by_test_id("report-dialog").get_by_test_id("dialog-ok").click()
    expect(pz.get_by_test_id("report-dialog")).to_have_count(0)
    if pz.size == "phone":
        pz.get_by_test_id("back").click()
    _open(pz, grp)
    plain = pz.get_by_test_id("message").filter(has_not=pz.get_by_test_id("merged-card"))
    expect(plain.filter(has_text="客户周四来访")).to_have_count(1)
    pz.get_by_test_id("merged-card").click()
    items = pz.get_by_test_id("bundle-dialog").get_by_test_id("bundle-item")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_contain_text("请准备材料")
    assert not pz.errors and not pw.errors


def _send_file(server, user: dict, conv: int, name: str, data: bytes) -> dict:
    with server.client(user["token"]) as c:
        r = c.post(f"/conversations/{conv}/files", files={"file": (name, data, "application/octet-stream")})
        assert r.status_code == 201, r.text
        return r.json()


def test_pdf_and_word_previews(scanned_server, sized):
    """A PDF opens in the browser as pages (pdf.js loaded on demand); a Word document previews as its
    text under a watermark with the viewer's name."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.unit.files.files_samples import make_docx, make_pdf

    server = scanned_server
    wang, zhang = server.add_user("王五"), server.add_user("张晓明")
    one = _api(server, wang, "POST", "/conversations", json={"kind": "direct", "members": [zhang["id"]]})["id"]
    _send_file(server, wang, one, "合同.pdf", make_pdf(["Loan agreement page one"]))
    _send_file(server, wang, one, "季度报告.docx", make_docx(["二季度网点巡检报告正文", "<script>alert(1)</script>"]))
    pz = sized(server, zhang)
    _open(pz, one)
    pz.get_by_test_id("message-file").filter(has_text="合同.pdf").locator("xpath=..").get_by_test_id("file-preview").click()
    dialog = pz.get_by_test_id("file-preview-dialog")
    expect(dialog.get_by_test_id("pdf-pages")).to_have_text("共 1 页")
    page_canvas = dialog.get_by_test_id("pdf-page").first
    pz.wait_for_function("() => { const c = document.querySelector('[data-testid=pdf-page]'); return c && c.width > 100; }")
    assert page_canvas.evaluate("c => c.width") > 100
    expect(dialog.get_by_test_id("preview-download")).to_have_attribute("href", re.compile(r"/api/v1/attachments/\d+$"))
    before = dialog.get_by_test_id("zoom-level").inner_text()
    dialog.get_by_test_id("zoom-in").click()
    expect(dialog.get_by_test_id("zoom-level")).not_to_have_text(before)
    pz.keyboard.press("Escape")
    pz.get_by_test_id("message-file").filter(has_text="季度报告.docx").locator("xpath=..").get_by_test_id("file-preview").click()
    frame = pz.frame_locator('[data-testid="office-preview"]')
    expect(frame.get_by_test_id("preview-doc")).to_contain_text("二季度网点巡检报告正文")
    expect(frame.get_by_test_id("preview-doc")).to_contain_text("<script>alert(1)</script>")
    expect(frame.get_by_test_id("preview-watermark")).to_contain_text("张晓明")
    if pz.size == "desktop":
        pz.screenshot(path=str(SHOTS / "preview.png"))
    assert not pz.errors


def test_group_from_the_org_tree_and_the_mention_picker(server, sized, request):
    """A new group picked by checking a unit in the org tree; the @ picker finds members by their
    initials (pinyin) and offers @所有人 to the owner, which mentions everyone."""
    unit = f"总行/巡检部{request.node.callspec.id}"
    wang = server.add_user("王五")
    zhang, li = server.add_user("张三丰", unit=unit), server.add_user("李四光", unit=unit)
    pw = sized(server, wang)
    pw.get_by_test_id("new-group").click()
    pw.get_by_test_id("group-name").fill("巡检协作群")
    pw.get_by_test_id("pick-by-org").click()
    row = pw.get_by_test_id("org-pick-unit").filter(has_text=unit.split("/")[1])
    row.get_by_test_id("org-pick-unit-check").check()
    expect(pw.get_by_test_id("new-group-dialog").locator(".chip")).to_have_count(2)
    pw.get_by_test_id("group-create").click()
    expect(pw.get_by_test_id("system-line").filter(has_text="你邀请")).to_contain_text("张三丰")
    expect(pw.get_by_test_id("system-line").filter(has_text="你邀请")).to_contain_text("李四光")
    composer = pw.get_by_test_id("composer")
    composer.press_sequentially("@zsf")
    expect(pw.get_by_test_id("mention-option")).to_have_count(1)
    expect(pw.get_by_test_id("mention-option")).to_contain_text("张三丰")
    composer.fill("")
    composer.press_sequentially("@")
    expect(pw.get_by_test_id("mention-option").first).to_contain_text("所有人")
    pw.get_by_test_id("mention-option").first.click()
    composer.press_sequentially("下午三点开会")
    pw.get_by_test_id("send-button").click()
    expect(pw.get_by_test_id("message").filter(has_text="@所有人 下午三点开会")).to_have_count(1)
    for person in (zhang, li):
        convs = _api(server, person, "GET", "/conversations")["conversations"]
        assert [c["mention_count"] for c in convs if c["name"] == "巡检协作群"] == [1]
