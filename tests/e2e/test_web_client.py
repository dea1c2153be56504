"""The staff web client at desktop (1440×900) and phone (390×844) sizes: opening a chat and going back,
presence from the first screen, humane DLP dialogs and escalation notices, and message search."""

from __future__ import annotations

import re

import pytest
from e2e_support import PASSWORD, READY_PASSWORD, login_ready, open_direct
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 640}
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


@pytest.mark.parametrize("size", [DESKTOP, PHONE, SMALL_PHONE], ids=["desktop", "phone", "phone-360"])
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
    send = page.get_by_test_id("send-button").bounding_box()
    assert send and send["x"] + send["width"] <= size["width"]  # nothing pushed off the screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= size["width"]
    if size is not DESKTOP:
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


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """A server whose DLP escalates quickly: a warning at the 1st block, the unit head at the 2nd, a suspension at the 3rd."""
    from e2e_support import MixunServer

    s = MixunServer(tmp_path_factory.mktemp("mixun"),
                    env={"MIXUN_DLP_ESCALATION": "1,2,3", "MIXUN_DLP_SUSPEND_HOURS": "1"})
    s.start()
    yield s
    s.stop()


def _unit_head(server, name: str) -> dict:
    """An employee who is also the head of 总行/信息技术部 (where add_user puts everyone)."""
    import uuid

    username = "h" + uuid.uuid4().hex[:8]
    server.cli("user", "add", "--username", username, "--name", name, "--unit", "总行/信息技术部",
               "--password", PASSWORD, "--role", "unit_head")
    token = server.login(username, PASSWORD)
    with server.client(token) as c:
        assert c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD}).status_code == 204
    return {"username": username, "name": name, "password": READY_PASSWORD}


def _plain_chinese(text: str) -> None:
    """No raw codes and no half-width punctuation after Chinese text."""
    assert "(warn)" not in text and "(block)" not in text and "dlp_" not in text
    assert not re.search(r"[\u4e00-\u9fff][,;:!?()]", text), text


@SIZES
def test_dlp_blocks_explain_keep_the_text_and_escalate(strict_server, make_page, size):
    """Blocked text stays in the composer; each dialog explains itself; warning, unit head and suspension are told."""
    server = strict_server
    sender = server.add_user("钱多多")
    server.add_user("孙收件")
    head = _unit_head(server, "李主任")
    page = _page(server, make_page, sender, size)
    head_page = _page(server, make_page, head, DESKTOP)
    open_direct(page, "孙收件")
    box = page.get_by_test_id("composer")
    dialog = page.get_by_test_id("dialog")
    secret = "绝密★长期 作战方案"
    expected = ["警告", "已按规定通知您的部门负责人", "发送权限已暂停至"]
    for i, notice in enumerate(expected):
        box.fill(f"{secret}{i}")
        box.press("Enter")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("没有发出")
        expect(dialog.get_by_test_id("dlp-finding")).to_contain_text("密级标识")
        for words in ("加密打包", "secadmin", "暂停发送权限", "原文已放回输入框"):
            expect(dialog).to_contain_text(words)
        expect(dialog.get_by_test_id("dlp-notice")).to_contain_text(notice)
        _plain_chinese(dialog.inner_text())
        expect(box).to_have_value(f"{secret}{i}")
        dialog.get_by_test_id("dialog-ok").click()
        expect(dialog).to_have_count(0)
    # The unit head was told at the second block (and the third): who, and what happened.
    head_dialog = head_page.get_by_test_id("dialog")
    expect(head_dialog.get_by_test_id("dlp-notice")).to_contain_text("钱多多")
    _plain_chinese(head_dialog.inner_text())
    # Suspended: an ordinary message explains the suspension in a dialog and stays in the composer.
    box.fill("下午的会改到三点")
    box.press("Enter")
    expect(dialog).to_contain_text("发送权限已暂停")
    expect(dialog).to_contain_text("secadmin")
    _plain_chinese(dialog.inner_text())
    expect(box).to_have_value("下午的会改到三点")
    assert page.get_by_text("因多次违规").count() == 0


@SIZES
def test_warning_dialog_reads_naturally_and_group_masking_is_told(server, make_page, size):
    """A confirm dialog explains itself; a masked group message tells its sender, recipients see 已脱敏."""
    sender = server.add_user("冯理财")
    other = server.add_user("陈柜员")
    page = _page(server, make_page, sender, size)
    open_direct(page, "陈柜员")
    box = page.get_by_test_id("composer")
    box.fill("客户身份证 11010519491231002X 请核对")
    box.press("Enter")
    dialog = page.get_by_test_id("dialog")
    expect(dialog.get_by_test_id("dlp-finding")).to_contain_text("身份证号：110105********002X")
    expect(dialog).to_contain_text("加密打包")
    _plain_chinese(dialog.inner_text())
    dialog.get_by_test_id("dialog-cancel").click()
    expect(box).to_have_value("客户身份证 11010519491231002X 请核对")
    with server.client(sender["token"]) as c:
        r = c.post("/conversations", json={"kind": "group", "name": "理财小组", "members": [other["id"]]})
        assert r.status_code == 201, r.text
    if size is PHONE:
        page.get_by_test_id("back").click()
    page.get_by_test_id("conversation-item").filter(has_text="理财小组").click()
    box.fill("客户身份证 11010519491231002X 已核对")
    box.press("Enter")
    expect(page.get_by_test_id("toast")).to_contain_text("已按规定脱敏")
    expect(page.get_by_test_id("toast")).to_contain_text("110105********002X")
    other_page = _page(server, make_page, other, DESKTOP)
    other_page.get_by_test_id("conversation-item").filter(has_text="理财小组").click()
    row = other_page.locator(".msg-row").filter(has_text="已核对")
    expect(row.get_by_test_id("masked-mark")).to_have_text("已脱敏")
    expect(row.get_by_test_id("message")).not_to_contain_text("11010519491231002X")


@pytest.fixture(scope="module")
def roomy_server(tmp_path_factory):
    """A server without the send rate limit (to seed a long conversation) and a 15-second recall window."""
    from e2e_support import MixunServer

    s = MixunServer(tmp_path_factory.mktemp("mixun"),
                    env={"MIXUN_SEND_RATE_PER_MINUTE": "10000000", "MIXUN_SEND_BURST": "1000000",
                         "MIXUN_RECALL_WINDOW_MINUTES": "0.25"})
    s.start()
    yield s
    s.stop()


@SIZES
def test_message_search_opens_the_hit_in_context(roomy_server, make_page, size):
    """Searching my messages finds an old one; a click opens its conversation scrolled to it, highlighted."""
    server = roomy_server
    alice = server.add_user("卫对账")
    bob = server.add_user("蒋复核")
    conv = _direct(server, alice, bob)
    with server.client(alice["token"]) as c:
        for i in range(1, 401):
            text = "三季度差异说明：柜员 0427 长款 200 元" if i == 5 else f"第{i}条 例行对账记录"
            assert c.post(f"/conversations/{conv}/messages", json={"text": text}).status_code == 201
    page = _page(server, make_page, bob, size)
    page.get_by_test_id("message-search").fill("差异说明")
    hits = page.get_by_test_id("message-search-result")
    expect(hits).to_have_count(1)
    expect(hits).to_contain_text("卫对账")
    hits.click()
    msg = page.get_by_test_id("message").filter(has_text="差异说明")
    expect(msg).to_be_in_viewport()
    expect(page.locator(".msg-row.focused")).to_contain_text("差异说明")
    expect(page.get_by_test_id("chat-title")).to_have_text("卫对账")


@SIZES
def test_small_things_placeholder_org_order_and_wording(server, make_page, size):
    """The search placeholder fits its box, 总行 comes before the branches, staff see 两步验证 not TOTP."""
    from mixun.errors import ERRORS

    server.add_user("龙分行", unit="北京分行/营业部")
    user = server.add_user("程总行")
    page = _page(server, make_page, user, size)
    fits = page.evaluate("""() => {
        const el = document.querySelector('[data-testid=directory-search]');
        const cs = getComputedStyle(el);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = cs.font;
        const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        return ctx.measureText(el.placeholder).width <= room;
    }""")
    assert fits
    page.get_by_test_id("nav-contacts").click()
    expect(page.get_by_test_id("org-unit").first).to_contain_text("总行")
    page.get_by_test_id("nav-me").click()
    expect(page.get_by_test_id("profile")).to_contain_text("两步验证")
    assert "TOTP" not in page.get_by_test_id("profile").inner_text()
    # Server texts shown to staff use full-width punctuation after Chinese.
    assert [code for code, (_s, zh, *_) in ERRORS.items() if re.search(r"[\u4e00-\u9fff][,;:!?]", zh)] == []


FAKE_NOTIFICATION = """
window.__notes = [];
window.Notification = class {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options) { window.__notes.push([title, options && options.body]); }
  close() {}
};
"""


def _drop_file(page, testid: str, name: str, text: str, event: str = "drop") -> None:
    page.get_by_test_id(testid).evaluate(
        """(el, [name, text, event]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, { type: 'text/plain' }));
            const e = event === 'drop' ? new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true })
                                       : new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
            el.dispatchEvent(e);
        }""", [name, text, event])


@SIZES
def test_drafts_recall_files_and_notifications(roomy_server, make_page, size):
    """Drafts survive a reload with [草稿]; recall only in its window, then 重新编辑; drop and paste send
    files; the chime rings and desktop notifications can hide the text."""
    server = roomy_server
    alice = server.add_user("韦起草")
    bob = server.add_user("闵收听")
    conv = _direct(server, alice, bob)
    page = _page(server, make_page, alice, size)
    page.get_by_test_id("conversation-item").filter(has_text="闵收听").click()
    box = page.get_by_test_id("composer")
    box.fill("下周一的巡检，先别发")
    page.wait_for_timeout(1200)  # the draft is saved after a pause in typing
    page.reload()
    page.get_by_test_id("app-shell").wait_for()
    item = page.get_by_test_id("conversation-item").filter(has_text="闵收听")
    expect(item.get_by_test_id("draft-mark")).to_have_text("[草稿]")
    expect(item).to_contain_text("下周一的巡检")
    item.click()
    expect(box).to_have_value("下周一的巡检，先别发")

    # Recall while the window is open; 重新编辑 puts the text back.
    box.fill("这条发错了")
    box.press("Enter")
    row = page.locator(".msg-row").filter(has_text="这条发错了")
    row.hover()
    row.get_by_test_id("action-recall").click(force=True)
    page.get_by_test_id("recall-dialog").get_by_test_id("dialog-ok").click()
    row = page.locator(".msg-row").filter(has_text="你撤回了一条消息")
    row.get_by_test_id("reedit").click()
    expect(box).to_have_value("这条发错了")
    box.fill("")
    # Once the window has passed the button is gone (the server would refuse).
    _send(server, alice, conv, "窗口外的消息")
    late = page.locator(".msg-row").filter(has_text="窗口外的消息")
    expect(late.get_by_test_id("action-recall")).to_have_count(1)
    expect(late.get_by_test_id("action-recall")).to_have_count(0, timeout=30_000)

    # Files dropped on the conversation or pasted into the composer are sent.
    _drop_file(page, "message-list", "周报-拖放.txt", "本周巡检三家网点。")
    expect(page.get_by_test_id("message-file").filter(has_text="周报-拖放.txt")).to_have_count(1)
    _drop_file(page, "composer", "周报-粘贴.txt", "下周巡检两家网点。", event="paste")
    expect(page.get_by_test_id("message-file").filter(has_text="周报-粘贴.txt")).to_have_count(1)

    # Bob: a chime and a desktop notification; with 隐藏内容 the notification carries no text.
    ctx = make_page(server.base).context
    ctx.add_init_script(FAKE_NOTIFICATION)
    pb = ctx.new_page()
    pb.set_viewport_size(size)
    pb.goto(server.base + "/")
    login_ready(pb, bob)
    pb.get_by_test_id("nav-me").click()
    expect(pb.get_by_test_id("notify-sound")).to_be_checked()
    _send(server, alice, conv, "账户余额核对完毕")
    pb.wait_for_function("() => window.__notes.length === 1")
    assert pb.evaluate("() => window.__notes[0][1]") == "账户余额核对完毕"
    assert pb.evaluate("() => window.__mixunChimes") == 1
    pb.get_by_test_id("notify-hide-text").check()
    _send(server, alice, conv, "密码已重置为初始值")
    pb.wait_for_function("() => window.__notes.length === 2")
    assert pb.evaluate("() => window.__notes[1][1]") == "你有一条新消息"


@SIZES
def test_reconnect_banner_leaves_the_chat_title_visible(own_server, make_page, size):
    """While the connection is down the banner sits above the conversation header, never over its title."""
    alice = own_server.add_user("邵断线")
    bob = own_server.add_user("傅重连")
    _direct(own_server, alice, bob)
    page = _page(own_server, make_page, alice, size)
    page.get_by_test_id("conversation-item").filter(has_text="傅重连").click()
    expect(page.get_by_test_id("chat-title")).to_be_visible()
    own_server.stop()
    banner = page.get_by_test_id("connection-status")
    expect(banner).to_be_visible(timeout=30_000)
    b, title = banner.bounding_box(), page.get_by_test_id("chat-title").bounding_box()
    assert b and title and b["y"] + b["height"] <= title["y"], (b, title)
    own_server.start()
    expect(banner).to_have_count(0, timeout=30_000)
