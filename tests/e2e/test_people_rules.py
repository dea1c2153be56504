"""People's rules in the browser (issue 21 items 6-10): the rules accepted before anything else, the
公告 page and its banner and the publisher's counts, function switches (secadmin's screen; the composer
hides what is off), the account review, and phone numbers on cards only. Chromium at 1440×900 and
390×844."""

from __future__ import annotations

import os
from pathlib import Path

import pyotp
import pytest
from e2e_support import PASSWORD, READY_PASSWORD, login, login_ready
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("MIXUN_E2E_SCREENSHOTS")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / name), full_page=False)


def _fits(page) -> None:
    """Nothing pushed off the side of the screen."""
    over = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert over <= 1, f"page is {over}px wider than the screen"


def _admin_by_api(s, username: str) -> str:
    """An administrator's token: one-time password changed and two-factor enrolled through the API."""
    token = s.login(username, s.admins[username])
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": s.admins[username], "new_password": READY_PASSWORD}).status_code == 204
    token = s.login(username, READY_PASSWORD)
    with s.client(token) as c:
        secret = c.post("/auth/totp/enroll").json()["secret"]
        assert c.post("/auth/totp/verify", json={"otp": pyotp.TOTP(secret).now()}).status_code == 200
    return token


def _staff(s, username: str, name: str, role: str, unit: str) -> dict:
    s.cli("user", "add", "--username", username, "--name", name, "--unit", unit, "--password", PASSWORD, "--role", role)
    token = s.login(username, PASSWORD)
    with s.client(token) as c:
        assert c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD}).status_code == 204
    return {"username": username, "name": name, "password": READY_PASSWORD, "token": s.login(username, READY_PASSWORD)}


def test_rules_are_accepted_before_anything_else(own_server, make_page):
    """secadmin publishes the rules in the console (and must accept them too); an employee logging in sees
    only the rules until agreeing; on a phone the screen fits; the report shows who has not accepted."""
    s = own_server
    emp = s.add_user("张三", username="zhangsan")
    s.add_user("李四", username="lisi")
    sec = make_page(s.base)
    sec.set_viewport_size(DESKTOP)
    first_login_admin(sec, "secadmin", s.admins["secadmin"])
    sec.get_by_test_id("admin-tab-rules").click()
    sec.get_by_test_id("rules-text").fill("一、工作信息只在密讯内交流。\n\n二、**不得**传播涉密信息。")
    sec.get_by_test_id("rules-publish").click()
    sec.get_by_test_id("dialog-ok").click()
    # Its own next request (the console reloading the versions) is refused until it accepts: the rules
    # screen takes over.
    expect(sec.get_by_test_id("rules-screen")).to_be_visible()
    expect(sec.get_by_test_id("rules-accept")).to_be_disabled()
    sec.get_by_test_id("rules-agree").check()
    sec.get_by_test_id("rules-accept").click()
    expect(sec.get_by_test_id("admin-console")).to_be_visible()

    page = make_page(s.base)
    page.set_viewport_size(DESKTOP)
    login(page, emp["username"], emp["password"])
    expect(page.get_by_test_id("rules-screen")).to_be_visible()
    expect(page.get_by_test_id("rules-body")).to_contain_text("不得")
    expect(page.get_by_test_id("rules-body").locator("b")).to_have_text("不得")
    expect(page.get_by_test_id("app-shell")).to_have_count(0)
    _shot(page, "rules.png")
    page.get_by_test_id("rules-agree").check()
    page.get_by_test_id("rules-accept").click()
    expect(page.get_by_test_id("app-shell")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("app-shell")).to_be_visible()

    phone = make_page(s.base)
    phone.set_viewport_size(PHONE)
    login(phone, "lisi", READY_PASSWORD)
    expect(phone.get_by_test_id("rules-screen")).to_be_visible()
    phone.get_by_test_id("rules-agree").scroll_into_view_if_needed()
    expect(phone.get_by_test_id("rules-agree")).to_be_in_viewport()
    _fits(phone)

    sec.get_by_test_id("admin-tab-rules-report").click()
    expect(sec.get_by_test_id("rules-report-summary")).to_contain_text("未接受 3 人")  # lisi, sysadmin, auditor
    names = sec.get_by_test_id("rules-report-row").all_inner_texts()
    assert any("李四" in n for n in names) and not any("张三" in n for n in names)
    for p in (sec, page, phone):
        assert p.errors == [], p.errors


def test_announcements_banner_confirm_and_who_has_not_read(own_server, make_page):
    """HR publishes to one unit, asking for confirmation; its people see a banner, open the 公告 page and
    confirm (on a phone); a person of another unit sees nothing; HR sees the counts and who has not
    read, and reminds them."""
    s = own_server
    hr = _staff(s, "hr1", "孙人事", "hr", "总行/人力资源部")
    a = s.add_user("张三", username="zhangsan", unit="总行/信息技术部")
    s.add_user("王五", username="wangwu", unit="总行/信息技术部/开发一组")
    b = s.add_user("李四", username="lisi", unit="总行/零售业务部")
    pub = make_page(s.base)
    pub.set_viewport_size(DESKTOP)
    login_ready(pub, hr)
    pub.get_by_test_id("nav-admin").click()
    pub.get_by_test_id("admin-tab-announce").click()
    pub.get_by_test_id("announce-title").fill("系统升级通知")
    pub.get_by_test_id("announce-body").fill("本周六 22:00 至 24:00 系统升级。\n\n请**提前保存**工作。")
    pub.get_by_test_id("announce-to-units").check()
    pub.get_by_test_id("announce-units").select_option(label="总行/信息技术部")
    pub.get_by_test_id("announce-must-confirm").check()
    pub.get_by_test_id("announce-files").set_input_files(
        files=[{"name": "升级说明.txt", "mimeType": "text/plain", "buffer": "升级步骤：保存、退出。".encode()}])
    pub.get_by_test_id("announce-publish").click()
    row = pub.get_by_test_id("announce-row").first
    expect(row).to_contain_text("系统升级通知")
    expect(row.locator("td").first).to_contain_text("1")
    expect(row.locator("td").nth(2)).to_have_text("2")
    _shot(pub, "announce-admin.png")

    emp = make_page(s.base)
    emp.set_viewport_size(PHONE)
    login_ready(emp, a)
    expect(emp.get_by_test_id("announcement-banner")).to_contain_text("系统升级通知")
    _fits(emp)
    emp.get_by_test_id("announcement-banner-open").click()
    expect(emp.get_by_test_id("announcements-page")).to_be_visible()
    emp.get_by_test_id("announcement-open").first.click()
    expect(emp.get_by_test_id("announcement-body")).to_contain_text("提前保存")
    expect(emp.get_by_test_id("announcement-file")).to_contain_text("升级说明.txt")
    emp.get_by_test_id("announcement-confirm").click()
    expect(emp.get_by_test_id("announcement-confirm")).to_have_count(0)
    emp.get_by_test_id("nav-chats").click()
    expect(emp.get_by_test_id("announcement-banner")).to_have_count(0)
    _fits(emp)

    other = make_page(s.base)
    other.set_viewport_size(DESKTOP)
    login_ready(other, b)
    other.get_by_test_id("nav-announcements").click()
    expect(other.get_by_test_id("announcements-page")).to_contain_text("暂无公告")
    expect(other.get_by_test_id("announcement-banner")).to_have_count(0)

    pub.get_by_test_id("admin-tab-announce").click()
    pub.reload()
    pub.get_by_test_id("nav-admin").click()
    pub.get_by_test_id("admin-tab-announce").click()
    expect(pub.get_by_test_id("announce-read-count").first).to_have_text("1")
    pub.get_by_test_id("announce-unread").first.click()
    expect(pub.get_by_test_id("announce-who-row")).to_have_count(1)
    expect(pub.get_by_test_id("announce-who-row")).to_contain_text("王五")
    pub.get_by_test_id("dialog-cancel").click()
    pub.get_by_test_id("announce-remind").first.click()
    expect(pub.get_by_test_id("toast")).to_contain_text("已提醒 1 人")
    pub.set_viewport_size(PHONE)
    expect(pub.get_by_test_id("announce-form")).to_be_visible()
    _fits(pub)
    for p in (pub, emp, other):
        assert p.errors == [], p.errors


def test_function_switches_screen_and_the_composer_explains(own_server, make_page):
    """secadmin switches file sending off for a unit in the console; that unit's employee finds no file
    buttons but a note naming the switch, and the new-group button explains it is off. Phone numbers
    show on a person's card only."""
    s = own_server
    emp = s.add_user("张三", username="zhangsan", unit="总行/信息技术部")
    s.add_user("李四", username="lisi", unit="总行/信息技术部", phone="13800138000")
    sec = make_page(s.base)
    sec.set_viewport_size(DESKTOP)
    first_login_admin(sec, "secadmin", s.admins["secadmin"])
    sec.get_by_test_id("admin-tab-functions").click()
    sec.get_by_test_id("function-unit").select_option(label="总行/信息技术部")
    sec.get_by_test_id("function-name").select_option("send_files")
    sec.get_by_test_id("function-allowed").select_option("off")
    sec.get_by_test_id("function-save").click()
    sec.get_by_test_id("function-name").select_option("create_groups")
    sec.get_by_test_id("function-save").click()
    expect(sec.get_by_test_id("function-rule-row")).to_have_count(2)
    expect(sec.get_by_test_id("function-rules")).to_contain_text("发送文件和图片")
    _shot(sec, "functions-admin.png")
    sec.set_viewport_size(PHONE)
    _fits(sec)

    page = make_page(s.base)
    page.set_viewport_size(DESKTOP)
    login_ready(page, emp)
    page.get_by_test_id("directory-search").fill("李四")
    result = page.get_by_test_id("directory-result").filter(has_text="李四").first
    expect(result).to_be_visible()
    expect(result).not_to_contain_text("13800138000")
    result.click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    expect(page.get_by_test_id("file-button")).to_have_count(0)
    expect(page.get_by_test_id("files-off")).to_contain_text("发送文件和图片")
    page.get_by_test_id("new-group").click()
    expect(page.get_by_test_id("toast")).to_contain_text("创建群聊")
    page.set_viewport_size(PHONE)
    expect(page.get_by_test_id("files-off")).to_be_visible()
    _fits(page)
    # The card (the org tree) shows the phone.
    page.set_viewport_size(DESKTOP)
    page.get_by_test_id("nav-contacts").click()
    page.get_by_test_id("org-unit").filter(has_text="信息技术部").click()
    page.get_by_test_id("org-person").filter(has_text="李四").click()
    expect(page.get_by_test_id("card-phone")).to_have_text("13800138000")
    for p in (sec, page):
        assert p.errors == [], p.errors


def test_account_review_screen(own_server, make_page):
    """sysadmin runs the account review: the findings (administrators without two-factor yet) are listed
    by kind, filtered, and exported as CSV; the screen fits a phone."""
    s = own_server
    page = make_page(s.base)
    page.set_viewport_size(DESKTOP)
    first_login_admin(page, "sysadmin", s.admins["sysadmin"])
    page.get_by_test_id("admin-tab-account-review").click()
    page.get_by_test_id("review-run").click()
    expect(page.get_by_test_id("review-kind-no_two_factor")).to_contain_text("2")  # secadmin and auditor
    page.get_by_test_id("review-kind-no_two_factor").click()
    expect(page.get_by_test_id("review-finding")).to_have_count(2)
    expect(page.get_by_test_id("review-finding").first).to_contain_text("未启用双因素认证")
    with page.expect_download() as dl:
        page.get_by_test_id("review-csv").click()
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert "secadmin" in text and "auditor" in text
    _shot(page, "account-review.png")
    page.set_viewport_size(PHONE)
    expect(page.get_by_test_id("review-run")).to_be_visible()
    _fits(page)
    assert page.errors == [], page.errors
