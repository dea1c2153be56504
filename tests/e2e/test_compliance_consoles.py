"""The auditor finding a person by name, and a compliance officer searching with a reason, opening a
hit in context and downloading an export, in Chromium at desktop and phone sizes."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from e2e_support import PASSWORD
from playwright.sync_api import expect
from test_admin import first_login_admin
from test_admin_consoles import first_login_employee_2fa

pytestmark = pytest.mark.e2e
SIZES = [pytest.param((1440, 900), id="desktop"), pytest.param((390, 844), id="phone")]
# Set to a directory (e.g. docs/screenshots) to keep a picture of each console as the test leaves it.
SHOTS = os.environ.get("MIXUN_E2E_SCREENSHOTS")


def _resize(page, size: tuple[int, int]) -> None:
    """Logged in at the default size (the first-login screens are not this file's subject), then the
    console at the size under test."""
    page.set_viewport_size({"width": size[0], "height": size[1]})


def _shot(page, name: str, size: tuple[int, int]) -> None:
    if SHOTS and size[0] >= 1000:
        page.wait_for_timeout(4000)  # the login toast fades first
        page.screenshot(path=str(Path(SHOTS) / name), full_page=False)


@pytest.mark.parametrize("size", SIZES)
def test_auditor_filters_the_trail_by_a_persons_name(own_server, make_page, size):
    """The auditor types 张审计对象 and sees only that person's records, in Chinese words with names;
    a name nobody has shows nothing and says so."""
    s = own_server
    person = s.add_user("张审计对象", username="zhangsj")
    s.add_user("李无关")
    aud = make_page(s.base)
    first_login_admin(aud, "auditor", s.admins["auditor"])
    _resize(aud, size)
    aud.get_by_test_id("admin-tab-audit").click()
    aud.get_by_test_id("audit-person").fill("张审计对象")
    aud.get_by_test_id("audit-search").click()
    expect(aud.get_by_test_id("audit-people")).to_have_attribute("data-count", "1")
    rows = aud.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    texts = rows.all_inner_texts()
    assert texts and all("张审计对象" in t for t in texts), texts
    assert not any("李无关" in t for t in texts), texts
    assert any("登录成功" in t or "创建账号" in t for t in texts), texts
    assert not any(".login_succeeded" in t or "account.created" in t for t in texts), texts
    created = rows.filter(has_text="创建账号")
    if created.count():
        expect(created.first.get_by_test_id("audit-target")).to_contain_text(f"张审计对象（{person['username']}）")
    _shot(aud, "admin-audit.png", size)
    # A name nobody has: an empty list and a message, never the whole trail.
    aud.get_by_test_id("audit-person").fill("查无此人")
    aud.get_by_test_id("audit-search").click()
    expect(aud.get_by_test_id("audit-people")).to_have_attribute("data-count", "0")
    expect(aud.get_by_test_id("audit-row")).to_have_count(0)
    expect(aud.get_by_test_id("audit-empty")).to_be_visible()
    assert aud.errors == [], aud.errors


@pytest.mark.parametrize("size", SIZES)
def test_compliance_searches_with_a_reason_opens_context_and_downloads(own_server, make_page, tmp_path, size):
    """The officer must give a category and a real reason; a hit says who wrote to whom in which
    conversation with the word marked; the conversation opens around it; an export survives a reload
    and downloads as one zip."""
    s = own_server
    s.cli("user", "add", "--username", "hegui", "--name", "何规", "--unit", "总行/合规部", "--password", PASSWORD,
          "--role", "compliance")
    zs = s.add_user("张三", username="zhangsan")
    ls = s.add_user("李四", username="lisi", unit="北京分行/营业部")
    with s.client(zs["token"]) as c:
        conv = c.post("/conversations", json={"kind": "group", "name": "授信审批群", "members": [ls["id"]]}).json()["id"]
        for i in range(6):
            assert c.post(f"/conversations/{conv}/messages", json={"text": f"前面的消息 {i}"}).status_code == 201
    with s.client(ls["token"]) as c:
        assert c.post(f"/conversations/{conv}/messages", json={"text": "本周贷款利率下调了吗？"}).status_code == 201
    with s.client(zs["token"]) as c:
        assert c.post(f"/conversations/{conv}/messages", json={"text": "后面的回复"}).status_code == 201

    page = make_page(s.base)
    first_login_employee_2fa(page, "hegui", PASSWORD)
    _resize(page, size)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-tab-archive").click()

    # A reason that says nothing is refused before anything is searched.
    page.get_by_test_id("archive-category").select_option("regulatory_inspection")
    page.get_by_test_id("archive-reason").fill("检查")
    page.get_by_test_id("archive-q").fill("利率")
    page.get_by_test_id("archive-search").click()
    expect(page.get_by_test_id("archive-error")).to_contain_text("10 个字")
    expect(page.get_by_test_id("archive-row")).to_have_count(0)

    page.get_by_test_id("archive-reason").fill("人民银行现场检查调阅授信往来")
    page.get_by_test_id("archive-search").click()
    row = page.get_by_test_id("archive-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("archive-who")).to_contain_text("李四 → 张三")
    expect(row.get_by_test_id("archive-conversation")).to_have_text("授信审批群")
    expect(row.get_by_test_id("archive-hit")).to_have_text("利率")
    _shot(page, "admin-archive.png", size)

    # The conversation around the hit, the hit marked.
    row.get_by_test_id("archive-open-context").click()
    ctx = page.get_by_test_id("archive-context")
    expect(ctx.get_by_test_id("archive-context-row")).to_have_count(8)
    expect(ctx.locator("[data-testid=archive-context-row][data-hit=true]")).to_contain_text("本周贷款利率下调了吗？")
    expect(ctx).to_contain_text("后面的回复")
    page.get_by_test_id("dialog-ok").click()
    expect(page.get_by_test_id("archive-context")).to_have_count(0)

    # An export: listed by the server, so still there after a reload; downloaded as one zip.
    page.get_by_test_id("admin-tab-exports").click()
    page.get_by_test_id("export-category").select_option("internal_investigation")
    page.get_by_test_id("export-reason").fill("内部调查：核对授信审批往来记录")
    page.get_by_test_id("export-conversation").fill(str(conv))
    page.get_by_test_id("export-create").click()
    expect(page.get_by_test_id("export-row")).to_have_count(1)
    page.reload()
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-tab-exports").click()
    expect(page.get_by_test_id("export-row")).to_have_count(1)
    expect(page.get_by_test_id("export-row")).to_contain_text("何规")
    expect(page.get_by_test_id("export-row")).to_contain_text("消息版本 8")
    _shot(page, "admin-exports.png", size)
    with page.expect_download() as dl:
        page.get_by_test_id("export-download").click()
    assert dl.value.suggested_filename.endswith(".zip")
    path = tmp_path / "export.zip"
    dl.value.save_as(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        jl = next(n for n in names if n.endswith("/messages.jsonl"))
        assert "本周贷款利率下调了吗" in z.read(jl).decode()
        assert any(n.endswith("/manifest.json") for n in names)
    assert page.errors == [], page.errors


def _officer_by_api(s, username: str, name: str) -> str:
    """A second compliance officer, set up through the API (password changed, two-factor enrolled)."""
    import pyotp
    from e2e_support import READY_PASSWORD

    s.cli("user", "add", "--username", username, "--name", name, "--unit", "总行/合规部", "--password", PASSWORD,
          "--role", "compliance")
    token = s.login(username, PASSWORD)
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD}).status_code == 204
    token = s.login(username, READY_PASSWORD)
    with s.client(token) as c:
        secret = c.post("/auth/totp/enroll").json()["secret"]
        assert c.post("/auth/totp/verify", json={"otp": pyotp.TOTP(secret).now()}).status_code == 200
    return token


def test_dual_control_person_export_needs_a_second_officer(own_server, make_page):
    """secadmin turns dual control on for a person's export; the officer's export waits as a request; a
    second officer approves it; the first runs it and the export appears."""
    s = own_server
    s.add_user("张三", username="zhangsan")
    sec = make_page(s.base)
    first_login_admin(sec, "secadmin", s.admins["secadmin"])
    sec.get_by_test_id("admin-tab-dlp-policy").click()
    sec.get_by_test_id("dual-control-export_person").check()
    expect(sec.get_by_test_id("dual-control-export_person")).to_be_checked()
    sec.reload()
    sec.get_by_test_id("admin-tab-dlp-policy").click()
    expect(sec.get_by_test_id("dual-control-export_person")).to_be_checked()

    s.cli("user", "add", "--username", "hegui", "--name", "何规", "--unit", "总行/合规部", "--password", PASSWORD,
          "--role", "compliance")
    other = _officer_by_api(s, "hegui2", "合规二")
    page = make_page(s.base)
    first_login_employee_2fa(page, "hegui", PASSWORD)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-tab-exports").click()
    page.get_by_test_id("export-category").select_option("litigation")
    page.get_by_test_id("export-reason").fill("法律诉讼：法院调取张三往来记录")
    page.get_by_test_id("export-user").fill("zhangsan")
    page.get_by_test_id("export-create").click()
    req = page.get_by_test_id("access-request-row")
    expect(req).to_have_attribute("data-status", "pending")
    expect(req).to_contain_text("导出个人全部记录")
    expect(req.get_by_test_id("access-request-approve")).to_have_count(0)  # not one's own
    expect(page.get_by_test_id("export-row")).to_have_count(0)
    with s.client(other) as c:
        rid = c.get("/compliance/access-requests").json()["requests"][0]["id"]
        assert c.post(f"/compliance/access-requests/{rid}/approve", json={"note": "同意"}).status_code == 200
    page.get_by_test_id("admin-tab-archive").click()
    page.get_by_test_id("admin-tab-exports").click()
    expect(page.get_by_test_id("access-request-row")).to_have_attribute("data-status", "approved")
    expect(page.get_by_test_id("access-request-row")).to_contain_text("合规二")
    page.get_by_test_id("access-request-run").click()
    expect(page.get_by_test_id("access-request-row")).to_have_attribute("data-status", "used")
    expect(page.get_by_test_id("export-row")).to_have_count(1)
    assert page.errors == [] and sec.errors == [], (page.errors, sec.errors)
