"""Retention and legal holds (C6), and the review queue (C4, C7, D8)."""

from __future__ import annotations

import argparse
import io
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from mixun.cli.archive import cmd_audit_verify
from mixun.services import retention
from mixun.services.runtime import DlpOutcome
from tests.archive.conftest import cli_ctx, group, officer, raw, send
from tests.conftest import Env

LATER = datetime.now(UTC) + timedelta(days=6 * 365)


def _count(env: Env, sql: str) -> int:
    with env.rt.db.read() as s:
        return int(s.execute(text(sql)).scalar_one())


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def _history(env: Env) -> tuple[int, str, int, str, int, int]:
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    send(env, ta, conv, "利率调整通知")
    r = env.client.post(f"/api/v1/conversations/{conv}/images", headers=env.h(ta),
                        files={"file": ("a.png", _png(), "image/png")})
    assert r.status_code == 201, r.text
    att = int(r.json()["attachments"][0]["id"])
    return a, ta, b, tb, conv, att


def _blob_count(env: Env) -> int:
    root = env.settings.blob_dir
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_retention_leaves_no_postings_of_an_indexing_run_in_flight(env: Env) -> None:
    """An indexing run that read the versions before retention destroyed them writes its postings
    either before retention drops them or not at all: none of a destroyed message's words stay."""
    from sqlalchemy import delete, select

    from mixun.db.models import MessageVersion
    from mixun.db.models_archive import SearchTerm
    from mixun.services.archive import _state, index_rows

    _history(env)
    result: dict[str, Any] = {}
    with env.rt.db.write() as s:  # an indexing run (re-indexing what it read): it holds the index state
        _state(s, lock=True)
        rows = [(r[0], r[1]) for r in s.execute(select(MessageVersion.id, MessageVersion.text)).all()]
        s.execute(delete(SearchTerm).where(SearchTerm.version_id.in_([vid for vid, _t in rows])))
        run = threading.Thread(target=lambda: result.update(retention.run(cli_ctx(env), now=LATER)))
        run.start()
        time.sleep(0.5)  # retention waits for the index state meanwhile (without that, it is done by now)
        index_rows(s, rows)
    run.join(30)
    assert result["counts"]["messages"] == 2
    assert _count(env, "SELECT count(*) FROM archive_search_terms") == 0


def test_expired_messages_and_files_are_destroyed(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """After the retention period the run destroys messages, versions, file keys and blobs, and records it."""
    _history(env)
    assert _blob_count(env) == 2
    result = retention.run(cli_ctx(env), now=LATER)
    assert result["counts"]["messages"] == 2 and result["counts"]["attachments"] == 1
    assert _count(env, "SELECT count(*) FROM message_versions") == 0
    assert _count(env, "SELECT count(*) FROM attachments") == 0
    assert _count(env, "SELECT count(*) FROM archive_search_terms") == 0
    assert _blob_count(env) == 0
    assert _count(env, "SELECT count(*) FROM retention_destroyed WHERE kind = 'message'") == 2
    assert _count(env, "SELECT count(*) FROM audit_log WHERE action = 'retention.ran'") == 1
    # Audit records older than three years went too; the signed checkpoint keeps the trail verifiable.
    assert _count(env, "SELECT count(*) FROM audit_checkpoints") == 1
    assert cmd_audit_verify(argparse.Namespace(), env.settings) == 0
    assert "anchored at signed checkpoint" in capsys.readouterr().out


def test_nothing_expires_early_and_dry_run_destroys_nothing(env: Env) -> None:
    """Within the five-year default nothing is destroyed; a dry run only counts."""
    _history(env)
    assert retention.run(cli_ctx(env), now=datetime.now(UTC) + timedelta(days=4 * 365))["counts"]["messages"] == 0
    seen: list[tuple[int, int]] = []
    assert retention.run(cli_ctx(env), now=LATER, dry_run=True,
                         progress=lambda done, total: seen.append((done, total)))["counts"]["messages"] == 2
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)  # what the CLI's progress bar is shown
    assert _count(env, "SELECT count(*) FROM message_versions") == 2 and _blob_count(env) == 2


def test_legal_hold_keeps_content_until_released(env: Env) -> None:
    """A hold on a person keeps their messages through retention; after release they are destroyed."""
    a, _, _, _, _, _ = _history(env)
    _, tok = officer(env)
    h = env.h(tok)
    r = env.client.post("/api/v1/compliance/holds", headers=h, json={"user_id": a, "reason": "诉讼保全 2026-17"})
    assert r.status_code == 201, r.text
    result = retention.run(cli_ctx(env), now=LATER)
    assert result["counts"]["messages"] == 0 and result["counts"]["held"] == 2
    assert _count(env, "SELECT count(*) FROM message_versions") == 2 and _blob_count(env) == 2
    rel = env.client.post(f"/api/v1/compliance/holds/{r.json()['id']}/release", headers=h, json={"reason": "结案"})
    assert rel.status_code == 202  # a second compliance officer approves the release, then it is run
    _, tok2 = officer(env, "hegui2", "王合规")
    req = rel.json()["request"]["id"]
    assert env.client.post(f"/api/v1/compliance/access-requests/{req}/approve", headers=env.h(tok2),
                           json={}).status_code == 200
    assert env.client.post(f"/api/v1/compliance/access-requests/{req}/run", headers=h, json={}).status_code == 200
    # Checked before the run: six years on, the run trims every audit row but the newest.
    assert _count(env, "SELECT count(*) FROM audit_log WHERE action = 'legal_hold.released'") == 1
    assert retention.run(cli_ctx(env), now=LATER)["counts"]["messages"] == 2
    assert _count(env, "SELECT count(*) FROM message_versions") == 0


def test_only_compliance_places_holds_and_audit_retention_has_a_floor(env: Env) -> None:
    """Employees cannot place holds; the audit trail's retention cannot be set below 180 days."""
    a, ta = env.person("zhangsan", "张三")
    assert env.client.post("/api/v1/compliance/holds", headers=env.h(ta),
                           json={"user_id": a, "reason": "x"}).status_code == 403
    _, tok = officer(env)
    h = env.h(tok)
    assert env.client.post("/api/v1/compliance/holds", headers=h, json={"user_id": a}).status_code == 422
    put = "/api/v1/compliance/retention/policies"
    assert env.client.put(put, headers=h, json={"scope": "audit", "messages_days": 179,
                                                "files_days": 179}).status_code == 422
    shorter = env.client.put(put, headers=h, json={"scope": "kind:direct", "messages_days": 400, "files_days": 30})
    assert shorter.status_code == 202  # shorter than the default: a second compliance officer approves
    _, tok2 = officer(env, "hegui2", "王合规")
    req = shorter.json()["request"]["id"]
    assert env.client.post(f"/api/v1/compliance/access-requests/{req}/approve", headers=env.h(tok2),
                           json={}).status_code == 200
    assert env.client.post(f"/api/v1/compliance/access-requests/{req}/run", headers=h, json={}).status_code == 200
    scopes = {p["scope"]: p for p in env.client.get(put, headers=h).json()["policies"]}
    assert scopes["kind:direct"]["messages_days"] == 400 and scopes["default"]["messages_days"] == 5 * 365


def test_unit_policy_shortens_retention_for_that_unit(env: Env) -> None:
    """A unit's shorter policy destroys only that unit's messages."""
    _history(env)  # 总行/信息科技部 by default
    retention.set_policy(cli_ctx(env), "unit:总行/信息科技部", 30, 30)
    result = retention.run(cli_ctx(env), now=datetime.now(UTC) + timedelta(days=31))
    assert result["counts"]["messages"] == 2


def _hold_hook(ctx: Any, text_: str, channel: str, confirm: bool, unit: str, target: str) -> DlpOutcome:
    if "客户身份证" in text_:
        return DlpOutcome(action="hold", deliver_text=text_, findings=[{"detector": "cn_id_card", "action": "hold", "masked": "110***********1234"}],
                          audit_summary=[{"detector": "cn_id_card"}])
    return DlpOutcome(deliver_text=text_)


def test_held_message_is_delivered_only_after_approval(env: Env) -> None:
    """A DLP-held message reaches the other members only when compliance approves it."""
    env.rt.dlp = _hold_hook
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    m = send(env, ta, conv, "客户身份证复印件见附件")
    seen = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tb)).json()["messages"]
    assert m["id"] not in [x["id"] for x in seen]
    _, tok = officer(env)
    q = env.client.get("/api/v1/compliance/review", headers=env.h(tok)).json()
    assert q["open"] == 1 and q["items"][0]["kind"] == "dlp_hold" and q["items"][0]["sla_breached"] is False
    r = env.client.post(f"/api/v1/compliance/review/{q['items'][0]['id']}/decision", headers=env.h(tok),
                        json={"decision": "approve", "note": "业务需要"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    seen = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tb)).json()["messages"]
    assert m["id"] in [x["id"] for x in seen]
    events = [x[0] for x in raw(env, "SELECT p.type FROM user_events e JOIN event_payloads p ON p.id = e.payload_id "
                                     "WHERE e.user_id = :u", u=b)]
    assert events.count("message.created") == 1


def test_reports_violations_escalate_and_sla_is_flagged(env: Env) -> None:
    """Employees report a message in one click; repeated violations escalate; old items show the 24-hour breach."""
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    _, tok = officer(env)
    levels = []
    for i in range(3):
        m = send(env, ta, conv, f"广告推广 {i}")
        r = env.client.post("/api/v1/reports", headers=env.h(tb), json={"message_id": m["id"], "reason": "广告"})
        assert r.status_code == 201, r.text
        d = env.client.post(f"/api/v1/compliance/review/{r.json()['id']}/decision", headers=env.h(tok),
                            json={"decision": "violation", "note": "发送广告"})
        levels.append(d.json()["level"])
    assert levels == ["warning", "unit_notice", "suspension"]
    env.rt.dlp_service.invalidate()
    stopped = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta), json={"text": "还在吗"})
    assert stopped.status_code == 403 and stopped.json()["error"]["code"] == "sending_suspended"
    _, tc = env.person("wangwu", "王五")
    assert env.client.post("/api/v1/reports", headers=env.h(tc), json={"message_id": m["id"]}).status_code == 404
    r = env.client.post("/api/v1/reports", headers=env.h(tb), json={"message_id": m["id"], "reason": "再次"})
    raw(env, "UPDATE review_items SET created_at = :t WHERE id = :i",
        t=datetime.now(UTC) - timedelta(hours=30), i=r.json()["id"])
    q = env.client.get("/api/v1/compliance/review", headers=env.h(tok)).json()
    assert q["items"][0]["sla_breached"] is True and q["items"][0]["age_seconds"] >= 30 * 3600
    assert env.client.get("/api/v1/compliance/review", headers=env.h(tb)).status_code == 403
