"""离职网盘交接 in the browser (issue 20 item 6), Chromium at 1440×900 and 390×844: an employee with files
and folders departs (HR's 人员 screen); the drive goes to the unit head; HR hands it, with a confirmation,
to a colleague of another unit; that colleague opens the handed folder and downloads a file; the manager
no longer sees it; the auditor finds the handover in the trail. sysadmin has no such tab (三员分立)."""

from __future__ import annotations

import hashlib

import pytest
from e2e_support import PASSWORD, READY_PASSWORD, MixunServer, login
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def drive_server(tmp_path_factory, clamd_socket):
    s = MixunServer(tmp_path_factory.mktemp("mixun"), env={"MIXUN_CLAMD_SOCKET": clamd_socket})
    s.start()
    yield s
    s.stop()


def _person(s: MixunServer, username: str, name: str, unit: str, role: str | None = None) -> dict:
    args = ["user", "add", "--username", username, "--name", name, "--unit", unit, "--password", PASSWORD]
    s.cli(*args, *(["--role", role] if role else []))
    token = s.login(username, PASSWORD)
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD}).status_code == 204
    token = s.login(username, READY_PASSWORD)
    with s.client(token) as c:
        uid = c.get("/me").json()["id"]
    return {"username": username, "name": name, "id": uid, "token": token, "password": READY_PASSWORD}


def _upload(c, name: str, data: bytes, parent_id: int | None = None) -> dict:
    r = c.post("/drive/uploads", json={"name": name, "size": len(data), "parent_id": parent_id})
    assert r.status_code == 201, r.text
    up = r.json()
    size = up["chunk_size"]
    for i in range(up["chunks"]):
        part = data[i * size:(i + 1) * size]
        assert c.put(f"/drive/uploads/{up['id']}/chunks/{i}", content=part,
                     headers={"Content-Type": "application/octet-stream",
                              "X-Chunk-SHA256": hashlib.sha256(part).hexdigest()}).status_code == 200
    r = c.post(f"/drive/uploads/{up['id']}/complete", json={})
    assert r.status_code in (200, 201), r.text
    return r.json()


def _open(browser, s: MixunServer, viewport: str, user: dict | None = None):
    ctx = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
    page = ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"native dialog: {d.message}")))
    page.set_default_timeout(15000)
    page.goto(s.base + "/")
    if user:
        login(page, user["username"], user["password"])
        page.get_by_test_id("app-shell").wait_for()
    return ctx, page


def _fits(page) -> None:
    """Nothing pushed off the screen sideways, and the console uses the screen's width (not a strip)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width
    console = page.locator(".content").bounding_box()
    assert console and console["width"] >= page.viewport_size["width"] * 0.8, console


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_hr_hands_a_departed_persons_drive_to_a_colleague(drive_server, browser, viewport):
    s = drive_server
    hr = _person(s, "renshi", "任诗", "总行/人力资源部", "hr")
    leaver = _person(s, "zhangming", "张明", "总行/公司业务部")
    head = _person(s, "zhaojl", "赵经理", "总行/公司业务部", "unit_head")
    heir = _person(s, "qianqi", "钱七", "总行/零售部")
    minutes = "二季度授信会议纪要：甲公司额度续作。".encode() * 200
    with s.client(leaver["token"]) as c:
        folder = c.post("/drive/folders", json={"name": "客户档案"}).json()
        _upload(c, "甲公司授信.txt", "甲公司授信材料".encode(), folder["id"])
        _upload(c, "会议纪要.txt", minutes)
    waiting = _person(s, "lina", "李娜", "总行/零售部")  # a unit with no head: the drive waits for HR
    with s.client(waiting["token"]) as c:
        _upload(c, "网点日志.txt", "网点日志".encode())
    with s.client(hr["token"]) as c:
        assert c.post(f"/org/people/{waiting['id']}/depart", json={"reason": "retirement"}).status_code == 200
    contexts = []
    try:
        ctx, hp = _open(browser, s, viewport, hr)
        contexts.append(ctx)
        # HR departs the person in 人员 (org people): the drive goes to the unit head at once.
        hp.get_by_test_id("nav-admin").click()
        hp.get_by_test_id("admin-tab-org-people").click()
        person = hp.locator("[data-testid=org-person-row][data-username=zhangming]")
        person.get_by_test_id("org-person-depart").click()
        hp.get_by_test_id("depart-reason").select_option("resignation")
        hp.get_by_test_id("dialog-ok").click()
        expect(person.get_by_test_id("org-person-state")).to_contain_text("离职")

        hp.get_by_test_id("admin-tab-drive-handovers").click()
        row = hp.get_by_test_id("drive-handover-row").filter(has_text="张明")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("总行/公司业务部")
        expect(row).to_contain_text("2 个文件")
        expect(row.get_by_test_id("drive-handover-holder")).to_have_text("赵经理单位负责人")
        assert f"user:{leaver['id']}" not in row.inner_text()
        pending = hp.get_by_test_id("drive-handover-row").filter(has_text="李娜")
        expect(pending.get_by_test_id("drive-handover-holder")).to_have_text("待指定（无单位负责人）")
        expect(pending.get_by_test_id("drive-handover-pick")).to_have_text("指定交接人")
        _fits(hp)

        # HR names another person: search, pick, read the confirmation, confirm.
        row.get_by_test_id("drive-handover-pick").click()
        dialog = hp.get_by_test_id("drive-handover-dialog")
        expect(dialog).to_contain_text("把张明的网盘整体交给")
        expect(dialog.get_by_test_id("drive-handover-manager")).to_have_count(0)  # already with the manager
        dialog.get_by_test_id("drive-handover-search").fill("钱七")
        dialog.get_by_test_id("drive-handover-option").filter(has_text="钱七").click()
        confirm = dialog.get_by_test_id("drive-handover-confirm-text")
        expect(confirm).to_contain_text("张明的网盘（2 个文件")
        expect(confirm).to_contain_text("钱七（总行/零售部）")
        expect(dialog).to_contain_text("目前由赵经理保管")
        _fits(hp)
        hp.screenshot(path=str(s.data_dir / f"handover-confirm-{viewport}.png"))
        dialog.get_by_test_id("drive-handover-ok").click()
        expect(hp.get_by_test_id("toast")).to_contain_text("已把 2 个文件交接给钱七")
        expect(dialog).to_have_count(0)
        expect(row.get_by_test_id("drive-handover-holder")).to_have_text("钱七")
        _fits(hp)

        # The recipient finds it in their own drive and downloads a file.
        ctx, qp = _open(browser, s, viewport, heir)
        contexts.append(ctx)
        qp.get_by_test_id("nav-drive").click()
        handed = qp.get_by_test_id("drive-row").filter(has_text="张明的网盘（交接）")
        expect(handed).to_have_count(1)
        handed.get_by_test_id("drive-open").click()
        expect(qp.get_by_test_id("drive-row").filter(has_text="客户档案")).to_have_count(1)
        file_row = qp.get_by_test_id("drive-row").filter(has_text="会议纪要.txt")
        expect(file_row).to_have_count(1)
        digest = qp.evaluate(
            "async (u) => { const r = await fetch(u); const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());"
            " return [r.status, Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join('')]; }",
            file_row.get_by_test_id("drive-download").get_attribute("href"))
        assert digest == [200, hashlib.sha256(minutes).hexdigest()]
        _fits(qp)
        with s.client(head["token"]) as c:  # the manager no longer holds it
            assert c.get("/drive").json()["items"] == []

        if viewport == "desktop":  # the auditor and sysadmin log in once per server: once is enough
            ctx, ap = _open(browser, s, viewport)
            contexts.append(ctx)
            first_login_admin(ap, "auditor", s.admins["auditor"])
            ap.get_by_test_id("admin-tab-audit").click()
            ap.get_by_test_id("audit-action").select_option("drive.")
            ap.get_by_test_id("audit-search").click()
            rows = ap.get_by_test_id("audit-row").filter(has_text="移交离职人员网盘")
            expect(rows).to_have_count(2)  # to the manager at departure, then to 钱七 by HR
            expect(rows.filter(has_text="任诗").first).to_be_visible()
            ctx, sp = _open(browser, s, viewport)
            contexts.append(ctx)
            first_login_admin(sp, "sysadmin", s.admins["sysadmin"])
            expect(sp.get_by_test_id("admin-tab-drive-quotas")).to_be_visible()
            expect(sp.get_by_test_id("admin-tab-drive-handovers")).to_have_count(0)
            assert ap.errors == [] and sp.errors == []  # type: ignore[attr-defined]
        assert hp.errors == [] and qp.errors == []  # type: ignore[attr-defined]
    finally:
        for c in contexts:
            c.close()
