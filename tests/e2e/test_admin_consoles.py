"""The security administrator's DLP screens and the auditor's verification, in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_support import login_ready, open_direct
from playwright.sync_api import expect
from test_admin import first_login_admin

pytestmark = pytest.mark.e2e

TERM = "刷单返利群"


def test_secadmin_dlp_console_lexicon_blocks_employee(own_server, make_page):
    s = own_server
    sec = make_page(s.base)
    first_login_admin(sec, "secadmin", s.admins["secadmin"])
    # Only the secadmin's screens, and the review queue.
    for tab in ("dlp-policy", "dlp-lexicons", "dlp", "review", "alerts"):
        expect(sec.get_by_test_id(f"admin-tab-{tab}")).to_be_visible()
    for tab in ("users", "audit", "archive", "holds", "retention", "exports"):
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

    # Filter by action.
    aud.get_by_test_id("audit-action").fill("audit.verified")
    aud.get_by_test_id("audit-search").click()
    rows = aud.get_by_test_id("audit-row")
    expect(rows.first).to_have_attribute("data-action", "audit.verified")
    for a in rows.evaluate_all("rs => rs.map(r => r.dataset.action)"):
        assert a.startswith("audit.verified"), a
    # Filter by actor (the auditor themself), by clicking the actor.
    aud.get_by_test_id("audit-actor-filter").first.click()
    expect(aud.get_by_test_id("audit-actor")).not_to_have_value("")

    # Export: a JSON Lines download of the filtered trail.
    with aud.expect_download() as dl:
        aud.get_by_test_id("audit-export").click()
    lines = [json.loads(x) for x in Path(dl.value.path()).read_text(encoding="utf-8").splitlines() if x]
    assert lines and all(x["action"].startswith("audit.verified") for x in lines), lines[:3]
    assert aud.errors == [], aud.errors
