"""网盘 and 群文件 in the browser (issue 20 items 1–6): a chunked upload with its progress bar, folders,
rename, the recycle bin, sharing into a chat, a group's file space seen by another member, a report
that secadmin decides and the owner is told of; at 1440×900 and on a 390×844 phone."""

from __future__ import annotations

import hashlib

import pytest
from e2e_support import login_ready
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e


def _digest(page, href: str) -> str:
    """SHA-256 of what the browser gets for a link (with its session cookie), computed in the page."""
    data = page.evaluate(
        "async (u) => { const r = await fetch(u); const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());"
        " return {status: r.status, hex: Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join('')}; }",
        href)
    assert data["status"] == 200
    return data["hex"]


def _no_overflow(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_drive_upload_folders_trash_and_share(scanned_server, make_page, tmp_path):
    a = scanned_server.add_user("许晴")
    b = scanned_server.add_user("韩冰")
    with scanned_server.client(a["token"]) as c:
        assert c.post("/conversations", json={"kind": "direct", "members": [b["id"]]}).status_code == 201
    page = make_page(scanned_server.base)
    page.set_viewport_size({"width": 1440, "height": 900})
    login_ready(page, a)
    page.get_by_test_id("nav-drive").click()
    view = page.get_by_test_id("drive-view")
    expect(view).to_be_visible()
    expect(page.get_by_test_id("drive-usage")).to_contain_text("10.0 GB")

    page.get_by_test_id("drive-new-folder").click()
    page.get_by_test_id("drive-name-input").fill("制度文件")
    page.get_by_test_id("dialog-ok").click()
    folder = page.get_by_test_id("drive-row").filter(has_text="制度文件")
    expect(folder).to_have_count(1)
    folder.get_by_test_id("drive-open").click()
    expect(page.get_by_test_id("drive-path")).to_contain_text("制度文件")

    # 9 MiB: three verified chunks, a progress bar while they go.
    body = (b"Mixun drive test block. " * 400000)[: 9 * 1024 * 1024]
    page.get_by_test_id("drive-upload-input").set_input_files(
        files=[{"name": "操作规程.txt", "mimeType": "text/plain", "buffer": body}])
    expect(page.get_by_test_id("drive-upload-progress")).to_have_count(1)
    row = page.get_by_test_id("drive-row").filter(has_text="操作规程.txt")
    expect(row).to_have_count(1, timeout=60000)
    expect(row).to_contain_text("安全")
    expect(row).to_contain_text("9.0 MB")
    assert _digest(page, row.get_by_test_id("drive-download").get_attribute("href")) == hashlib.sha256(body).hexdigest()
    page.screenshot(path=str(tmp_path / "drive-1440.png"))

    row.get_by_test_id("drive-rename").click()
    page.get_by_test_id("drive-name-input").fill("操作规程（2026版）.txt")
    page.get_by_test_id("dialog-ok").click()
    row = page.get_by_test_id("drive-row").filter(has_text="操作规程（2026版）.txt")
    expect(row).to_have_count(1)

    # Share into the chat with 韩冰: it arrives as a file message there.
    row.get_by_test_id("drive-share").click()
    page.get_by_test_id("drive-share-target").filter(has_text="韩冰").get_by_role("button").click()
    expect(page.get_by_test_id("toast")).to_contain_text("已发送")
    pb = make_page(scanned_server.base)
    login_ready(pb, b)
    pb.get_by_test_id("conversation-item").filter(has_text="许晴").click()
    expect(pb.get_by_test_id("message-file").filter(has_text="操作规程（2026版）.txt")).to_have_count(1)

    # Delete: to the recycle bin, restored from there.
    row.get_by_test_id("drive-delete").click()
    expect(page.get_by_test_id("drive-row").filter(has_text="操作规程")).to_have_count(0)
    page.get_by_test_id("drive-tab-trash").click()
    trashed = page.get_by_test_id("drive-trash-row").filter(has_text="操作规程")
    expect(trashed).to_have_count(1)
    expect(page.get_by_test_id("drive-trash")).to_contain_text("30 天")
    trashed.get_by_test_id("drive-restore").click()
    expect(trashed).to_have_count(0)
    page.get_by_test_id("drive-tab-files").click()
    expect(page.get_by_test_id("drive-row").filter(has_text="操作规程")).to_have_count(1)

    # A non-work type is refused before anything is sent.
    page.get_by_test_id("drive-upload-input").set_input_files(
        files=[{"name": "年会.mp4", "mimeType": "video/mp4", "buffer": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100}])
    expect(page.get_by_test_id("drive-upload-progress").filter(has_text="年会.mp4")).to_contain_text("与工作无关")

    # On a phone the drive is the whole screen, nothing pushed off it.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("drive-view")).to_be_visible()
    expect(page.get_by_test_id("drive-upload")).to_be_visible()
    _no_overflow(page)
    page.screenshot(path=str(tmp_path / "drive-390.png"))
    assert page.dialogs == [] and page.errors == []  # type: ignore[attr-defined]


def test_group_files_seen_by_members_and_reported(scanned_server, make_page):
    a = scanned_server.add_user("陆川")
    b = scanned_server.add_user("沈络")
    with scanned_server.client(a["token"]) as c:
        conv = c.post("/conversations", json={"kind": "group", "name": "网点巡检组", "members": [b["id"]]}).json()["id"]
        r = c.post(f"/conversations/{conv}/files", files={"file": ("巡检表.txt", "巡检记录".encode(), "text/plain")})
        assert r.status_code == 201, r.text
    pa = make_page(scanned_server.base)
    pa.set_viewport_size({"width": 1440, "height": 900})
    login_ready(pa, a)
    pa.get_by_test_id("conversation-item").filter(has_text="网点巡检组").click()
    pa.get_by_test_id("group-files-button").click()
    panel = pa.get_by_test_id("group-files-panel")
    expect(panel.get_by_test_id("drive-row").filter(has_text="巡检表.txt")).to_contain_text("聊天文件")
    panel.get_by_test_id("drive-new-folder").click()
    pa.get_by_test_id("drive-name-input").fill("照片")
    pa.get_by_test_id("dialog-ok").click()
    expect(panel.get_by_test_id("drive-row").filter(has_text="照片")).to_have_count(1)
    panel.get_by_test_id("drive-upload-input").set_input_files(
        files=[{"name": "与工作无关.txt", "mimeType": "text/plain", "buffer": "周末聚餐菜单".encode()}])
    expect(panel.get_by_test_id("drive-row").filter(has_text="与工作无关.txt")).to_have_count(1, timeout=30000)

    # Another member sees it, with its uploader, and reports it.
    pb = make_page(scanned_server.base)
    pb.set_viewport_size({"width": 390, "height": 844})
    login_ready(pb, b)
    pb.get_by_test_id("conversation-item").filter(has_text="网点巡检组").click()
    pb.get_by_test_id("group-files-button").click()
    row = pb.get_by_test_id("group-files-panel").get_by_test_id("drive-row").filter(has_text="与工作无关.txt")
    expect(row).to_have_count(1)
    pb.get_by_test_id("drive-search").fill("巡检")
    pb.get_by_test_id("drive-search-go").click()
    expect(pb.get_by_test_id("drive-row")).to_have_count(1)
    pb.get_by_test_id("drive-search").fill("")
    pb.get_by_test_id("drive-search-go").click()
    row.get_by_test_id("drive-report").click()
    pb.get_by_test_id("drive-report-reason").fill("与工作无关的私人内容")
    pb.get_by_test_id("drive-report-dialog").get_by_test_id("dialog-ok").click()
    expect(pb.get_by_test_id("toast")).to_contain_text("已提交举报")
    _no_overflow(pb)

    # secadmin checks it in the console (name, place, reporter, reason: no content) and removes it.
    sec = make_page(scanned_server.base)
    sec.set_viewport_size({"width": 1440, "height": 900})
    first_login_admin(sec, "secadmin", scanned_server.admins["secadmin"])
    sec.get_by_test_id("admin-tab-drive-reports").click()
    report = sec.get_by_test_id("drive-report-row").filter(has_text="与工作无关.txt")
    expect(report).to_contain_text("沈络")
    expect(report).to_contain_text("网点巡检组")
    report.get_by_test_id("drive-report-remove").click()
    sec.get_by_test_id("drive-decision-reason").fill("与工作无关，按规定删除")
    sec.get_by_test_id("drive-decision-ok").click()
    expect(sec.get_by_test_id("drive-report-row")).to_have_count(0)
    sec.get_by_test_id("admin-tab-drive-types").click()
    expect(sec.get_by_test_id("drive-type-row").filter(has_text="mp4")).to_have_count(1)
    # The uploader is told, in the 网盘 tab, with the reason.
    pa.get_by_test_id("group-files-panel").get_by_role("button", name="关闭").click()
    pa.get_by_test_id("nav-drive").click()
    expect(pa.get_by_test_id("drive-removed-notice")).to_contain_text("与工作无关，按规定删除")
    pa.get_by_test_id("nav-chats").click()
    pa.get_by_test_id("group-files-button").click()
    pa.get_by_test_id("group-files-panel").get_by_test_id("drive-search-go").click()
    expect(pa.get_by_test_id("group-files-panel").get_by_test_id("drive-row").filter(has_text="与工作无关.txt")).to_have_count(0)
    assert pa.dialogs == [] and pb.dialogs == []  # type: ignore[attr-defined]


def test_sysadmin_sets_a_quota_the_person_then_sees(scanned_server, make_page):
    p = scanned_server.add_user("顾言")
    sys_page = make_page(scanned_server.base)
    sys_page.set_viewport_size({"width": 1440, "height": 900})
    first_login_admin(sys_page, "sysadmin", scanned_server.admins["sysadmin"])
    sys_page.get_by_test_id("admin-tab-drive-quotas").click()
    expect(sys_page.get_by_test_id("admin-drive-quotas")).to_contain_text("默认配额 10.0 GB")
    sys_page.get_by_test_id("quota-person-search").fill(p["username"])
    sys_page.get_by_test_id("quota-person-option").first.click()
    sys_page.get_by_test_id("quota-gb").fill("2")
    sys_page.get_by_test_id("quota-save").click()
    expect(sys_page.get_by_test_id("quota-row").filter(has_text="顾言")).to_contain_text("2.0 GB")
    page = make_page(scanned_server.base)
    page.set_viewport_size({"width": 390, "height": 844})
    login_ready(page, p)
    page.get_by_test_id("nav-drive").click()
    expect(page.get_by_test_id("drive-usage")).to_contain_text("共 2.0 GB")
    _no_overflow(page)
    assert sys_page.dialogs == [] and page.dialogs == []  # type: ignore[attr-defined]
