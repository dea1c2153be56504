"""People and the organisation in the browser (issue 21 items 1-5), Chromium at 1440×900 and 390×844:
an account applied for, approved by the unit head and HR, opened by the sysadmin; HR's unit tree and
people screens (a real-name correction shows the HR-verified badge; a departure with its kind)."""

from __future__ import annotations

import pytest
from e2e_support import PASSWORD, READY_PASSWORD, login
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def _staff(s, username: str, name: str, unit: str, role: str | None = None) -> None:
    args = ["user", "add", "--username", username, "--name", name, "--unit", unit, "--password", PASSWORD]
    if role:
        args += ["--role", role]
    s.cli(*args)
    token = s.login(username, PASSWORD)
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD}).status_code == 204


class Pages:
    def __init__(self, browser, server, viewport: str) -> None:
        self.browser, self.s, self.viewport, self.contexts = browser, server, viewport, []

    def open(self, username: str, admin: bool = False):
        ctx = self.browser.new_context(locale="zh-CN", viewport=VIEWPORTS[self.viewport])
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"native dialog: {d.message}")))
        page.set_default_timeout(15000)
        page.goto(self.s.base + "/")
        if admin:
            first_login_admin(page, username, self.s.admins[username])
        else:
            login(page, username, READY_PASSWORD)
            page.get_by_test_id("app-shell").wait_for()
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


def _admin_tab(page, tab: str) -> None:
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-tab-" + tab).click()


def _fits(page) -> None:
    """Nothing pushed off the screen sideways (the page itself never scrolls horizontally)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_account_by_application(own_server, browser, viewport):
    """张三 applies for 陈新's account; 王五 (unit head) and the HR officer approve; the sysadmin opens it
    and sees the one-time password once; 张三 sees 已开通; the new person must change the password."""
    s = own_server
    _staff(s, "zhangsan", "张三", "总行/信息科技部")
    _staff(s, "wangwu", "王五", "总行/信息科技部", "unit_head")
    _staff(s, "renshi", "任诗", "总行/人力资源部", "hr")
    pages = Pages(browser, s, viewport)
    try:
        emp = pages.open("zhangsan")
        emp.get_by_test_id("nav-me").click()
        emp.get_by_test_id("open-applications").click()
        emp.get_by_test_id("application-new").click()
        dialog = emp.get_by_test_id("dialog")
        dialog.get_by_test_id("application-name").fill("陈新")
        dialog.get_by_test_id("application-employee_no").fill("E900001")
        dialog.get_by_test_id("application-unit").select_option(label="总行/信息科技部")
        dialog.get_by_test_id("application-position").fill("开发工程师")
        dialog.get_by_test_id("application-fn-files").check()
        dialog.get_by_test_id("application-submit").click()
        expect(emp.get_by_test_id("toast")).to_contain_text("陈新")  # 申请已提交, or the event's 开户申请（陈新）
        row = emp.locator("[data-testid=application-row][data-employee-no=E900001]")
        expect(row.get_by_test_id("application-status")).to_have_text("待部门负责人审批")
        expect(row.get_by_test_id("application-approve")).to_have_count(0)
        _fits(emp)

        for username, done in (("wangwu", "待人力资源部审批"), ("renshi", "待系统管理员开通")):
            p = pages.open(username)
            _admin_tab(p, "applications")
            r = p.locator("[data-testid=application-row][data-employee-no=E900001]")
            expect(r).to_contain_text("陈新")
            r.get_by_test_id("application-approve").click()
            p.get_by_test_id("dialog-ok").click()
            p.get_by_test_id("applications-all").click()
            expect(r.get_by_test_id("application-status")).to_have_text(done)
            _fits(p)

        sysp = pages.open("sysadmin", admin=True)
        _admin_tab(sysp, "applications")
        r = sysp.locator("[data-testid=application-row][data-employee-no=E900001]")
        r.get_by_test_id("application-approve").click()
        sysp.get_by_test_id("application-username").fill("chenxin")
        sysp.get_by_test_id("dialog-ok").click()
        value = sysp.get_by_test_id("one-time-password-value")
        expect(value).to_be_visible()
        password = value.inner_text().strip()
        sysp.get_by_test_id("dialog-ok").click()
        expect(sysp.get_by_test_id("one-time-password-value")).to_have_count(0)
        _fits(sysp)

        emp.reload()
        emp.get_by_test_id("nav-me").click()
        emp.get_by_test_id("open-applications").click()
        row = emp.locator("[data-testid=application-row][data-employee-no=E900001]")
        expect(row.get_by_test_id("application-status")).to_have_text("已开通")
        expect(row.get_by_test_id("application-step")).to_have_count(3)
        with s.client() as c:
            r = c.post("/auth/login", json={"username": "chenxin", "password": password})
            assert r.status_code == 200 and r.json()["must_change_password"] and r.json()["user"]["hr_verified"]
        for p in [emp, sysp]:
            assert p.errors == []  # type: ignore[attr-defined]
    finally:
        pages.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_hr_tree_people_and_departure(own_server, browser, viewport):
    """HR adds, renames, moves and closes units, corrects a real name (the badge appears for colleagues),
    moves a person and records a 内退 with the exit pledge; the person's session ends."""
    s = own_server
    _staff(s, "renshi", "任诗", "总行/人力资源部", "hr")
    _staff(s, "zhangsan", "张叁", "总行/信息科技部")
    _staff(s, "lisi", "李四", "总行/信息科技部")
    pages = Pages(browser, s, viewport)
    try:
        colleague = pages.open("lisi")
        colleague.get_by_test_id("nav-me").click()
        expect(colleague.get_by_test_id("profile-name")).to_have_text("李四 ")
        expect(colleague.get_by_test_id("hr-verified")).to_have_count(0)  # shown only when true
        hr = pages.open("renshi")
        _admin_tab(hr, "org-units")
        tree = hr.get_by_test_id("org-units")
        expect(tree.locator("[data-testid=org-unit-row][data-path='总行/信息科技部']")).to_contain_text("2 人")
        # a new sub-unit under 总行, renamed, then closed
        tree.locator("[data-testid=org-unit-row][data-path='总行']").get_by_test_id("org-unit-child").click()
        hr.get_by_test_id("org-unit-name").fill("数据管理部")
        hr.get_by_test_id("dialog-ok").click()
        new_row = tree.locator("[data-testid=org-unit-row][data-path='总行/数据管理部']")
        expect(new_row).to_have_count(1)
        new_row.get_by_test_id("org-unit-rename").click()
        hr.get_by_test_id("org-unit-name").fill("数据中心")
        hr.get_by_test_id("dialog-ok").click()
        renamed = tree.locator("[data-testid=org-unit-row][data-path='总行/数据中心']")
        expect(renamed).to_have_count(1)
        renamed.get_by_test_id("org-unit-move").click()
        hr.get_by_test_id("org-unit-target").select_option(label="总行/信息科技部")
        hr.get_by_test_id("dialog-ok").click()
        moved = tree.locator("[data-testid=org-unit-row][data-path='总行/信息科技部/数据中心']")
        expect(moved).to_have_count(1)
        moved.get_by_test_id("org-unit-close").click()
        expect(hr.get_by_test_id("dialog")).to_contain_text("数据中心")
        hr.get_by_test_id("dialog-ok").click()
        expect(moved).to_have_count(0)
        hr.get_by_test_id("org-show-closed").check()
        expect(moved).to_have_attribute("data-closed", "true")
        _fits(hr)
        # people: correct 张叁 -> 张三 (audited, HR-verified), move 李四, record a 内退
        hr.get_by_test_id("admin-tab-org-people").click()
        person = hr.locator("[data-testid=org-person-row][data-username=zhangsan]")
        expect(person.get_by_test_id("hr-verified")).to_have_count(0)
        person.get_by_test_id("org-person-edit").click()
        hr.get_by_test_id("org-person-name").fill("张三")
        hr.get_by_test_id("dialog-ok").click()
        expect(person).to_contain_text("张三")
        expect(person.get_by_test_id("hr-verified")).to_be_visible()
        li = hr.locator("[data-testid=org-person-row][data-username=lisi]")
        li.get_by_test_id("org-person-edit").click()
        hr.get_by_test_id("org-person-unit").select_option(label="总行/人力资源部")
        hr.get_by_test_id("dialog-ok").click()
        expect(li).to_contain_text("总行/人力资源部")
        person.get_by_test_id("org-person-depart").click()
        hr.get_by_test_id("depart-reason").select_option("internal_retirement")
        hr.get_by_test_id("depart-pledged").check()
        hr.get_by_test_id("dialog-ok").click()
        expect(person.get_by_test_id("org-person-state")).to_have_text("离职 · 内退")
        expect(person.get_by_test_id("org-person-edit")).to_have_count(0)
        _fits(hr)
        # HR has no content screens and grants no roles
        for tab in ("users", "approvals", "archive", "audit"):
            expect(hr.get_by_test_id("admin-tab-" + tab)).to_have_count(0)
        # 李四, whose record HR has now confirmed, sees the badge and the new unit on their own page
        colleague.reload()
        colleague.get_by_test_id("nav-me").click()
        expect(colleague.get_by_test_id("hr-verified")).to_be_visible()
        expect(colleague.get_by_test_id("profile")).to_contain_text("总行/人力资源部")
        assert hr.errors == [] and colleague.errors == []  # type: ignore[attr-defined]
    finally:
        pages.close()
