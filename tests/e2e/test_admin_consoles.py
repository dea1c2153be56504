"""The security administrator's DLP screens and the auditor's verification, in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest
from e2e_support import login, login_ready, open_direct
from playwright.sync_api import expect
from test_admin import NEW_PASSWORD, first_login_admin

pytestmark = pytest.mark.e2e

TERM = "刷单返利群"


def first_login_employee_2fa(page, username: str, one_time: str) -> None:
    """First login of a staff member with a two-factor role: password change, enrolment, then the app."""
    login(page, username, one_time)
    page.get_by_test_id("password-old").fill(one_time)
    page.get_by_test_id("password-new").fill(NEW_PASSWORD)
    page.get_by_test_id("password-submit").click()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("totp-submit").click()
    page.get_by_test_id("totp-done").click()
    page.get_by_test_id("app-shell").wait_for()


def test_secadmin_dlp_console_lexicon_blocks_employee(own_server, make_page):
    s = own_server
    sec = make_page(s.base)
    first_login_admin(sec, "secadmin", s.admins["secadmin"])
    # Only the secadmin's screens, and the review queue.
    for tab in ("dlp-policy", "dlp-lexicons", "dlp", "review", "alerts", "users", "approvals"):  # users: 授权
        expect(sec.get_by_test_id(f"admin-tab-{tab}")).to_be_visible()
    for tab in ("audit", "archive", "holds", "retention", "exports"):
        expect(sec.get_by_test_id(f"admin-tab-{tab}")).to_have_count(0)

    # The policy: the default rules in order; a bad threshold is refused with the server's reason.
    sec.get_by_test_id("admin-tab-dlp-policy").click()
    rows = sec.get_by_test_id("dlp-rule-row")
    expect(rows).to_have_count(7)
    expect(rows.first).to_contain_text("密级标识")
    sec.get_by_test_id("dlp-threshold-count").first.fill("0")
    sec.get_by_test_id("dlp-policy-save").click()
    expect(sec.get_by_test_id("dlp-policy-error")).to_contain_text("threshold")
    sec.get_by_test_id("dlp-threshold-count").first.fill("5")
    # Reorder: the first rule goes down one place; saved with a note, it stays there after a reload.
    rows.first.get_by_test_id("dlp-rule-down").click()
    expect(rows.nth(1)).to_contain_text("密级标识")
    sec.get_by_test_id("dlp-policy-note").fill("e2e: reorder")
    sec.get_by_test_id("dlp-policy-save").click()
    expect(sec.get_by_test_id("dlp-policy-error")).to_have_count(0)
    sec.get_by_test_id("admin-tab-dlp").click()
    sec.get_by_test_id("admin-tab-dlp-policy").click()
    expect(sec.get_by_test_id("dlp-rule-row").nth(1)).to_contain_text("密级标识")

    # A lexicon term, added in the console.
    sec.get_by_test_id("admin-tab-dlp-lexicons").click()
    sec.get_by_test_id("lexicon-category").select_option("fraud")
    sec.get_by_test_id("lexicon-terms").fill(TERM)
    sec.get_by_test_id("lexicon-add").click()
    expect(sec.locator(f"[data-testid=lexicon-row][data-term={TERM}]")).to_have_count(1)

    # "Try a text": blocked, with the finding listed.
    sec.get_by_test_id("admin-tab-dlp-policy").click()
    sec.get_by_test_id("dlp-try-text").fill(f"快来加入{TERM}，日赚三百")
    sec.get_by_test_id("dlp-try-submit").click()
    result = sec.get_by_test_id("dlp-try-result")
    expect(result).to_have_attribute("data-action", "block")
    expect(result.get_by_test_id("dlp-try-finding")).to_contain_text("违禁内容")
    expect(result.get_by_test_id("dlp-try-masked")).to_contain_text("日赚三百")

    # An employee's message containing the term is refused in the chat.
    sender = s.add_user("郑员工")
    s.add_user("钱同事")
    emp = make_page(s.base)
    login_ready(emp, sender)
    open_direct(emp, "钱同事")
    emp.get_by_test_id("composer").fill(f"有个{TERM}，一起吗")
    emp.get_by_test_id("composer").press("Enter")
    dialog = emp.get_by_test_id("dlp-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("dlp-finding")).to_contain_text("违禁内容")
    expect(dialog.get_by_test_id("dlp-confirm")).to_have_count(0)

    # The hit shows up for the secadmin, by person.
    sec.get_by_test_id("admin-tab-dlp").click()
    expect(sec.get_by_test_id("dlp-person-row").filter(has_text="郑员工")).to_have_count(1)
    expect(sec.get_by_test_id("dlp-hit-row").filter(has_text="郑员工").first).to_contain_text("违禁内容")

    # Removing the term lets the same text through "try a text".
    sec.get_by_test_id("admin-tab-dlp-lexicons").click()
    sec.locator(f"[data-testid=lexicon-row][data-term={TERM}]").get_by_test_id("lexicon-remove").click()
    expect(sec.locator(f"[data-testid=lexicon-row][data-term={TERM}]")).to_have_count(0)
    assert sec.errors == [] and emp.errors == [], (sec.errors, emp.errors)


def test_auditor_verifies_filters_and_exports_the_trail(own_server, make_page):
    s = own_server
    aud = make_page(s.base)
    first_login_admin(aud, "auditor", s.admins["auditor"])
    for tab in ("dlp-policy", "dlp-lexicons", "dlp", "review", "holds", "retention", "exports", "users"):
        expect(aud.get_by_test_id(f"admin-tab-{tab}")).to_have_count(0)
    aud.get_by_test_id("admin-tab-audit").click()
    aud.get_by_test_id("audit-verify").click()
    result = aud.get_by_test_id("audit-verify-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text("审计日志完整")

    # Filter by kind of action (审计): the rows are the audit trail's own, labelled in Chinese.
    aud.get_by_test_id("audit-action").select_option("audit.")
    aud.get_by_test_id("audit-search").click()
    rows = aud.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    # The unfiltered rows stay on screen until the filtered answer replaces them: wait for it.
    actions: list[str] = []
    for _ in range(100):
        actions = rows.evaluate_all("rs => rs.map(r => r.dataset.action)")
        if actions and all(a.startswith("audit.") for a in actions):
            break
        aud.wait_for_timeout(100)
    assert actions and all(a.startswith("audit.") for a in actions), actions
    expect(rows.filter(has_text="校验审计日志")).not_to_have_count(0)
    # Filter by actor (the auditor themself), by clicking the actor.
    aud.get_by_test_id("audit-actor-filter").first.click()
    expect(aud.get_by_test_id("audit-person")).to_have_value("auditor")

    # Export: a JSON Lines download of the filtered trail.
    with aud.expect_download() as dl:
        aud.get_by_test_id("audit-export").click()
    lines = [json.loads(x) for x in Path(dl.value.path()).read_text(encoding="utf-8").splitlines() if x]
    assert lines and all(x["action"].startswith("audit.") for x in lines), lines[:3]
    assert aud.errors == [], aud.errors


def test_compliance_holds_retention_and_exports(own_server, make_page):
    s = own_server
    s.cli(
        "user",
        "add",
        "--username",
        "hegui",
        "--name",
        "何规",
        "--unit",
        "总行/合规部",
        "--password",
        "Init#Pass2026",
        "--role",
        "compliance",
    )
    staff = s.add_user("冯客户经理", username="fengkj")
    page = make_page(s.base)
    first_login_employee_2fa(page, "hegui", "Init#Pass2026")
    page.get_by_test_id("nav-admin").click()
    for tab in ("archive", "review", "holds", "retention", "exports"):
        expect(page.get_by_test_id(f"admin-tab-{tab}")).to_be_visible()
    for tab in ("dlp-policy", "dlp-lexicons", "dlp", "audit", "users"):
        expect(page.get_by_test_id(f"admin-tab-{tab}")).to_have_count(0)

    # Legal hold: placed on a person by username, with a reason; releasing it files a request that a
    # second compliance officer must approve, so the hold stays active.
    page.get_by_test_id("admin-tab-holds").click()
    page.get_by_test_id("hold-user").fill("fengkj")
    page.get_by_test_id("hold-reason").fill("监管问询 2026-17")
    page.get_by_test_id("hold-create").click()
    row = page.get_by_test_id("hold-row").first
    expect(row).to_have_attribute("data-active", "true")
    expect(row).to_contain_text(f"冯客户经理（{staff['username']}）")
    expect(row).to_contain_text("监管问询 2026-17")
    row.get_by_test_id("hold-release").click()
    page.get_by_test_id("hold-release-reason").fill("问询结束")
    page.get_by_test_id("hold-release-confirm").click()
    expect(page.get_by_test_id("hold-release-dialog")).to_have_count(0)
    expect(page.get_by_test_id("hold-row").first).to_have_attribute("data-active", "true")

    # Retention: the audit floor is refused with the server's reason; a valid policy is listed.
    page.get_by_test_id("admin-tab-retention").click()
    page.get_by_test_id("retention-scope").fill("audit")
    page.get_by_test_id("retention-messages-days").fill("90")
    page.get_by_test_id("retention-set").click()
    expect(page.get_by_test_id("retention-error")).to_contain_text("180")
    page.get_by_test_id("retention-scope").fill("kind:group")
    page.get_by_test_id("retention-messages-days").fill("2000")
    page.get_by_test_id("retention-set").click()
    expect(page.locator("[data-testid=retention-policy-row][data-scope='kind:group']")).to_contain_text(
        "2000"
    )
    page.get_by_test_id("retention-dry-run").click()
    expect(page.get_by_test_id("retention-result")).to_have_attribute("data-dry-run", "true")

    # Export with a filter.
    page.get_by_test_id("admin-tab-exports").click()
    page.get_by_test_id("export-category").select_option("audit_sampling")
    page.get_by_test_id("export-reason").fill("稽核抽查：客户经理往来记录")
    page.get_by_test_id("export-user").fill("fengkj")
    page.get_by_test_id("export-create").click()
    expect(page.get_by_test_id("export-row")).to_have_count(1)
    expect(page.get_by_test_id("export-row")).to_contain_text("fengkj")
    assert page.errors == [], page.errors
