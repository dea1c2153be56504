"""A group with another unit waiting for the unit head, in the browser (issue 21 item 8), Chromium at
1440×900 and 390×844: secadmin's rule says such groups need approval; 张三 creates one and is told it
waits; under 我的 → 申请 he sees it waiting for 主任; 主任 rejects one with a reason and approves another;
张三 sees both outcomes, and 李四 (the other unit) finds the approved group in his list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_org import VIEWPORTS, Pages, _fits, _staff
from test_people_rules import _admin_by_api

pytestmark = pytest.mark.e2e


def _new_group(page, name: str, member: str) -> None:
    page.get_by_test_id("new-group").click()
    page.get_by_test_id("group-name").fill(name)
    page.get_by_test_id("group-member-search").fill(member)
    page.get_by_test_id("group-member-option").filter(has_text=member).first.click()
    page.get_by_test_id("group-create").click()
    expect(page.get_by_test_id("new-group-dialog")).to_have_count(0)


def _requests(page):
    page.get_by_test_id("nav-me").click()
    page.get_by_test_id("open-applications").click()
    return page.get_by_test_id("group-requests")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_cross_unit_group_approved_by_the_unit_head(own_server, browser, viewport):
    s = own_server
    _staff(s, "zhangsan", "张三", "总行/信息科技部")
    _staff(s, "zhuren", "主任", "总行/信息科技部", "unit_head")
    _staff(s, "lisi", "李四", "总行/零售业务部")
    sec = _admin_by_api(s, "secadmin")
    with s.client(sec) as c:
        unit = next(u["id"] for u in c.get("/directory/units").json()["units"] if u["path"] == "总行/信息科技部")
        r = c.put("/admin/function-rules", json={"scope": "unit", "target_id": unit,
                                                 "function": "cross_unit_groups_unreviewed", "allowed": False})
        assert r.status_code == 200, r.text
    pages = Pages(browser, s, viewport)
    try:
        zs = pages.open("zhangsan")
        _new_group(zs, "跨部门项目", "李四")
        expect(zs.locator(".toast, [role=status]").filter(has_text="单位负责人审批").first).to_be_visible()
        _new_group(zs, "另一个群", "李四")
        mine = _requests(zs)
        rows = mine.get_by_test_id("group-request-row")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-status", "pending")
        expect(rows.first.get_by_test_id("group-request-waiting")).to_contain_text("等待 主任 审批")
        _fits(zs)
        head = pages.open("zhuren")
        todo = _requests(head)
        head.get_by_test_id("group-requests-todo").click()
        expect(todo.get_by_test_id("group-request-row")).to_have_count(2)
        todo.get_by_test_id("group-request-row").filter(has_text="另一个群").get_by_test_id("group-request-reject").click()
        head.get_by_test_id("group-request-reject-reason").fill("与项目无关")
        head.get_by_test_id("dialog-ok").click()
        expect(todo.get_by_test_id("group-request-row")).to_have_count(1)
        todo.get_by_test_id("group-request-row").filter(has_text="跨部门项目").get_by_test_id("group-request-approve").click()
        expect(todo.get_by_test_id("group-request-row")).to_have_count(0)
        _fits(head)
        zs.reload()
        mine = _requests(zs)
        approved = mine.locator("[data-testid=group-request-row][data-status=approved]")
        expect(approved).to_contain_text("跨部门项目")
        expect(approved.get_by_test_id("group-request-status")).to_have_text("已批准，群已建立")
        rejected = mine.locator("[data-testid=group-request-row][data-status=rejected]")
        expect(rejected.get_by_test_id("group-request-reason")).to_contain_text("与项目无关")
        li = pages.open("lisi")
        expect(li.get_by_test_id("conversation-item").filter(has_text="跨部门项目")).to_have_count(1)
        for p in (zs, head, li):
            assert not p.errors  # type: ignore[attr-defined]
    finally:
        pages.close()
