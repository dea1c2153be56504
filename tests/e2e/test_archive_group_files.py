"""群文件 in the compliance archive console (issue 20 item 1): a member's file put into a group's space and
then deleted by them is found by the officer under 群文件, with the uploader, group, folder, size, scan
state and who deleted it in words, and downloads whole; in Chromium at 1440×900 and on a 390×844 phone."""

from __future__ import annotations

import hashlib

import pytest
from e2e_support import PASSWORD
from playwright.sync_api import expect
from test_admin_consoles import first_login_employee_2fa

pytestmark = pytest.mark.e2e
SIZES = [pytest.param((1440, 900), id="desktop"), pytest.param((390, 844), id="phone")]
DRAFT = "第三季度授信审批底稿：客户甲额度 3000 万元。".encode() * 40


def _upload(c, name: str, data: bytes, conv: int, parent: int | None) -> dict:
    up = c.post("/drive/uploads", json={"name": name, "size": len(data), "conversation_id": conv, "parent_id": parent})
    assert up.status_code == 201, up.text
    uid = up.json()["id"]
    r = c.put(f"/drive/uploads/{uid}/chunks/0", content=data,
              headers={"Content-Type": "application/octet-stream", "X-Chunk-SHA256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 200, r.text
    done = c.post(f"/drive/uploads/{uid}/complete", json={})
    assert done.status_code == 201, done.text
    return done.json()


def _fetch(page, href: str) -> dict:
    """Status and SHA-256 of what the browser gets for a link (with its session cookie)."""
    return page.evaluate(
        "async (u) => { const r = await fetch(u); const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());"
        " return {status: r.status, hex: Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join('')}; }",
        href)


@pytest.mark.parametrize("size", SIZES)
def test_officer_finds_a_deleted_group_file_and_downloads_it(scanned_server, make_page, size):
    s = scanned_server
    tag = "d" if size[0] > 1000 else "p"  # the server is the module's: each size its own people and group
    officer = f"hegui{tag}"
    s.cli("user", "add", "--username", officer, "--name", "何规", "--unit", "总行/合规部", "--password", PASSWORD,
          "--role", "compliance")
    a = s.add_user("张三")
    b = s.add_user("李四", unit="北京分行/营业部")
    group = f"授信审批群{tag}"
    with s.client(a["token"]) as c:
        conv = c.post("/conversations", json={"kind": "group", "name": group, "members": [b["id"]]}).json()["id"]
        folder = c.post("/drive/folders", json={"name": "审批材料", "conversation_id": conv}).json()["id"]
    name = f"授信审批底稿{tag}.txt"
    with s.client(b["token"]) as c:
        item = _upload(c, name, DRAFT, conv, folder)
        assert c.delete(f"/drive/items/{item['id']}").status_code == 200

    page = make_page(s.base)
    first_login_employee_2fa(page, officer, PASSWORD)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-tab-archive").click()
    page.get_by_test_id("archive-mode-files").click()
    expect(page.get_by_test_id("archive-mode-files")).to_have_text("群文件")

    # No reason, no search.
    page.get_by_test_id("gfiles-q").fill("底稿")
    page.get_by_test_id("gfiles-search").click()
    expect(page.get_by_test_id("gfiles-error")).to_contain_text("请选择查阅理由类别")
    expect(page.get_by_test_id("gfiles-row")).to_have_count(0)

    page.get_by_test_id("gfiles-category").select_option("internal_investigation")
    page.get_by_test_id("gfiles-reason").fill("内部调查：核对授信审批底稿的流转")
    page.get_by_test_id("gfiles-group").fill(group)
    page.get_by_test_id("gfiles-search").click()
    row = page.get_by_test_id("gfiles-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("gfiles-name")).to_contain_text(name)
    expect(row.get_by_test_id("gfiles-name")).to_contain_text("KB")
    expect(row.get_by_test_id("gfiles-group-name")).to_have_text(group)
    expect(row.get_by_test_id("gfiles-path")).to_have_text("/审批材料")
    expect(row.get_by_test_id("gfiles-uploader")).to_contain_text("李四")
    expect(row.get_by_test_id("gfiles-uploader")).to_contain_text("北京分行/营业部")
    expect(row.get_by_test_id("gfiles-scan")).to_have_text("安全")
    expect(row.get_by_test_id("gfiles-state")).to_contain_text("已被李四删除")
    row.get_by_test_id("gfiles-history").locator("summary").click()
    expect(row.get_by_test_id("gfiles-history")).to_contain_text("李四 上传")
    expect(row.get_by_test_id("gfiles-history")).to_contain_text("李四 删除")
    text = row.inner_text()
    assert str(b["id"]) not in text.split() and "drive_item" not in text and "deleted" not in text, text

    # The folder is in the archive too, by its name; the group's name narrows to that group.
    page.get_by_test_id("gfiles-q").fill("")
    page.get_by_test_id("gfiles-search").click()
    expect(page.get_by_test_id("gfiles-row")).to_have_count(2)
    folder_row = page.locator(f"[data-testid=gfiles-row][data-item-id='{folder}']")
    expect(folder_row.get_by_test_id("gfiles-name")).to_contain_text("审批材料")
    expect(folder_row.get_by_test_id("gfiles-name")).to_contain_text("文件夹")
    expect(folder_row.get_by_test_id("gfiles-path")).to_have_text("/根目录")
    expect(folder_row.get_by_test_id("gfiles-uploader")).to_contain_text("张三")

    # The download is the deleted file, whole.
    page.get_by_test_id("gfiles-q").fill("底稿")
    page.get_by_test_id("gfiles-search").click()
    href = page.get_by_test_id("gfiles-download").get_attribute("href")
    got = _fetch(page, href)
    assert got == {"status": 200, "hex": hashlib.sha256(DRAFT).hexdigest()}
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")

    # Back to the messages: the reason stays.
    page.get_by_test_id("archive-mode-messages").click()
    expect(page.get_by_test_id("archive-reason")).to_have_value("内部调查：核对授信审批底稿的流转")
    assert page.errors == [], page.errors
