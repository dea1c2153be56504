"""Files in conversations (M4, D1–D4, D7) and secure packing (D2), through the HTTP API with a real clamd.

Each test runs on SQLite and PostgreSQL. Refused files leave nothing behind: no message, no attachment
row, no blob on disk.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from sqlalchemy import func, select

from mixun.db.models import Attachment, AuditLog, Message
from mixun.services import events, export
from mixun.services.attachments import Antivirus, rescan_pending
from mixun.services.runtime import Ctx
from tests.conftest import EICAR, Env, build_env
from tests.helpers import direct, staff
from tests.unit.files.files_samples import make_docx, make_xlsx

PACK_PASSWORD = "Bao-Mi#2026x"
ID_NUMBER = "11010519491231002X"


@pytest.fixture(params=["sqlite", "postgresql"])
def fenv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_MAX_FILE_BYTES="2000000")
    yield e
    close()


def _people(env: Env) -> tuple[str, str, int]:
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    return a, b, direct(env, a, b_id)


def _send_file(env: Env, token: str, conv: int, data: bytes, name: str, **form: Any) -> Any:
    return env.client.post(f"/api/v1/conversations/{conv}/files", headers=env.h(token),
                           files={"file": (name, data, "application/octet-stream")},
                           data={k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()})


def _pack(env: Env, token: str, conv: int, files: list[tuple[str, bytes]], password: str, **form: Any) -> Any:
    return env.client.post(f"/api/v1/conversations/{conv}/secure-pack", headers=env.h(token),
                           files=[("files", (n, d, "application/octet-stream")) for n, d in files],
                           data={"password": password, **form})


def _stored(env: Env) -> tuple[int, int, int]:
    """(messages, attachments, blob files) — what a refused upload must not have added."""
    with env.rt.db.read() as s:
        msgs = s.execute(select(func.count()).select_from(Message)).scalar_one()
        atts = s.execute(select(func.count()).select_from(Attachment)).scalar_one()
    blobs = env.settings.blob_dir
    return msgs, atts, sum(1 for p in blobs.rglob("*") if p.is_file()) if blobs.exists() else 0


def _audit(env: Env, action: str) -> list[dict[str, Any]]:
    with env.rt.db.read() as s:
        return [r.details for r in s.execute(select(AuditLog).where(AuditLog.action == action)).scalars()]


def test_document_is_sent_scanned_and_downloaded(fenv: Env) -> None:
    """A Word file arrives as a file message, scanned clean; the recipient downloads the same bytes,
    and the download is in the audit trail."""
    a, b, conv = _people(fenv)
    doc = make_docx(["关于二季度信贷投放的会议纪要", "各部门按计划推进。"])
    r = _send_file(fenv, a, conv, doc, "会议纪要.docx", client_id="f-1")
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["kind"] == "file"
    att = m["attachments"][0]
    assert att["filename"] == "会议纪要.docx" and att["scan_status"] == "clean" and att["size"] == len(doc)
    assert att["mime"].endswith("wordprocessingml.document")
    seen = fenv.client.get(f"/api/v1/conversations/{conv}/messages", headers=fenv.h(b)).json()["messages"]
    assert seen[-1]["attachments"][0]["id"] == att["id"]
    got = fenv.client.get(f"/api/v1/attachments/{att['id']}", headers=fenv.h(b))
    assert got.status_code == 200 and got.content == doc
    assert any(d.get("filename") == "会议纪要.docx" for d in _audit(fenv, "file.downloaded"))
    # On disk it is ciphertext, not the document.
    blobs = [p.read_bytes() for p in fenv.settings.blob_dir.rglob("*") if p.is_file()]
    assert blobs and all(b"word/document.xml" not in blob for blob in blobs)
    # The same client_id again returns the first message and stores nothing more.
    before = _stored(fenv)
    again = _send_file(fenv, a, conv, doc, "会议纪要.docx", client_id="f-1")
    assert again.status_code == 201 and again.json()["id"] == m["id"]
    assert _stored(fenv) == before


@pytest.mark.parametrize(("data", "name", "reason"), [
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "报表.docx", "unsupported_type"),
    (b"", "空文件.txt", "empty_file"),
])
def test_type_is_judged_from_content(fenv: Env, data: bytes, name: str, reason: str) -> None:
    """A program renamed to .docx, or an empty file, is refused with the reason; nothing is stored."""
    a, _b, conv = _people(fenv)
    before = _stored(fenv)
    r = _send_file(fenv, a, conv, data, name)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "unsupported_media" and r.json()["error"]["reason"] == reason
    assert _stored(fenv) == before


def test_classified_document_is_blocked(fenv: Env) -> None:
    """D3: a document marked 机密 never goes through, and the attempt is recorded (masked)."""
    a, _b, conv = _people(fenv)
    before = _stored(fenv)
    r = _send_file(fenv, a, conv, make_docx(["机密★5年", "关于某重大事项的请示"]), "请示.docx")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "dlp_blocked" and err["reason"] == "classified_marking"
    assert _stored(fenv) == before
    assert _audit(fenv, "dlp.blocked")


def test_personal_data_in_a_file_needs_confirmation(fenv: Env) -> None:
    """An ID number in a spreadsheet asks the sender to confirm (findings masked); confirmed, it goes."""
    a, _b, conv = _people(fenv)
    book = make_xlsx([["姓名", "身份证号"], ["王五", ID_NUMBER]])
    r = _send_file(fenv, a, conv, book, "客户.xlsx")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "dlp_confirm_required"
    assert err["findings"][0]["detector"] == "cn_id_card" and ID_NUMBER not in r.text
    ok = _send_file(fenv, a, conv, book, "客户.xlsx", confirm=True)
    assert ok.status_code == 201, ok.text
    assert ok.json()["dlp"]["action"] == "warn"


def test_malware_is_refused_and_recorded(fenv: Env) -> None:
    """D7: the EICAR test file is refused before it is stored; the audit names the signature."""
    a, _b, conv = _people(fenv)
    before = _stored(fenv)
    r = _send_file(fenv, a, conv, b"meeting notes\n" + EICAR + b"\n", "notes.txt")
    assert r.status_code == 422 and r.json()["error"]["code"] == "malware_detected"
    assert _stored(fenv) == before
    assert any("EICAR" in (d.get("signature") or "") for d in _audit(fenv, "file.infected"))


def test_encrypted_archive_from_outside_is_refused(fenv: Env) -> None:
    """An encrypted ZIP the server cannot open is refused by default (only secure packs go)."""
    a, _b, conv = _people(fenv)
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(b"whatever-1!")
        zf.writestr("a.txt", "秘密")
    r = _send_file(fenv, a, conv, buf.getvalue(), "资料.zip")
    assert r.status_code == 415 and r.json()["error"]["reason"] == "encrypted_content"


def test_files_wait_for_the_scanner_when_it_is_away(fenv: Env, clamd_socket: str) -> None:
    """Without clamd (policy `wait`) a file is accepted but cannot be downloaded until it is scanned;
    once clamd is back the sweep scans it, the conversation hears, and the download works."""
    a, b, conv = _people(fenv)
    fenv.rt.antivirus = Antivirus(str(fenv.settings.data_dir / "no-such-clamd.sock"))
    assert fenv.client.get("/api/v1/health").json()["antivirus"] == "unavailable"
    r = _send_file(fenv, a, conv, "普通的会议通知".encode(), "通知.txt")
    assert r.status_code == 201, r.text
    att = r.json()["attachments"][0]
    assert att["scan_status"] == "pending"
    wait = fenv.client.get(f"/api/v1/attachments/{att['id']}", headers=fenv.h(b))
    assert wait.status_code == 409 and wait.json()["error"]["code"] == "file_not_ready"
    assert rescan_pending(fenv.rt) == 0  # still away: nothing changes
    fenv.rt.antivirus = Antivirus(clamd_socket)
    assert rescan_pending(fenv.rt) == 1
    assert fenv.client.get(f"/api/v1/attachments/{att['id']}", headers=fenv.h(b)).content == "普通的会议通知".encode()
    with fenv.rt.db.read() as s:
        b_id = fenv.client.get("/api/v1/me", headers=fenv.h(b)).json()["id"]
        payloads = [p for _seq, p in events.read_events(s, b_id, 0)]
    assert any('"attachment.scanned"' in p and '"clean"' in p for p in payloads)


def test_refuse_policy_turns_files_away_without_scanner(tmp_path: Path) -> None:
    """With MIXUN_FILES_WITHOUT_SCANNER=refuse and no clamd, a file gets 503 scanner_unavailable."""
    e, close = build_env(tmp_path, "sqlite", MIXUN_CLAMD_SOCKET=str(tmp_path / "none.sock"),
                         MIXUN_FILES_WITHOUT_SCANNER="refuse")
    try:
        a, _b, conv = _people(e)
        r = _send_file(e, a, conv, "会议通知".encode(), "通知.txt")
        assert r.status_code == 503 and r.json()["error"]["code"] == "scanner_unavailable"
    finally:
        close()


def test_secure_pack_round_trip(fenv: Env, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """D2: personal data travels packed. The recipient gets an AES-256 ZIP that opens only with the
    password, told to ask by phone; the password is nowhere: not in the database, logs or the blob."""
    caplog.set_level(logging.DEBUG)
    a, b, conv = _people(fenv)
    book = make_xlsx([["姓名", "身份证号"], ["王五", ID_NUMBER]])
    weak = _pack(fenv, a, conv, [("客户.xlsx", book)], "abc12345")
    assert weak.status_code == 422
    assert weak.json()["error"]["code"] == "weak_pack_password" and weak.json()["error"]["failed"] == ["symbols"]
    assert "abc12345" not in weak.text
    r = _pack(fenv, a, conv, [("客户.xlsx", book), ("说明.txt", "请核对".encode())], PACK_PASSWORD, name="客户资料")
    assert r.status_code == 201, r.text
    m = r.json()
    assert "电话" in m["instruction"]
    att = m["attachments"][0]
    assert att["kind"] == "secure_pack" and att["filename"] == "客户资料.zip" and att["scan_status"] == "clean"
    seen = fenv.client.get(f"/api/v1/conversations/{conv}/messages", headers=fenv.h(b)).json()["messages"][-1]
    assert "电话" in seen["text"] and "客户.xlsx" in seen["text"]
    z = fenv.client.get(f"/api/v1/attachments/{att['id']}", headers=fenv.h(b)).content
    with pyzipper.AESZipFile(io.BytesIO(z)) as zf:
        assert all(i.compress_type == pyzipper.WZ_AES or i.flag_bits & 0x1 for i in zf.infolist())
        with pytest.raises(RuntimeError):
            zf.read("客户.xlsx")  # no password
        zf.setpassword(PACK_PASSWORD.encode())
        assert zf.read("客户.xlsx") == book and zf.read("说明.txt") == "请核对".encode()
    assert _audit(fenv, "file.packed")
    # C1: the archive keeps the files themselves (under the server's keys); recipients cannot fetch them.
    assert len(seen["attachments"]) == 1
    with fenv.rt.db.read() as s:
        originals = s.execute(select(Attachment.id).where(Attachment.kind == "pack_original")).scalars().all()
    assert len(originals) == 2
    assert fenv.client.get(f"/api/v1/attachments/{originals[0]}", headers=fenv.h(b)).status_code == 404
    out = tmp_path / "export"
    export.export(Ctx(rt=fenv.rt, ip="127.0.0.1", client="tests"), out, export.Filters())
    exported = {p.name.split("-", 1)[1]: p.read_bytes() for p in (out / "attachments").rglob("*") if p.is_file()}
    assert exported["客户.xlsx"] == book and "客户资料.zip" in exported
    secret = PACK_PASSWORD.encode()
    assert secret.decode() not in caplog.text
    with fenv.rt.db.read() as s:
        dump = " ".join(str(r.details) for r in s.execute(select(AuditLog)).scalars())
    assert PACK_PASSWORD not in dump
    assert all(secret not in p.read_bytes() for p in fenv.settings.data_dir.rglob("*") if p.is_file())


def test_secure_pack_refuses_what_may_not_travel_at_all(fenv: Env) -> None:
    """A classified document refuses the whole pack (nobody could review it inside), naming the file."""
    a, _b, conv = _people(fenv)
    before = _stored(fenv)
    r = _pack(fenv, a, conv, [("纪要.docx", make_docx(["会议纪要"])), ("请示.docx", make_docx(["绝密★长期"]))],
              PACK_PASSWORD)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "dlp_blocked" and err["reason"] == "pack_refused"
    assert [f["filename"] for f in err["files"]] == ["请示.docx"]
    assert _stored(fenv) == before


def test_files_need_membership_and_respect_the_size_limit(fenv: Env) -> None:
    """A non-member gets 404 (nothing revealed); a file over the limit gets 413."""
    a, _b, conv = _people(fenv)
    _c_id, c = fenv.person("wangwu", "王五")
    r = _send_file(fenv, c, conv, "会议通知".encode(), "通知.txt")
    assert r.status_code == 404
    big = b"a" * (fenv.settings.max_file_bytes + 10)
    r = _send_file(fenv, a, conv, big, "big.txt")
    assert r.status_code == 413


def test_compliance_opens_the_files_inside_a_secure_pack(fenv: Env) -> None:
    """The archive view lists a pack's files; compliance opens them with a stated reason (audited);
    an employee cannot use that door, and a reason is required."""
    a, _b, conv = _people(fenv)
    book = make_xlsx([["姓名", "身份证号"], ["王五", ID_NUMBER]])
    assert _pack(fenv, a, conv, [("客户.xlsx", book)], PACK_PASSWORD).status_code == 201
    _c, tc = staff(fenv, "hegui", "合规员", "compliance")
    view = fenv.client.get(f"/api/v1/compliance/archive/conversations/{conv}", headers=fenv.h(tc),
                           params={"category": "customer_complaint", "reason": "客户信息外发核查：客户来电投诉"}).json()
    atts = view["versions"][-1]["attachments"]
    inner = next(x for x in atts if x["archive_only"])
    assert inner["filename"] == "客户.xlsx" and any(x["kind"] == "secure_pack" for x in atts)
    url = f"/api/v1/compliance/archive/attachments/{inner['id']}"
    assert fenv.client.get(url, headers=fenv.h(tc)).status_code == 422  # no reason
    assert fenv.client.get(url, headers=fenv.h(a), params={"category": "other", "reason": "x" * 10}).status_code == 403
    got = fenv.client.get(url, headers=fenv.h(tc), params={"category": "customer_complaint", "reason": "客户信息外发核查：客户来电投诉"})
    assert got.status_code == 200 and got.content == book
    assert any(d.get("reason") == "客户投诉：客户信息外发核查：客户来电投诉" for d in _audit(fenv, "archive.attachment_viewed"))


def test_held_file_is_reviewed_with_its_content(fenv: Env) -> None:
    """With a policy that holds personal data in files, the file waits in the review queue; the reviewer
    opens it there, approves, and only then does the recipient get it."""
    _sec, tsec = staff(fenv, "anquan", "安全员", "secadmin")
    policy = fenv.client.get("/api/v1/dlp/policy", headers=fenv.h(tsec)).json()["policy"]
    policy["rules"].insert(0, {"action": "hold", "detectors": ["cn_id_card"], "channels": ["file"]})
    assert fenv.client.put("/api/v1/dlp/policy", headers=fenv.h(tsec),
                           json={"policy": policy, "note": "文件中的身份证号先审后发"}).status_code == 200
    fenv.rt.dlp_service.invalidate()
    a, b, conv = _people(fenv)
    book = make_xlsx([["姓名", "身份证号"], ["王五", ID_NUMBER]])
    r = _send_file(fenv, a, conv, book, "客户.xlsx")
    assert r.status_code == 201 and r.json()["dlp"]["action"] == "hold"
    assert fenv.client.get(f"/api/v1/conversations/{conv}/messages", headers=fenv.h(b)).json()["messages"] == []
    _c, tc = staff(fenv, "hegui", "合规员", "compliance")
    item = fenv.client.get("/api/v1/compliance/review", headers=fenv.h(tc)).json()["items"][0]
    att = item["attachments"][0]
    assert att["filename"] == "客户.xlsx"
    got = fenv.client.get(f"/api/v1/compliance/review/{item['id']}/attachments/{att['id']}", headers=fenv.h(tc))
    assert got.status_code == 200 and got.content == book
    assert fenv.client.get(f"/api/v1/compliance/review/{item['id']}/attachments/{att['id'] + 999}",
                           headers=fenv.h(tc)).status_code == 404
    assert _audit(fenv, "review.attachment_viewed")
    assert fenv.client.post(f"/api/v1/compliance/review/{item['id']}/decision", headers=fenv.h(tc),
                            json={"decision": "approve"}).status_code == 200
    seen = fenv.client.get(f"/api/v1/conversations/{conv}/messages", headers=fenv.h(b)).json()["messages"]
    assert seen[-1]["attachments"][0]["filename"] == "客户.xlsx"


def test_an_upload_counts_once_against_the_send_rate(tmp_path: Path, clamd_socket: str) -> None:
    """With a burst of three sends, three files go and the fourth gets 429 (each upload is one send)."""
    e, close = build_env(tmp_path, "sqlite", MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_SEND_BURST="3",
                         MIXUN_SEND_RATE_PER_MINUTE="1")
    try:
        a, _b, conv = _people(e)
        codes = [_send_file(e, a, conv, f"第{i}份会议通知".encode(), f"通知{i}.txt").status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]
    finally:
        close()


def test_refusal_reason_speaks_the_callers_language(fenv: Env) -> None:
    """The reason a file is refused comes in Chinese by default and in English on request."""
    a, _b, conv = _people(fenv)
    exe = b"MZ\x90\x00" + b"\x00" * 100
    zh = _send_file(fenv, a, conv, exe, "报表.docx").json()["error"]["message"]
    en = fenv.client.post(f"/api/v1/conversations/{conv}/files", headers={**fenv.h(a), "Accept-Language": "en"},
                          files={"file": ("报表.docx", exe, "application/octet-stream")}).json()["error"]["message"]
    assert "Word" in zh and "只能" in zh
    assert en.startswith("Only Word")


def test_a_file_is_only_as_visible_as_its_message(fenv: Env) -> None:
    """Held for review: only its sender may fetch it until approved. Recalled: nobody. A member who
    joined later: not the files from before."""
    _sec, tsec = staff(fenv, "anquan", "安全员", "secadmin")
    policy = fenv.client.get("/api/v1/dlp/policy", headers=fenv.h(tsec)).json()["policy"]
    policy["rules"].insert(0, {"action": "hold", "detectors": ["cn_id_card"], "channels": ["file"]})
    fenv.client.put("/api/v1/dlp/policy", headers=fenv.h(tsec), json={"policy": policy, "note": "先审后发"})
    fenv.rt.dlp_service.invalidate()
    a_id, a = fenv.person("zhangsan", "张三")
    b_id, b = fenv.person("lisi", "李四")
    conv = fenv.client.post("/api/v1/conversations", headers=fenv.h(a),
                            json={"kind": "group", "name": "信贷组", "members": [b_id]}).json()["id"]
    held = _send_file(fenv, a, conv, make_xlsx([["身份证号"], [ID_NUMBER]]), "客户.xlsx").json()["attachments"][0]
    assert fenv.client.get(f"/api/v1/attachments/{held['id']}", headers=fenv.h(b)).status_code == 404
    assert fenv.client.get(f"/api/v1/attachments/{held['id']}", headers=fenv.h(a)).status_code == 200
    sent = _send_file(fenv, a, conv, "会议纪要".encode(), "纪要.txt").json()
    c_id, c = fenv.person("wangwu", "王五")
    assert fenv.client.post(f"/api/v1/conversations/{conv}/members", headers=fenv.h(a),
                            json={"user_ids": [c_id]}).status_code in (200, 201)
    att = sent["attachments"][0]["id"]
    assert fenv.client.get(f"/api/v1/attachments/{att}", headers=fenv.h(c)).status_code == 404
    assert fenv.client.get(f"/api/v1/attachments/{att}", headers=fenv.h(b)).status_code == 200
    assert fenv.client.post(f"/api/v1/messages/{sent['id']}/recall", headers=fenv.h(a)).status_code == 200
    gone = fenv.client.get(f"/api/v1/attachments/{att}", headers=fenv.h(b))
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "message_recalled"


def test_pack_contents_are_for_compliance_not_every_reviewer(fenv: Env) -> None:
    """A reported secure pack reaches the review queue; secadmin reviews it without any of its files
    (content is for compliance only), compliance sees and opens them, the ones kept from inside it too."""
    a, b, conv = _people(fenv)
    book = make_xlsx([["姓名", "身份证号"], ["王五", ID_NUMBER]])
    m = _pack(fenv, a, conv, [("客户.xlsx", book)], PACK_PASSWORD).json()
    assert fenv.client.post("/api/v1/reports", headers=fenv.h(b),
                            json={"message_id": m["id"], "reason": "疑似外发客户信息"}).status_code == 201
    _s, tsec = staff(fenv, "anquan", "安全员", "secadmin")
    _c, tc = staff(fenv, "hegui", "合规员", "compliance")
    with fenv.rt.db.read() as s:
        inner = s.execute(select(Attachment.id).where(Attachment.kind == "pack_original")).scalar_one()
    item = fenv.client.get("/api/v1/compliance/review", headers=fenv.h(tsec)).json()["items"][0]
    assert item["attachments"] == [] and item["content_hidden"] is True
    url = f"/api/v1/compliance/review/{item['id']}/attachments/{inner}"
    assert fenv.client.get(url, headers=fenv.h(tsec)).json()["error"]["code"] == "review_content_hidden"
    item = fenv.client.get("/api/v1/compliance/review", headers=fenv.h(tc)).json()["items"][0]
    assert {x["kind"] for x in item["attachments"]} == {"secure_pack", "pack_original"}
    assert fenv.client.get(url, headers=fenv.h(tc)).content == book


def test_pack_names_are_checked_and_made_safe(fenv: Env) -> None:
    """The pack's own name is inspected (it travels in the clear); names differing only in case, and
    very long ones, are packed under safe unique names; nothing is left behind on refusal."""
    a, b, conv = _people(fenv)
    before = _stored(fenv)
    r = _pack(fenv, a, conv, [("a.txt", "正文".encode())], PACK_PASSWORD, name="机密★5年 材料")
    assert r.status_code == 422 and r.json()["error"]["reason"] == "pack_name"
    assert _stored(fenv) == before
    long_name = "甲" * 300 + ".txt"
    r = _pack(fenv, a, conv, [("A.txt", b"one"), ("a.txt", b"two"), (long_name, b"three"), ("..", b"four")],
              PACK_PASSWORD)
    assert r.status_code == 201, r.text
    z = fenv.client.get(f"/api/v1/attachments/{r.json()['attachments'][0]['id']}", headers=fenv.h(b)).content
    with pyzipper.AESZipFile(io.BytesIO(z)) as zf:
        zf.setpassword(PACK_PASSWORD.encode())
        names = zf.namelist()
        assert names[:2] == ["A.txt", "a(2).txt"] and zf.read("a(2).txt") == b"two"
        assert all(n not in (".", "..") and len(n) <= 255 for n in names)
    # An ID number in a file's name is masked in the note everyone reads.
    r = _pack(fenv, a, conv, [(f"王五{ID_NUMBER}.txt", b"x")], PACK_PASSWORD)
    assert r.status_code == 201 and ID_NUMBER not in r.json()["text"]


def test_one_unreadable_file_does_not_stop_the_rescan(fenv: Env, clamd_socket: str) -> None:
    """A waiting file whose stored bytes are gone is marked failed; the files after it are scanned."""
    a, b, conv = _people(fenv)
    fenv.rt.antivirus = Antivirus(str(fenv.settings.data_dir / "no-such-clamd.sock"))
    ids = [_send_file(fenv, a, conv, f"通知{i}".encode(), f"通知{i}.txt").json()["attachments"][0]["id"]
           for i in range(3)]
    with fenv.rt.db.read() as s:
        key = s.get(Attachment, ids[0]).blob_key
    (fenv.settings.blob_dir / key[:2] / key).unlink()
    fenv.rt.antivirus = Antivirus(clamd_socket)
    assert rescan_pending(fenv.rt) == 3
    with fenv.rt.db.read() as s:
        states = [s.get(Attachment, i).scan_status for i in ids]
    assert states == ["failed", "clean", "clean"]
    assert fenv.client.get(f"/api/v1/attachments/{ids[0]}", headers=fenv.h(b)).status_code == 403


def test_anonymous_clients_cannot_push_large_uploads(fenv: Env) -> None:
    """Without credentials an upload path keeps the ordinary body limit: 413 before anything is parsed."""
    r = fenv.client.post("/api/v1/conversations/1/files", content=b"x" * 1_500_000,
                         headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413
