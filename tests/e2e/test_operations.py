"""Operations in the browser (issue 22), at 1440×900 and 390×844: an employee files a fault report with a
screenshot from 我; the sysadmin finds it in 故障工单 with its 24-hour clock, takes it, answers and
resolves it; the employee sees the state and the answer; the sysadmin's 运行监控 shows the alerts; the
inspection report downloads from the console."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from e2e_support import login_ready
from PIL import Image
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = os.environ.get("MIXUN_E2E_SCREENSHOTS")


def _shot(page, name: str, viewport: str) -> None:
    if SHOTS and viewport == "desktop":
        page.wait_for_timeout(3500)  # the toast fades first
        page.screenshot(path=str(Path(SHOTS) / name), full_page=False)


def _no_overflow(page) -> None:
    """Nothing of the console is pushed off the side of the screen."""
    width = page.evaluate("() => document.documentElement.clientWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_fault_report_from_employee_to_sysadmin_and_back(own_server, browser, viewport, tmp_path):
    s = own_server
    emp = s.add_user("张三")
    shot = tmp_path / "屏幕截图.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 40), (220, 40, 40)).save(buf, "PNG")
    shot.write_bytes(buf.getvalue())
    contexts = []

    def page_for():
        ctx = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport], accept_downloads=True)
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"native dialog: {d.message}")))
        page.set_default_timeout(15000)
        page.goto(s.base + "/")
        return page

    try:
        me = page_for()
        login_ready(me, emp)
        me.get_by_test_id("nav-me").click()
        me.get_by_test_id("fault-new").click()
        me.get_by_test_id("fault-title").fill("文件发送一直转圈")
        me.get_by_test_id("fault-location").fill("总行 3 楼 / 网页版")
        me.get_by_test_id("fault-description").fill("上传 PDF 后进度停在 90%")
        me.get_by_test_id("fault-file").set_input_files(str(shot))
        _shot(me, "fault-report-form.png", viewport)
        me.get_by_test_id("fault-submit").click()
        row = me.get_by_test_id("fault-row").filter(has_text="文件发送一直转圈")
        expect(row.get_by_test_id("fault-status")).to_have_text("待处理")
        expect(row).to_contain_text("剩余 23 小时")

        admin = page_for()
        first_login_admin(admin, "sysadmin", s.admins["sysadmin"])
        admin.get_by_test_id("admin-tab-faults").click()
        qrow = admin.get_by_test_id("fault-queue-row").filter(has_text="文件发送一直转圈")
        expect(qrow).to_contain_text("张三")
        expect(qrow.get_by_test_id("fault-clock")).to_contain_text("剩余 23 小时")
        if viewport == "desktop":
            _no_overflow(admin)
        _shot(admin, "admin-faults.png", viewport)
        qrow.get_by_test_id("fault-open").click()
        detail = admin.get_by_test_id("dialog")
        expect(detail.get_by_test_id("fault-shot")).to_be_visible()
        assert detail.get_by_test_id("fault-shot").evaluate("img => img.naturalWidth") == 64
        detail.get_by_test_id("fault-assign").click()
        expect(detail.get_by_test_id("fault-status")).to_have_text("处理中")
        detail.get_by_test_id("fault-reply-text").fill("已复现，正在排查网关")
        detail.get_by_test_id("fault-reply-send").click()
        expect(detail.get_by_test_id("fault-reply")).to_have_count(1)
        detail.get_by_test_id("fault-resolution").fill("网关超时已调大，请重试")
        detail.get_by_test_id("fault-resolve").click()
        expect(detail.get_by_test_id("fault-status")).to_have_text("已解决")
        expect(detail.get_by_test_id("fault-clock")).to_have_text("按时解决")

        # The reporter sees the state and the answers.
        me.reload()
        me.get_by_test_id("nav-me").click()
        row = me.get_by_test_id("fault-row").filter(has_text="文件发送一直转圈")
        expect(row.get_by_test_id("fault-status")).to_have_text("已解决")
        row.get_by_test_id("fault-open").click()
        mine = me.get_by_test_id("dialog")
        expect(mine.get_by_test_id("fault-reply")).to_contain_text("已复现，正在排查网关")
        expect(mine.get_by_test_id("fault-resolution-text")).to_have_text("网关超时已调大，请重试")
        expect(mine.get_by_test_id("fault-reply-text")).to_have_count(0)  # resolved: no more answers

        # 运行监控: the alerts as they stand (no clamd here: the scanner alert), and the dead letters.
        admin.keyboard.press("Escape")
        admin.get_by_test_id("admin-tab-ops").click()
        expect(admin.get_by_test_id("admin-ops")).to_be_visible()
        expect(admin.get_by_test_id("ops-alerts").or_(admin.get_by_test_id("ops-alerts-none"))).to_be_visible()
        if not Path("/run/clamav/clamd.ctl").exists():
            expect(admin.locator('[data-testid="ops-alert"][data-code="scanner_down"]')).to_contain_text("病毒扫描服务不可用")
        _shot(admin, "admin-ops.png", viewport)

        # 巡检报告: downloaded from the console.
        admin.get_by_test_id("admin-tab-inspection").click()
        with admin.expect_download() as dl:
            admin.get_by_test_id("report-download").click()
        path = dl.value.path()
        page_html = Path(path).read_text(encoding="utf-8")
        assert "密讯安全巡检报告" in page_html and "<svg" in page_html
        _shot(admin, "admin-inspection.png", viewport)
        if SHOTS and viewport == "desktop":
            blank = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
            contexts.append(blank)
            report = blank.new_page()  # not under the app's CSP: the page's own styles apply, as on disk
            report.set_content(page_html)
            report.screenshot(path=str(Path(SHOTS) / "inspection-report.png"), full_page=False)
        assert not me.errors and not admin.errors, (me.errors, admin.errors)
    finally:
        for c in contexts:
            c.close()
