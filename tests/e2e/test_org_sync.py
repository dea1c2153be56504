"""The directory sync on HR's console (issue 21 item 2), Chromium at 1440×900 and 390×844: a real slapd,
`mixun org ldap-sync` run from the shell against it, and HR's 机构 tab showing the last run in Chinese
(when, counts), then a failed run (wrong bind password) shown as failed, its reason in Chinese, the
password nowhere on the page."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import expect
from test_org import VIEWPORTS, Pages, _admin_tab, _fits, _staff

from tests.integration.test_ldap_sync import ADMIN, BASE, PASSWORD, SLAPD, TREE, Slapd

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_hr_sees_the_last_directory_sync(own_server, browser, viewport, tmp_path):
    if not (os.path.exists(SLAPD) and shutil.which("ldapadd")):
        pytest.skip("slapd / ldap-utils not installed (make install-browser)")
    s = own_server
    _staff(s, "renshi", "任诗", "总行/人力资源部", "hr")
    directory = Slapd(tmp_path / "slapd")
    pages = Pages(browser, s, viewport)
    try:
        directory.ldap("ldapadd", stdin=TREE)
        hr = pages.open("renshi")
        _admin_tab(hr, "org-units")
        expect(hr.get_by_test_id("ldap-sync-off")).to_contain_text("未配置")
        s.env.update({"MIXUN_LDAP_URL": directory.url, "MIXUN_LDAP_BIND_DN": ADMIN, "MIXUN_LDAP_PASSWORD": PASSWORD,
                      "MIXUN_LDAP_BASE_DN": BASE, "MIXUN_LDAP_ATTR_STATUS": "employeeType"})
        out = s.cli("org", "ldap-sync")
        assert "created=2" in out
        hr.reload()
        _admin_tab(hr, "org-units")
        last = hr.get_by_test_id("ldap-sync-last")
        expect(last).to_have_attribute("data-ok", "true")
        expect(last).to_contain_text("成功")
        expect(hr.get_by_test_id("ldap-sync-counts")).to_contain_text("新建 2 人")
        expect(hr.locator("[data-testid=org-unit-row][data-path='总行/信息科技部']")).to_contain_text("2 人")
        _fits(hr)
        s.env["MIXUN_LDAP_PASSWORD"] = "Wrong-" + PASSWORD
        assert "nothing was changed" in s.cli("org", "ldap-sync", check=False)
        hr.reload()
        _admin_tab(hr, "org-units")
        expect(hr.get_by_test_id("ldap-sync-last")).to_have_attribute("data-ok", "false")
        expect(hr.get_by_test_id("ldap-sync-last")).to_contain_text("失败，未做任何更改")
        expect(hr.get_by_test_id("ldap-sync-errors")).to_contain_text("无法读取目录")
        assert PASSWORD not in hr.content()
        _fits(hr)
        assert not hr.errors  # type: ignore[attr-defined]
    finally:
        pages.close()
        directory.stop()
