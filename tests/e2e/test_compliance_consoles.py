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
