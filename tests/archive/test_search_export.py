"""Compliance search (Chinese, with a stated reason) and the self-verifying export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mixun.cli.archive import cmd_export, cmd_export_verify
from mixun.services import export
from mixun.services.export import verify_export
from tests.archive.conftest import cli_ctx, group, officer, send
from tests.conftest import Env

S = "/api/v1/compliance/archive/search"
# A reason as the archive asks for one: a category and at least ten characters saying what the case is.
WHY = {"category": "internal_investigation", "reason": "检查，核对相关人员往来记录"}
AML = {"category": "internal_investigation", "reason": "反洗钱专项检查，核对相关人员往来记录"}


def _chat(env: Env) -> tuple[int, str, int, str, int]:
    a, ta = env.person("zhangsan", "张三", unit="总行/公司金融部")
    b, tb = env.person("lisi", "李四", unit="北京分行/营业部")
    conv = group(env, ta, [b])
    send(env, ta, conv, "本周贷款利率下调了吗?")
    send(env, tb, conv, "授信额度已批,请联系张伟确认")
    send(env, ta, conv, "今天午饭吃什么")
    return a, ta, b, tb, conv


def test_two_character_words_and_names_are_found(env: Env) -> None:
    """Searching 利率, 授信 or the two-character name 张伟 finds exactly the messages that contain them."""
    _chat(env)
    _, tok = officer(env)
    h = env.h(tok)
    for q, expected in (("利率", "本周贷款利率下调了吗?"), ("授信", "授信额度已批,请联系张伟确认"),
                        ("张伟", "授信额度已批,请联系张伟确认"), ("贷款利率", "本周贷款利率下调了吗?")):
        r = env.client.get(S, headers=h, params={"q": q, **AML})
        assert r.status_code == 200, r.text
        assert [x["text"] for x in r.json()["results"]] == [expected], q
    assert env.client.get(S, headers=h, params={"q": "利息", **WHY}).json()["results"] == []
    one = env.client.get(S, headers=h, params={"q": "饭", **WHY}).json()["results"]
    assert [x["text"] for x in one] == ["今天午饭吃什么"]


def test_search_filters_by_sender_unit_and_dates(env: Env) -> None:
    """Compliance narrows results by sender, unit and time; each result names the sender's unit."""
    a, _, b, _, _ = _chat(env)
    _, tok = officer(env)
    h = env.h(tok)
    mine = env.client.get(S, headers=h, params={"sender": a, **WHY}).json()["results"]
    assert {x["sender"]["id"] for x in mine} == {a} and len(mine) == 2
    unit = env.client.get(S, headers=h, params={"unit": "北京分行", **WHY}).json()["results"]
    assert [x["sender"]["unit"] for x in unit] == ["北京分行/营业部"]
    later = env.client.get(S, headers=h, params={"since": "2999-01-01T00:00:00Z", **WHY}).json()
    assert later["results"] == []


def test_search_and_view_require_a_reason_and_are_audited(env: Env) -> None:
    """Without a stated reason the archive refuses (422); with one, the search and view are in the audit trail."""
    _, _, _, _, conv = _chat(env)
    _, tok = officer(env)
    h = env.h(tok)
    assert env.client.get(S, headers=h, params={"q": "利率"}).status_code == 422
    assert env.client.get(S, headers=h, params={"q": "利率", "reason": "   "}).status_code == 422
    view = f"/api/v1/compliance/archive/conversations/{conv}"
    assert env.client.get(view, headers=h).status_code == 422
    r = env.client.get(view, headers=h, params={"category": "internal_investigation", "reason": "投诉调查，核对相关人员往来记录"})
    assert r.status_code == 200 and len(r.json()["versions"]) == 3 and len(r.json()["members"]) == 2
    assert env.client.get(S, headers=h, params={"q": "利率", **AML}).status_code == 200
    with env.rt.db.read() as s:
        rows = s.execute(text("SELECT action, details FROM audit_log WHERE action LIKE 'archive.%' ORDER BY id")).all()
    details = [json.loads(d) if isinstance(d, str) else d for _, d in rows]
    assert [a for a, _ in rows] == ["archive.viewed", "archive.searched"]
    assert details[0]["reason"] == "投诉调查，核对相关人员往来记录"
    assert details[1]["reason"] == "反洗钱专项检查，核对相关人员往来记录"
    assert details[0]["reason_category"] == "internal_investigation"


def test_only_compliance_searches_everyone(env: Env) -> None:
    """An employee cannot use the archive search, but finds 利率 in their own conversations only."""
    _, ta, _, _, _ = _chat(env)
    _, tc = env.person("wangwu", "王五")
    assert env.client.get(S, headers=env.h(ta), params={"q": "利率", "category": "other", "reason": "x" * 10}).status_code == 403
    own = env.client.get("/api/v1/search/messages", headers=env.h(ta), params={"q": "利率"}).json()["results"]
    assert [x["text"] for x in own] == ["本周贷款利率下调了吗?"]
    other = env.client.get("/api/v1/search/messages", headers=env.h(tc), params={"q": "利率"}).json()["results"]
    assert other == []


def test_edits_keep_every_version_in_the_archive(env: Env) -> None:
    """After an edit and a recall the archive still holds the original words, findable by search."""
    a, ta = env.person("zhangsan", "张三")
    b, _ = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    m = send(env, ta, conv, "利率是百分之三")
    assert env.client.patch(f"/api/v1/messages/{m['id']}", headers=env.h(ta), json={"text": "已更正"}).status_code == 200
    assert env.client.post(f"/api/v1/messages/{m['id']}/recall", headers=env.h(ta)).status_code in (200, 204)
    _, tok = officer(env)
    r = env.client.get(S, headers=env.h(tok), params={"q": "利率", **WHY}).json()["results"]
    assert [(x["kind"], x["text"]) for x in r] == [("created", "利率是百分之三")]
    view = env.client.get(f"/api/v1/compliance/archive/conversations/{conv}", headers=env.h(tok),
                          params={**WHY}).json()
    assert [v["kind"] for v in view["versions"]] == ["created", "edited", "recalled"]


def server_public_key(env: Env) -> Any:
    key = export.load_signing_key(env.settings)
    assert key is not None
    return key.public_key()


def test_export_round_trip_verifies(env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mixun export` writes JSON Lines, CSV, EML and a manifest that `mixun export verify` accepts."""
    a, ta, b, tb, conv = _chat(env)
    out = tmp_path / "exp"
    args = argparse.Namespace(out=str(out), user="lisi", conversation=None, since=None, until=None, format=None,
                              reason="监管调阅", export_command=None)
    assert cmd_export(args, env.settings) == 0
    said = capsys.readouterr()
    assert "exported 3 versions of 3 messages in 1 conversations" in said.out
    assert "exporting versions: 3/3" in said.err  # the progress bar's last line (no terminal here)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["versions"] == 3 and manifest["counts"]["eml_files"] == 1
    lines = [json.loads(x) for x in (out / "messages.jsonl").read_text().splitlines()]
    assert lines[1]["sender"] == {"id": b, "username": "lisi", "name": "李四", "unit": "北京分行/营业部"}
    assert {p["name"] for p in lines[0]["participants"]} == {"张三", "李四"}
    assert lines[0]["version_kind"] == "created" and lines[0]["conversation"]["id"] == conv
    csv_text = (out / "messages.csv").read_text(encoding="utf-8-sig")
    assert "授信额度已批" in csv_text
    eml = next((out / "eml" / str(conv)).iterdir()).read_text()
    assert "Subject:" in eml and "本周贷款利率下调了吗" in eml
    assert verify_export(out, server_public_key(env)).ok
    assert cmd_export_verify(argparse.Namespace(dir=str(out)), env.settings) == 0
    with env.rt.db.read() as s:
        assert s.execute(text("SELECT count(*) FROM audit_log WHERE action = 'archive.exported'")).scalar_one() == 1


def test_tampered_export_is_detected(env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Changing one exported message, or adding a file, makes the export fail verification, naming the file."""
    _chat(env)
    out = tmp_path / "exp"
    seen: list[tuple[int, int]] = []
    export.export(cli_ctx(env), out, export.Filters(), progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)  # what a progress bar is shown
    p = out / "messages.jsonl"
    p.write_text(p.read_text().replace("利率", "汇率"))
    (out / "extra.txt").write_text("x")
    result = verify_export(out, server_public_key(env))
    assert not result.ok
    assert any(x.startswith("messages.jsonl: SHA-256") for x in result.problems)
    assert any(x.startswith("extra.txt") for x in result.problems)
    assert cmd_export_verify(argparse.Namespace(dir=str(out)), env.settings) == 1


def test_export_api_for_compliance_only(env: Env) -> None:
    """Compliance can start an export through the API (with a reason); an employee cannot."""
    _, ta, _, _, _ = _chat(env)
    _, tok = officer(env)
    body = {"category": "regulatory_inspection", "reason": "人民银行现场检查调阅往来记录", "user": "zhangsan",
            "formats": ["jsonl", "csv"]}
    r = env.client.post("/api/v1/compliance/exports", headers=env.h(tok), json=body)
    assert r.status_code == 201, r.text
    assert "path" not in r.json()  # the server's absolute paths stay on the server
    out = env.settings.data_dir / "exports" / r.json()["name"]
    assert r.json()["counts"]["versions"] == 3 and verify_export(out, server_public_key(env)).ok
    assert env.client.post("/api/v1/compliance/exports", headers=env.h(ta), json=body).status_code == 403
    assert env.client.post("/api/v1/compliance/exports", headers=env.h(tok), json={"user": "x"}).status_code == 422


def test_a_version_that_commits_late_is_still_found(env: Env) -> None:
    """PostgreSQL numbers versions when they are written, not when they commit: an edit written before a
    send but committed after that send was indexed must still be indexed, and found."""
    from datetime import UTC, datetime

    from mixun.db.models import MessageVersion
    from mixun.services.archive import index_pending

    if env.rt.db.is_sqlite:
        pytest.skip("SQLite has one writer: versions commit in the order they are numbered")
    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    first = send(env, ta, conv, "季度报表已提交")
    late = env.rt.db.write_engine.connect()
    tx = late.begin()  # an edit that is written now and commits only after the next send was indexed
    late.execute(MessageVersion.__table__.insert().values(
        message_id=first["id"], conversation_id=conv, version=2, kind="edited", sender_id=a, actor_id=a,
        text="跨境汇款需要再次核查", created_at=datetime.now(UTC)))
    send(env, ta, conv, "反洗钱名单已更新")  # numbered after the edit, committed before it
    with env.rt.db.write() as s:
        index_pending(s)
    tx.commit()
    late.close()
    _, tok = officer(env)
    for q, expected in (("跨境汇款", "跨境汇款需要再次核查"), ("反洗钱", "反洗钱名单已更新")):
        r = env.client.get(S, headers=env.h(tok), params={"q": q, **AML})
        assert r.status_code == 200, r.text
        assert [x["text"] for x in r.json()["results"]] == [expected], q
