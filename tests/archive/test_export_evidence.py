"""Exports an assessor can rely on: a signed manifest (`mixun export verify` catches a rewritten one), the
people who could see each message when it was sent, no half-written directories and no server paths
(issue 19 items 14 and 15, issue 24 item 13)."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from mixun.cli.archive import cmd_export_public_key, cmd_export_verify
from mixun.services import export
from tests.archive.conftest import cli_ctx, group, officer, send
from tests.conftest import Env

ID_NUMBER = "11010519491231002X"


def _chat(env: Env) -> tuple[int, str, int, str, int]:
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    send(env, ta, conv, "本周贷款利率下调了吗?")
    send(env, tb, conv, "授信额度已批")
    return a, ta, b, tb, conv


def _verify(env: Env, out: Path, capsys: pytest.CaptureFixture[str], public_key: str | None = None
            ) -> tuple[int, str]:
    code = cmd_export_verify(argparse.Namespace(dir=str(out), public_key=public_key), env.settings)
    return code, capsys.readouterr().out


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "messages.jsonl").read_text().splitlines()]


def test_a_manifest_rewritten_to_match_a_changed_file_is_caught(env: Env, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Editing messages.jsonl and putting its new SHA-256 into manifest.json fails verification, naming the
    manifest; the untouched export verifies."""
    _chat(env)
    out = tmp_path / "exp"
    export.export(cli_ctx(env), out, export.Filters())
    code, report = _verify(env, out, capsys)
    assert code == 0 and "export intact" in report, report
    p = out / "messages.jsonl"
    p.write_text(p.read_text().replace("利率", "汇率"))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["messages.jsonl"]["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    code, report = _verify(env, out, capsys)
    assert code == 1 and "BAD manifest.json: the signature does not match" in report, report


def test_changed_missing_and_unsigned_exports_are_named(env: Env, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A changed file, a missing file and a removed signature each give a non-zero exit naming them."""
    _chat(env)
    out = tmp_path / "exp"
    export.export(cli_ctx(env), out, export.Filters())
    (out / "messages.csv").write_bytes((out / "messages.csv").read_bytes() + b"x")
    eml = next((out / "eml").rglob("*.eml"))
    eml.unlink()
    code, report = _verify(env, out, capsys)
    assert code == 1 and "BAD messages.csv: SHA-256 does not match" in report
    assert f"BAD {eml.relative_to(out)}: missing" in report
    (out / "manifest.sig").unlink()
    code, report = _verify(env, out, capsys)
    assert code == 1 and "manifest.sig: missing" in report


def test_an_assessor_verifies_with_the_public_key_they_hold(env: Env, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`mixun export public-key` prints the key (its fingerprint is in the audit trail); an export verifies
    with that key and fails with another one, and re-signing with another key does not help."""
    _chat(env)
    assert cmd_export_public_key(argparse.Namespace(), env.settings) == 0
    pem = capsys.readouterr().out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    key_file = tmp_path / "mixun-export.pub"
    key_file.write_text(pem)
    with env.rt.db.read() as s:
        rows = s.execute(text("SELECT details FROM audit_log WHERE action = 'export.signing_key_created'")).all()
    assert len(rows) == 1
    details = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
    assert details["fingerprint"] == export.fingerprint(export.load_public_key(pem.encode()))
    out = tmp_path / "exp"
    export.export(cli_ctx(env), out, export.Filters())
    assert _verify(env, out, capsys, str(key_file))[0] == 0
    other = Ed25519PrivateKey.generate()
    other_file = tmp_path / "other.pub"
    other_file.write_bytes(export.public_key_pem(other.public_key()))
    code, report = _verify(env, out, capsys, str(other_file))
    assert code == 1 and "signed by another key" in report
    (out / "manifest.sig").write_text(json.dumps(export.sign_manifest(other, (out / "manifest.json").read_bytes())))
    code, report = _verify(env, out, capsys, str(key_file))
    assert code == 1 and "signed by another key" in report


def test_participants_are_who_could_see_each_message(env: Env, tmp_path: Path) -> None:
    """Someone who joined later is not a participant of earlier messages; someone removed is not one of
    later messages; the EML of the day is addressed to everyone who was a member that day."""
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    c, _tc = env.person("wangwu", "王五")
    conv = group(env, ta, [b])
    send(env, ta, conv, "加入之前")
    assert env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(ta),
                           json={"user_ids": [c]}).status_code == 200
    send(env, ta, conv, "三人都在")
    assert env.client.delete(f"/api/v1/conversations/{conv}/members/{b}", headers=env.h(ta)).status_code == 200
    send(env, ta, conv, "李四走后")
    out = tmp_path / "exp"
    export.export(cli_ctx(env), out, export.Filters())
    seen = {r["text"]: {p["name"] for p in r["participants"]} for r in _lines(out)}
    assert seen == {"加入之前": {"张三", "李四"}, "三人都在": {"张三", "李四", "王五"}, "李四走后": {"张三", "王五"}}
    csv_text = (out / "messages.csv").read_text(encoding="utf-8-sig")
    before = next(line for line in csv_text.splitlines() if "加入之前" in line)
    assert "王五" not in before
    eml = next((out / "eml").rglob("*.eml")).read_text()
    assert "wangwu@mixun.local" in eml and "lisi@mixun.local" in eml



def test_someone_who_left_and_came_back_did_not_see_what_was_said_meanwhile(env: Env, tmp_path: Path) -> None:
    """Two membership intervals: a member who left and was invited back is a participant of the messages
    of either interval, never of those sent while away."""
    _a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    c, _tc = env.person("wangwu", "王五")
    conv = group(env, ta, [b, c])
    send(env, ta, conv, "三人都在")
    assert env.client.post(f"/api/v1/conversations/{conv}/leave", headers=env.h(tb)).status_code in (200, 204)
    send(env, ta, conv, "李四不在时")
    assert env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(ta),
                           json={"user_ids": [b]}).status_code == 200
    send(env, ta, conv, "李四回来后")
    out = tmp_path / "exp"
    export.export(cli_ctx(env), out, export.Filters())
    seen = {r["text"]: {p["name"] for p in r["participants"]} for r in _lines(out)}
    assert seen["三人都在"] == {"张三", "李四", "王五"}
    assert seen["李四不在时"] == {"张三", "王五"}
    assert seen["李四回来后"] == {"张三", "李四", "王五"}


def test_a_failed_export_leaves_nothing_behind(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export that fails half-way leaves neither the target directory nor a temporary one."""
    _chat(env)

    def boom(*_a: Any, **_k: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export, "_sent_times", boom)
    out = tmp_path / "exports" / "exp"
    with pytest.raises(OSError):
        export.export(cli_ctx(env), out, export.Filters())
    assert not out.exists()
    assert list((tmp_path / "exports").iterdir()) == []


def test_export_answers_carry_no_server_path(env: Env) -> None:
    """The API's export answer, its list and the audit record name the export, never its absolute path."""
    _chat(env)
    _, tok = officer(env)
    r = env.client.post("/api/v1/compliance/exports", headers=env.h(tok),
                        json={"category": "regulatory_inspection", "reason": "监管调阅：导出答复不含服务器路径",
                                  "formats": ["jsonl"]})
    assert r.status_code == 201, r.text
    data_dir = str(env.settings.data_dir)
    assert data_dir not in r.text
    listed = env.client.get("/api/v1/compliance/exports", headers=env.h(tok))
    assert listed.status_code == 200 and data_dir not in listed.text
    assert listed.json()["exports"][0]["name"] == r.json()["name"]
    with env.rt.db.read() as s:
        target = s.execute(text("SELECT target FROM audit_log WHERE action = 'archive.exported'")).scalar_one()
    assert target == r.json()["name"]


def test_originals_of_masked_messages_only_when_asked(env: Env, tmp_path: Path) -> None:
    """A masked message's original is in the export only with include_originals (and the audit says so)."""
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    m = send(env, ta, conv, f"客户身份证 {ID_NUMBER}")
    assert ID_NUMBER not in m["text"]
    plain = tmp_path / "plain"
    export.export(cli_ctx(env), plain, export.Filters())
    assert all(ID_NUMBER not in p.read_text(errors="replace") for p in plain.rglob("*") if p.is_file())
    full = tmp_path / "full"
    manifest = export.export(cli_ctx(env), full, export.Filters(), include_originals=True)
    rec = _lines(full)[0]
    assert ID_NUMBER not in rec["text"] and rec["original_text"] == f"客户身份证 {ID_NUMBER}"
    assert manifest["counts"]["originals"] == 1 and manifest["include_originals"] is True
    assert ID_NUMBER in (full / "messages.csv").read_text(encoding="utf-8-sig")
    assert export.verify_export(full, export.load_signing_key(env.settings).public_key()).ok  # type: ignore[union-attr]
    with env.rt.db.read() as s:
        flags = [d if isinstance(d, dict) else json.loads(d) for (d,) in s.execute(
            text("SELECT details FROM audit_log WHERE action = 'archive.exported' ORDER BY id")).all()]
    assert [f["originals"] for f in flags] == [False, True]
