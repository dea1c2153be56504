"""Files in the browser: a document sent, scanned and downloaded; a warning confirmed; a secure pack with
its password rules and the phone instruction; a file name that is an HTML payload stays text."""

from __future__ import annotations

import io

import pytest
import pyzipper
from e2e_support import login_ready, open_direct
from playwright.sync_api import expect
from test_admin_consoles import first_login_employee_2fa

pytestmark = pytest.mark.e2e
PACK_PASSWORD = "Hetong#2026!"


def _fetch(page, href: str) -> bytes:
    """The bytes the browser gets for a link (with its session cookie)."""
    data = page.evaluate(
        "async (u) => { const r = await fetch(u); const b = new Uint8Array(await r.arrayBuffer());"
        " return {status: r.status, bytes: Array.from(b)}; }", href)
    assert data["status"] == 200
    return bytes(data["bytes"])


def _pair(server, make_page, sender: str, recipient: str):
    """Two people logged in, in two browsers; the first has their direct conversation open."""
    pages = []
    for name in (sender, recipient):
        page = make_page(server.base)
        login_ready(page, server.add_user(name))
        pages.append(page)
    open_direct(pages[0], recipient)
    return pages[0], pages[1]


def _open_pack(page, name: str, data: bytes):
    """The secure-pack dialog with one text file chosen."""
    page.get_by_test_id("pack-button").click()
    dialog = page.get_by_test_id("pack-dialog")
    dialog.get_by_test_id("pack-files").set_input_files(files=[{"name": name, "mimeType": "text/plain", "buffer": data}])
    return dialog


def _submit_pack(page, dialog) -> None:
    dialog.get_by_test_id("pack-password").fill(PACK_PASSWORD)
    dialog.get_by_test_id("pack-password2").fill(PACK_PASSWORD)
    dialog.get_by_test_id("pack-submit").click()
    expect(page.get_by_test_id("pack-instruction")).to_contain_text("电话")


def test_document_sent_scanned_and_downloaded(scanned_server, make_page):
    pa, pb = _pair(scanned_server, make_page, "周文", "吴敏")
    body = "二季度网点巡检安排\n周三上午九点出发。\n".encode()
    name = "<img src=x onerror=alert('f')>巡检.txt"
    pa.get_by_test_id("file-input").set_input_files(files=[{"name": name, "mimeType": "text/plain", "buffer": body}])
    chip = pa.get_by_test_id("message-file")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text(name)  # the payload is shown as text, never parsed
    expect(chip.get_by_test_id("file-scan-state")).to_have_text("已通过病毒扫描")
    expect(pa.get_by_test_id("antivirus-warning")).to_have_count(0)

    pb.get_by_test_id("conversation-item").filter(has_text="周文").click()
    got = pb.get_by_test_id("message-file")
    expect(got).to_have_count(1)
    assert _fetch(pb, got.get_attribute("href")) == body

    # Personal data in a file asks first; confirmed, it goes.
    pa.get_by_test_id("file-input").set_input_files(files=[
        {"name": "客户.csv", "mimeType": "text/csv", "buffer": "姓名,身份证号\n王五,11010519491231002X\n".encode()}])
    expect(pa.get_by_test_id("dlp-dialog")).to_be_visible()
    expect(pa.get_by_test_id("dlp-finding")).to_contain_text("110105")
    expect(pa.get_by_test_id("dlp-finding")).not_to_contain_text("11010519491231002X")
    pa.get_by_test_id("dialog-ok").click()
    expect(pb.get_by_test_id("message-file").filter(has_text="客户.csv")).to_have_count(1)

    # A classified document is refused and says why.
    pa.get_by_test_id("file-input").set_input_files(files=[
        {"name": "请示.txt", "mimeType": "text/plain", "buffer": "密级：机密\n关于某事项的请示".encode()}])
    expect(pa.get_by_test_id("dlp-dialog")).to_be_visible()
    expect(pa.get_by_test_id("dialog-cancel")).to_have_count(0)  # nothing to confirm: it cannot be sent
    pa.get_by_test_id("dialog-ok").click()
    expect(pa.get_by_test_id("message-file")).to_have_count(2)
    assert pa.dialogs == [] and pb.dialogs == []
    assert pa.errors == [] and pb.errors == []


def test_secure_pack_in_the_browser(scanned_server, make_page):
    pa, pb = _pair(scanned_server, make_page, "郑华", "冯洁")
    contract = "借款合同\n借款人：王五 身份证 11010519491231002X\n".encode()
    dialog = _open_pack(pa, "借款合同.txt", contract)
    dialog.get_by_test_id("pack-name").fill("合同材料")
    dialog.get_by_test_id("pack-password").fill("abc12345")
    dialog.get_by_test_id("pack-password2").fill("abc12345")
    expect(dialog.get_by_test_id("pack-submit")).to_be_disabled()
    expect(dialog.get_by_test_id("pack-rules")).to_contain_text("✗ 包含符号")
    _submit_pack(pa, dialog)
    pa.get_by_test_id("pack-close").click()

    pb.get_by_test_id("conversation-item").filter(has_text="郑华").click()
    msg = pb.get_by_test_id("message").filter(has_text="加密文件包")
    expect(msg).to_contain_text("电话")
    chip = msg.get_by_test_id("message-file")
    expect(chip).to_contain_text("合同材料.zip")
    z = _fetch(pb, chip.get_attribute("href"))
    with pyzipper.AESZipFile(io.BytesIO(z)) as zf:
        zf.setpassword(PACK_PASSWORD.encode())
        assert zf.read("借款合同.txt") == contract
    assert pa.errors == [] and pb.errors == []


def test_compliance_opens_a_packed_file_from_the_archive(scanned_server, make_page):
    """Compliance finds a secure pack in the archive and opens the file kept from inside it."""
    s = scanned_server
    pa, _pb = _pair(s, make_page, "钱进", "孙莉")
    contract = "授信合同 第 2026-88 号\n".encode()
    _submit_pack(pa, _open_pack(pa, "授信合同.txt", contract))

    s.cli("user", "add", "--username", "hegui2", "--name", "何规", "--unit", "总行/合规部",
          "--password", "Init#Pass2026", "--role", "compliance")
    page = make_page(s.base)
    first_login_employee_2fa(page, "hegui2", "Init#Pass2026")
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-tab-archive").click()
    page.get_by_test_id("archive-q").fill("授信合同")
    page.get_by_test_id("archive-category").select_option("audit_sampling")
    page.get_by_test_id("archive-reason").fill("合同外发抽查：核对授信合同的传递")
    page.get_by_test_id("archive-search").click()
    inner = page.get_by_test_id("archive-file").filter(has_text="授信合同.txt")
    expect(inner).to_have_count(1)
    assert _fetch(page, inner.get_attribute("href")) == contract
    assert page.errors == []


def test_without_scanner_the_ui_says_so_and_files_wait(server, make_page):
    """The session server has no clamd: the composer says so, and a sent file shows that it waits for
    its scan (and is not a download link)."""
    pa, pb = _pair(server, make_page, "陈平", "林芳")
    expect(pa.get_by_test_id("antivirus-warning")).to_be_visible()
    pa.get_by_test_id("file-input").set_input_files(files=[
        {"name": "周报.txt", "mimeType": "text/plain", "buffer": "本周工作小结".encode()}])
    chip = pa.get_by_test_id("message-file")
    expect(chip.get_by_test_id("file-scan-state")).to_have_text("等待病毒扫描，暂不能下载")
    assert chip.get_attribute("href") is None
    assert pa.errors == [] and pb.errors == []
