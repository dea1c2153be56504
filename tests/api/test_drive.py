"""The personal drive and each group's file space (issue 20 items 1–6), through the HTTP API, with a real
clamd, on SQLite and PostgreSQL (docs/drive.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from mixun.db.models import AuditLog, EventPayload, UserEvent
from mixun.db.models_dlp import DlpHit
from mixun.db.models_drive import DriveItem, DriveUpload
from mixun.services import drive
from tests.conftest import EICAR, Env, build_env
from tests.helpers import direct, group, staff
from tests.unit.files.files_samples import make_docx

ID_NUMBER = "11010519491231002X"


@pytest.fixture(params=["sqlite", "postgresql"])
def denv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_MAX_FILE_BYTES="2000000",
                         MIXUN_SEND_BURST="1000")
    yield e
    close()


def start(env: Env, token: str, name: str, size: int, **extra: Any) -> Any:
    return env.client.post("/api/v1/drive/uploads", headers=env.h(token), json={"name": name, "size": size, **extra})


def put(env: Env, token: str, upload_id: str, index: int, data: bytes, sha: str | None = None) -> Any:
    return env.client.put(f"/api/v1/drive/uploads/{upload_id}/chunks/{index}", content=data,
                          headers={**env.h(token), "Content-Type": "application/octet-stream",
                                   "X-Chunk-SHA256": sha or hashlib.sha256(data).hexdigest()})


def upload(env: Env, token: str, name: str, data: bytes, **extra: Any) -> Any:
    """Start, send every chunk, complete: the response of the completion."""
    r = start(env, token, name, len(data), **extra)
    assert r.status_code == 201, r.text
    up = r.json()
    size = up["chunk_size"]
    for i in range(up["chunks"]):
        assert put(env, token, up["id"], i, data[i * size:(i + 1) * size]).status_code == 200
    return env.client.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=env.h(token), json={})


def audit(env: Env, action: str) -> list[dict[str, Any]]:
    with env.rt.db.read() as s:
        return [r.details for r in s.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars()]


def events_of(s: Any, user_id: int, type_: str) -> int:
    return s.execute(select(func.count()).select_from(UserEvent).join(EventPayload, EventPayload.id == UserEvent.payload_id)
                     .where(UserEvent.user_id == user_id, EventPayload.type == type_)).scalar_one()


def blobs(env: Env) -> list[Path]:
    d = env.settings.blob_dir / "drive"
    return [p for p in d.rglob("*") if p.is_file()] if d.exists() else []


# ---- item 1: group file space ------------------------------------------------------------------------

def test_group_space_holds_sent_files_and_member_folders(denv: Env) -> None:
    a, ta = denv.person("zhangsan", "张三")
    b, tb = denv.person("lisi", "李四")
    c, tc = denv.person("wangwu", "王五")
    conv = group(denv, ta, "信贷项目组", [b, c])
    doc = make_docx(["二季度信贷投放计划"])
    sent = denv.client.post(f"/api/v1/conversations/{conv}/files", headers=denv.h(ta),
                            files={"file": ("投放计划.docx", doc, "application/octet-stream")})
    assert sent.status_code == 201, sent.text
    folder = denv.client.post("/api/v1/drive/folders", headers=denv.h(tb), json={"name": "会议纪要", "conversation_id": conv})
    assert folder.status_code == 201, folder.text
    fid = folder.json()["id"]
    minutes = make_docx(["项目例会纪要"])
    r = upload(denv, tb, "例会纪要.docx", minutes, conversation_id=conv, parent_id=fid)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["scan_status"] == "clean" and item["uploader_name"] == "李四" and item["size"] == len(minutes)
    # Every member sees the root: the folder and the file sent in the chat, with uploader, time, size, scan.
    root = denv.client.get(f"/api/v1/conversations/{conv}/space", headers=denv.h(tc)).json()
    assert [i["name"] for i in root["items"]] == ["会议纪要"]
    assert root["sent_files"][0]["name"] == "投放计划.docx" and root["sent_files"][0]["uploader_name"] == "张三"
    assert root["sent_files"][0]["scan_status"] == "clean" and root["sent_files"][0]["size"] == len(doc)
    inside = denv.client.get(f"/api/v1/conversations/{conv}/space", params={"parent_id": fid}, headers=denv.h(tc)).json()
    assert [i["name"] for i in inside["items"]] == ["例会纪要.docx"] and inside["path"][0]["name"] == "会议纪要"
    got = denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(tc))
    assert got.status_code == 200 and got.content == minutes
    # Search by name finds both kinds.
    found = denv.client.get(f"/api/v1/conversations/{conv}/space", params={"q": "纪要"}, headers=denv.h(ta)).json()
    assert [i["name"] for i in found["items"]] == ["会议纪要", "例会纪要.docx"]
    found = denv.client.get(f"/api/v1/conversations/{conv}/space", params={"q": "计划"}, headers=denv.h(ta)).json()
    assert [f["name"] for f in found["sent_files"]] == ["投放计划.docx"] and found["items"] == []
    # Only its uploader (or the owner/admins) changes a member's file.
    assert denv.client.patch(f"/api/v1/drive/items/{item['id']}", headers=denv.h(tc), json={"name": "x.docx"}).status_code == 403
    # A leaver loses the space.
    assert denv.client.delete(f"/api/v1/conversations/{conv}/members/{c}", headers=denv.h(ta)).status_code == 200
    assert denv.client.get(f"/api/v1/conversations/{conv}/space", headers=denv.h(tc)).status_code == 404
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(tc)).status_code == 404
    # The archive keeps it: a member's delete hides it from the group, the bytes stay.
    assert denv.client.delete(f"/api/v1/drive/items/{item['id']}", headers=denv.h(tb)).status_code == 200
    inside = denv.client.get(f"/api/v1/conversations/{conv}/space", params={"parent_id": fid}, headers=denv.h(ta)).json()
    assert inside["items"] == []
    with denv.rt.db.read() as s:
        row = s.get(DriveItem, item["id"])
        assert row is not None and row.deleted_at is not None and row.blob_key
    assert len(blobs(denv)) == 1
    # A direct chat has no file space.
    d = direct(denv, ta, b)
    assert denv.client.get(f"/api/v1/conversations/{d}/space", headers=denv.h(ta)).status_code == 422


def test_group_space_files_pass_dlp_like_sent_files(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    b, _tb = denv.person("lisi", "李四")
    conv = group(denv, ta, "项目组", [b])
    doc = make_docx([f"客户身份证号 {ID_NUMBER}"])
    r = start(denv, ta, "客户.docx", len(doc), conversation_id=conv)
    up = r.json()
    assert put(denv, ta, up["id"], 0, doc).status_code == 200
    r = denv.client.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=denv.h(ta), json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "dlp_confirm_required"
    r = denv.client.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=denv.h(ta), json={"confirm": True})
    assert r.status_code == 201, r.text
    with denv.rt.db.read() as s:
        actions = s.execute(select(DlpHit.action).where(DlpHit.channel == "file")).scalars().all()
    assert "warn" in actions and len(actions) >= 2  # the unconfirmed attempt and the confirmed one


# ---- item 2: personal drive --------------------------------------------------------------------------

def test_drive_folders_upload_download_rename_move_delete(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    _b, tb = denv.person("lisi", "李四")
    f1 = denv.client.post("/api/v1/drive/folders", headers=denv.h(ta), json={"name": "报表"}).json()
    f2 = denv.client.post("/api/v1/drive/folders", headers=denv.h(ta), json={"name": "归档"}).json()
    data = b"quarterly figures\n" * 1000
    item = upload(denv, ta, "季度报表.txt", data, parent_id=f1["id"]).json()
    assert item["parent_id"] == f1["id"] and item["scan_status"] == "clean"
    # Encrypted at rest.
    assert blobs(denv) and all(b"quarterly figures" not in p.read_bytes() for p in blobs(denv))
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(ta)).content == data
    # Nobody else sees it.
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(tb)).status_code == 404
    assert denv.client.get("/api/v1/drive", headers=denv.h(tb)).json()["items"] == []
    r = denv.client.patch(f"/api/v1/drive/items/{item['id']}", headers=denv.h(ta), json={"name": "二季度报表.txt"})
    assert r.status_code == 200 and r.json()["name"] == "二季度报表.txt"
    r = denv.client.post(f"/api/v1/drive/items/{item['id']}/move", headers=denv.h(ta), json={"parent_id": f2["id"]})
    assert r.status_code == 200 and r.json()["parent_id"] == f2["id"]
    # A folder cannot go inside itself.
    sub = denv.client.post("/api/v1/drive/folders", headers=denv.h(ta), json={"name": "子", "parent_id": f1["id"]}).json()
    assert denv.client.post(f"/api/v1/drive/items/{f1['id']}/move", headers=denv.h(ta),
                            json={"parent_id": sub["id"]}).status_code == 422
    listing = denv.client.get("/api/v1/drive", params={"parent_id": f2["id"]}, headers=denv.h(ta)).json()
    assert [i["name"] for i in listing["items"]] == ["二季度报表.txt"] and listing["usage"]["used"] == len(data)
    assert denv.client.get("/api/v1/drive", params={"q": "报表"}, headers=denv.h(ta)).json()["items"][0]["name"] in ("报表", "二季度报表.txt")
    # A folder in the recycle bin takes what is inside it out of searches too.
    inner = upload(denv, ta, "子文件.txt", b"inner", parent_id=sub["id"]).json()
    assert [i["name"] for i in denv.client.get("/api/v1/drive", params={"q": "子文件"}, headers=denv.h(ta)).json()["items"]] == ["子文件.txt"]
    denv.client.delete(f"/api/v1/drive/items/{sub['id']}", headers=denv.h(ta))
    assert denv.client.get("/api/v1/drive", params={"q": "子文件"}, headers=denv.h(ta)).json()["items"] == []
    assert denv.client.get(f"/api/v1/drive/items/{inner['id']}/content", headers=denv.h(ta)).status_code == 404
    assert denv.client.post(f"/api/v1/drive/trash/{sub['id']}/restore", headers=denv.h(ta)).status_code == 200
    # Delete: to the recycle bin, restorable, still counted.
    assert denv.client.delete(f"/api/v1/drive/items/{item['id']}", headers=denv.h(ta)).status_code == 200
    bin_ = denv.client.get("/api/v1/drive/trash", headers=denv.h(ta)).json()
    assert [i["id"] for i in bin_["items"]] == [item["id"]] and bin_["days"] == 30
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(ta)).status_code == 404
    assert denv.client.post(f"/api/v1/drive/trash/{item['id']}/restore", headers=denv.h(ta)).status_code == 200
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(ta)).status_code == 200
    # After 30 days in the bin the file is destroyed: row, wrapped key and blob.
    denv.client.delete(f"/api/v1/drive/items/{item['id']}", headers=denv.h(ta))
    with denv.rt.db.write() as s:
        s.execute(update(DriveItem).where(DriveItem.id == item["id"])
                  .values(deleted_at=datetime.now(UTC) - timedelta(days=31)))
    before = len(blobs(denv))
    assert drive.purge_expired(denv.rt) == 1
    with denv.rt.db.read() as s:
        assert s.get(DriveItem, item["id"]) is None
    assert len(blobs(denv)) == before - 1
    assert audit(denv, "drive.destroyed")[0]["reason"] == "recycle_bin_expired"


def test_purge_from_the_bin_destroys_now(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    item = upload(denv, ta, "a.txt", b"abc" * 100).json()
    assert denv.client.delete(f"/api/v1/drive/trash/{item['id']}", headers=denv.h(ta)).status_code == 404  # not in the bin
    denv.client.delete(f"/api/v1/drive/items/{item['id']}", headers=denv.h(ta))
    assert denv.client.delete(f"/api/v1/drive/trash/{item['id']}", headers=denv.h(ta)).status_code == 204
    assert blobs(denv) == [] and denv.client.get("/api/v1/drive/trash", headers=denv.h(ta)).json()["items"] == []


def test_quota_and_file_limit_are_enforced_before_any_byte(tmp_path: Path, clamd_socket: str) -> None:
    env, close = build_env(tmp_path, "sqlite", MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_DRIVE_MAX_FILE_BYTES="5000",
                           MIXUN_DRIVE_QUOTA_BYTES="8000")
    try:
        uid, ta = env.person("zhangsan", "张三", unit="总行/信息科技部")
        _s, tsys = staff(env, "sys1", "系统管理员", "sysadmin")
        r = start(env, ta, "big.txt", 5001)
        assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
        assert upload(env, ta, "one.txt", b"x" * 5000).status_code == 201
        r = start(env, ta, "two.txt", 3001)  # 5000 + 3001 > 8000
        assert r.status_code == 413 and r.json()["error"]["code"] == "drive_quota_exceeded"
        # An upload in progress reserves its size: two at once cannot share the same free space.
        assert start(env, ta, "two.txt", 2000).status_code == 201
        assert start(env, ta, "three.txt", 2000).json()["error"]["code"] == "drive_quota_exceeded"
        with env.rt.db.read() as s:
            assert s.execute(select(func.count()).select_from(DriveUpload)).scalar_one() == 1
        # sysadmin raises the unit's quota, then sets the person's own (which wins).
        units = env.client.get("/api/v1/admin/units", headers=env.h(tsys)).json()
        unit_id = next(u["id"] for u in (units.get("units") or units) if u["path"] == "总行/信息科技部")
        assert env.client.put("/api/v1/admin/drive/quotas", headers=env.h(tsys),
                              json={"unit_id": unit_id, "quota_bytes": 20000}).status_code == 200
        assert env.client.get("/api/v1/drive/usage", headers=env.h(ta)).json()["quota_source"] == "unit"
        assert start(env, ta, "three.txt", 2000).status_code == 201
        assert env.client.put("/api/v1/admin/drive/quotas", headers=env.h(tsys),
                              json={"user_id": uid, "quota_bytes": 9500}).status_code == 200
        u = env.client.get("/api/v1/drive/usage", headers=env.h(ta)).json()
        assert u["quota"] == 9500 and u["quota_source"] == "user" and u["reserved"] == 4000
        assert start(env, ta, "four.txt", 600).json()["error"]["code"] == "drive_quota_exceeded"
        # Staff cannot set quotas.
        assert env.client.put("/api/v1/admin/drive/quotas", headers=env.h(ta),
                              json={"user_id": uid, "quota_bytes": 10**12}).status_code == 403
        assert audit(env, "drive.quota_set")
    finally:
        close()


# ---- item 3: chunked, resumable, verified; Range downloads -------------------------------------------

def test_chunks_are_verified_and_an_upload_resumes(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    data = bytes(range(256)) * (9 * 1024 * 1024 // 256)  # 9 MiB: three chunks
    up = start(denv, ta, "大文件.bin", len(data), sha256=hashlib.sha256(data).hexdigest()).json()
    assert up["chunks"] == 3
    size = up["chunk_size"]
    parts = [data[i * size:(i + 1) * size] for i in range(3)]
    bad = put(denv, ta, up["id"], 0, parts[0], sha="0" * 64)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "chunk_mismatch"
    assert put(denv, ta, up["id"], 0, parts[0][:-1]).json()["error"]["code"] == "chunk_mismatch"
    assert put(denv, ta, up["id"], 0, parts[0]).status_code == 200
    assert put(denv, ta, up["id"], 2, parts[2]).status_code == 200
    # The connection drops: the client asks what the server holds and sends the rest.
    r = denv.client.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=denv.h(ta), json={})
    assert r.status_code == 409 and r.json()["error"]["missing"] == [1]
    assert denv.client.get(f"/api/v1/drive/uploads/{up['id']}", headers=denv.h(ta)).json()["received"] == [0, 2]
    assert put(denv, ta, up["id"], 1, parts[1]).status_code == 200
    r = denv.client.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=denv.h(ta), json={})
    assert r.status_code == 201, r.text
    item = r.json()
    url = f"/api/v1/drive/items/{item['id']}/content"
    whole = denv.client.get(url, headers=denv.h(ta))
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    part = denv.client.get(url, headers={**denv.h(ta), "Range": "bytes=1048570-5242890"})
    assert part.status_code == 206 and part.content == data[1048570:5242891]
    assert part.headers["content-range"] == f"bytes 1048570-5242890/{len(data)}"
    tail = denv.client.get(url, headers={**denv.h(ta), "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    r = denv.client.get(url, headers={**denv.h(ta), "Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.json()["error"]["code"] == "range_not_satisfiable"
    # One download record, not one per range.
    assert len(audit(denv, "drive.downloaded")) == 1
    # Another person cannot touch the upload.
    _b, tb = denv.person("lisi", "李四")
    up2 = start(denv, ta, "x.txt", 3).json()
    assert put(denv, tb, up2["id"], 0, b"abc").status_code == 404


def test_a_declared_checksum_must_match_the_whole_file(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    r = upload(denv, ta, "a.txt", b"hello drive", sha256="1" * 64)
    assert r.status_code == 422 and r.json()["error"]["code"] == "chunk_mismatch"
    assert blobs(denv) == []


def test_malware_is_refused_and_nothing_kept(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    r = upload(denv, ta, "readme.txt", b"harmless start " + EICAR)
    assert r.status_code == 422 and r.json()["error"]["code"] == "malware_detected"
    assert blobs(denv) == [] and denv.client.get("/api/v1/drive", headers=denv.h(ta)).json()["items"] == []
    assert audit(denv, "file.infected")
    # The refused upload is gone with its reserved space.
    assert denv.client.get("/api/v1/drive/usage", headers=denv.h(ta)).json()["reserved"] == 0


# ---- item 2: sharing into a conversation -------------------------------------------------------------

def test_sharing_goes_through_dlp_channel_drive_and_the_scan(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    b, tb = denv.person("lisi", "李四")
    conv = direct(denv, ta, b)
    doc = make_docx([f"客户身份证号 {ID_NUMBER}"])
    item = upload(denv, ta, "客户资料.docx", doc).json()  # a private drive takes it; sharing is checked
    r = denv.client.post(f"/api/v1/drive/items/{item['id']}/share", headers=denv.h(ta), json={"conversation_id": conv})
    assert r.status_code == 422 and r.json()["error"]["code"] == "dlp_confirm_required"
    with denv.rt.db.read() as s:
        assert s.execute(select(DlpHit.channel)).scalars().all() == ["drive"]
    r = denv.client.post(f"/api/v1/drive/items/{item['id']}/share", headers=denv.h(ta),
                         json={"conversation_id": conv, "confirm": True})
    assert r.status_code == 201, r.text
    att = r.json()["attachments"][0]
    assert att["filename"] == "客户资料.docx" and att["scan_status"] == "clean"
    assert denv.client.get(f"/api/v1/attachments/{att['id']}", headers=denv.h(tb)).content == doc
    assert audit(denv, "drive.shared")[0]["conversation_id"] == conv
    # Not into a conversation one does not belong to.
    _c, tc = denv.person("wangwu", "王五")
    other = direct(denv, tb, _c)
    r = denv.client.post(f"/api/v1/drive/items/{item['id']}/share", headers=denv.h(ta), json={"conversation_id": other})
    assert r.status_code == 404


# ---- item 4: unused files and non-work types ---------------------------------------------------------

def test_unused_files_are_flagged_owners_reminded_and_may_keep(denv: Env) -> None:
    uid, ta = denv.person("zhangsan", "张三")
    old = upload(denv, ta, "旧.txt", b"old" * 10).json()
    fresh = upload(denv, ta, "新.txt", b"new" * 10).json()
    with denv.rt.db.write() as s:
        s.execute(update(DriveItem).where(DriveItem.id == old["id"])
                  .values(last_opened_at=datetime.now(UTC) - timedelta(days=181)))
    assert drive.flag_unused(denv.rt) == 1
    assert drive.flag_unused(denv.rt) == 0  # reminded once
    listed = denv.client.get("/api/v1/drive/unused", headers=denv.h(ta)).json()
    assert [i["id"] for i in listed["items"]] == [old["id"]] and listed["days"] == 180
    with denv.rt.db.read() as s:
        assert events_of(s, uid, "drive.unused") == 1
    assert denv.client.post(f"/api/v1/drive/items/{old['id']}/keep", headers=denv.h(ta)).status_code == 200
    assert denv.client.get("/api/v1/drive/unused", headers=denv.h(ta)).json()["items"] == []
    assert fresh["flagged_unused"] is False


def test_non_work_types_are_refused_and_secadmin_keeps_the_list(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    _s, tsec = staff(denv, "sec1", "安全员", "secadmin")
    r = start(denv, ta, "电影.mp4", 1000)
    assert r.status_code == 415 and r.json()["error"]["code"] == "drive_type_not_allowed"
    # A program renamed to .txt is still a program.
    r = upload(denv, ta, "说明.txt", b"MZ\x90\x00" + b"\x00" * 200)
    assert r.status_code == 415 and r.json()["error"]["extension"] == "exe" and blobs(denv) == []
    assert denv.client.post("/api/v1/admin/drive/blocked-types", headers=denv.h(ta),
                            json={"extension": "psd"}).status_code == 403
    r = denv.client.post("/api/v1/admin/drive/blocked-types", headers=denv.h(tsec), json={"extension": ".PSD", "label": "设计稿"})
    assert r.status_code == 201 and any(t["extension"] == "psd" for t in r.json()["types"])
    assert start(denv, ta, "海报.psd", 10).json()["error"]["code"] == "drive_type_not_allowed"
    item = upload(denv, ta, "海报.txt", b"poster").json()
    assert denv.client.patch(f"/api/v1/drive/items/{item['id']}", headers=denv.h(ta),
                             json={"name": "海报.psd"}).status_code == 415
    assert denv.client.delete("/api/v1/admin/drive/blocked-types/psd", headers=denv.h(tsec)).status_code == 200
    assert start(denv, ta, "海报.psd", 10).status_code == 201
    assert audit(denv, "drive.type_blocked") and audit(denv, "drive.type_allowed")


# ---- item 5: reports ---------------------------------------------------------------------------------

def test_a_reported_file_is_checked_and_removed_by_secadmin(denv: Env) -> None:
    a, ta = denv.person("zhangsan", "张三")
    b, tb = denv.person("lisi", "李四")
    _s, tsec = staff(denv, "sec1", "安全员", "secadmin")
    conv = group(denv, ta, "项目组", [b])
    item = upload(denv, ta, "娱乐.txt", b"not work at all", conversation_id=conv).json()
    assert denv.client.post(f"/api/v1/drive/items/{item['id']}/report", headers=denv.h(tb),
                            json={"reason": "与工作无关的内容"}).status_code == 201
    assert denv.client.post(f"/api/v1/drive/items/{item['id']}/report", headers=denv.h(tb),
                            json={"reason": "与工作无关的内容"}).status_code == 409
    assert denv.client.get("/api/v1/admin/drive/reports", headers=denv.h(tb)).status_code == 403
    listed = denv.client.get("/api/v1/admin/drive/reports", headers=denv.h(tsec)).json()["reports"]
    assert listed[0]["item"]["name"] == "娱乐.txt" and listed[0]["reporter_name"] == "李四"
    assert "content" not in listed[0]["item"]
    # secadmin never downloads it.
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(tsec)).status_code == 403
    rid = listed[0]["id"]
    assert denv.client.post(f"/api/v1/admin/drive/reports/{rid}/decision", headers=denv.h(tsec),
                            json={"action": "remove", "reason": "x"}).status_code == 422
    r = denv.client.post(f"/api/v1/admin/drive/reports/{rid}/decision", headers=denv.h(tsec),
                         json={"action": "remove", "reason": "与工作无关，按制度删除"})
    assert r.status_code == 200 and r.json()["status"] == "removed"
    assert denv.client.post(f"/api/v1/admin/drive/reports/{rid}/decision", headers=denv.h(tsec),
                            json={"action": "dismiss", "reason": "再次处理一下"}).status_code == 409
    assert denv.client.get(f"/api/v1/drive/items/{item['id']}/content", headers=denv.h(tb)).status_code == 404
    told = denv.client.get("/api/v1/drive/removed", headers=denv.h(ta)).json()["items"]
    assert told[0]["name"] == "娱乐.txt" and told[0]["reason"] == "与工作无关，按制度删除"
    assert audit(denv, "drive.removed")[0]["reason"] == "与工作无关，按制度删除"
    with denv.rt.db.read() as s:
        assert events_of(s, a, "drive.removed") == 1


def test_a_removed_personal_file_is_destroyed(denv: Env) -> None:
    _a, ta = denv.person("zhangsan", "张三")
    _s, tsec = staff(denv, "sec1", "安全员", "secadmin")
    item = upload(denv, ta, "私人.txt", b"private").json()
    assert denv.client.post(f"/api/v1/drive/items/{item['id']}/report", headers=denv.h(ta),
                            json={"reason": "自查上报"}).status_code == 201
    rid = denv.client.get("/api/v1/admin/drive/reports", headers=denv.h(tsec)).json()["reports"][0]["id"]
    denv.client.post(f"/api/v1/admin/drive/reports/{rid}/decision", headers=denv.h(tsec),
                     json={"action": "remove", "reason": "违反网盘使用规定"})
    assert blobs(denv) == []
    with denv.rt.db.read() as s:
        assert s.get(DriveItem, item["id"]).data_key_wrapped is None  # type: ignore[union-attr]


# ---- item 6: departure --------------------------------------------------------------------------------

def test_on_departure_the_drive_goes_whole_to_the_manager_then_to_whom_hr_names(denv: Env) -> None:
    _s, tsys = staff(denv, "sys1", "系统管理员", "sysadmin")
    a, ta = denv.person("zhangsan", "张三", unit="总行/公司业务部")
    head, thead = denv.person("zhaoliu", "赵六", unit="总行/公司业务部", roles=["unit_head"])
    other, tother = denv.person("qianqi", "钱七", unit="总行/公司业务部")
    _hr, thr = staff(denv, "hr1", "人力", "hr")
    folder = denv.client.post("/api/v1/drive/folders", headers=denv.h(ta), json={"name": "客户档案"}).json()
    f1 = upload(denv, ta, "甲公司.txt", b"a" * 100, parent_id=folder["id"]).json()
    f2 = upload(denv, ta, "乙公司.txt", b"b" * 50).json()
    denv.client.delete(f"/api/v1/drive/items/{f2['id']}", headers=denv.h(ta))  # even the recycle bin goes
    r = denv.client.post(f"/api/v1/admin/users/{a}/depart", headers=denv.h(tsys), json={"reason": "resignation"})
    assert r.status_code == 200, r.text
    assert r.json()["drive"]["handed_to"] == head and r.json()["drive"]["files"] == 2
    root = denv.client.get("/api/v1/drive", headers=denv.h(thead)).json()["items"]
    assert [i["name"] for i in root] == ["张三的网盘（交接）"] and root[0]["handed_from_name"] == "张三"
    inside = denv.client.get("/api/v1/drive", params={"parent_id": root[0]["id"]}, headers=denv.h(thead)).json()
    assert [i["name"] for i in inside["items"]] == ["客户档案"]
    got = denv.client.get(f"/api/v1/drive/items/{f1['id']}/content", headers=denv.h(thead))
    assert got.status_code == 200 and got.content == b"a" * 100
    assert [i["id"] for i in denv.client.get("/api/v1/drive/trash", headers=denv.h(thead)).json()["items"]] == [f2["id"]]
    assert audit(denv, "drive.handed_over")[0]["to_user_id"] == head
    # HR names another person: the whole drive moves on.
    assert denv.client.post(f"/api/v1/admin/users/{a}/drive-handover", headers=denv.h(tother),
                            json={"to_user_id": other}).status_code == 403
    r = denv.client.post(f"/api/v1/admin/users/{a}/drive-handover", headers=denv.h(thr), json={"to_user_id": other})
    assert r.status_code == 200 and r.json()["handed_to"] == other
    assert denv.client.get("/api/v1/drive", headers=denv.h(thead)).json()["items"] == []
    assert denv.client.get(f"/api/v1/drive/items/{f1['id']}/content", headers=denv.h(tother)).content == b"a" * 100
    assert audit(denv, "drive.handed_over")[-1]["previous_holder"] == head
    # Only departed people's drives are handed over.
    assert denv.client.post(f"/api/v1/admin/users/{other}/drive-handover", headers=denv.h(thr),
                            json={"to_user_id": head}).status_code == 409


def test_only_hr_names_the_recipient_and_never_an_administrator(denv: Env) -> None:
    """Who receives a departed person's files is a reach into content: HR's (the role that owns
    departures), not sysadmin's (三员分立); an administrator's account has no drive to receive it."""
    sysadmin, tsys = staff(denv, "sys1", "系统管理员", "sysadmin")
    a, ta = denv.person("zhangsan", "张三", unit="总行/公司业务部")
    head, _th = denv.person("zhaoliu", "赵六", unit="总行/公司业务部", roles=["unit_head"])
    other, tother = denv.person("qianqi", "钱七", unit="总行/零售部")
    _hr, thr = staff(denv, "hr1", "人力", "hr")
    f = upload(denv, ta, "甲公司.txt", b"a" * 100).json()
    assert denv.client.post(f"/api/v1/admin/users/{a}/depart", headers=denv.h(tsys),
                            json={"reason": "resignation"}).status_code == 200
    for method, url, body in (("GET", "/api/v1/admin/drive/handovers", None),
                              ("POST", f"/api/v1/admin/users/{a}/drive-handover", {"to_user_id": other})):
        r = denv.client.request(method, url, headers=denv.h(tsys), json=body)
        assert r.status_code == 403, r.text
    assert denv.client.get(f"/api/v1/drive/items/{f['id']}/content", headers=denv.h(tother)).status_code == 404
    assert audit(denv, "drive.handed_over")[-1]["to_user_id"] == head
    r = denv.client.post(f"/api/v1/admin/users/{a}/drive-handover", headers=denv.h(thr), json={"to_user_id": sysadmin})
    assert r.status_code == 422 and r.json()["error"]["field"] == "to_user_id"
    rows = denv.client.get("/api/v1/admin/drive/handovers", headers=denv.h(thr)).json()["handovers"]
    assert [(x["name"], x["unit"], x["holder_name"], x["manager_id"], x["manager_name"], x["files"]) for x in rows] == [
        ("张三", "总行/公司业务部", "赵六", head, "赵六", 1)]


def test_without_a_manager_the_drive_waits_for_hr(denv: Env) -> None:
    _s, tsys = staff(denv, "sys1", "系统管理员", "sysadmin")
    a, ta = denv.person("zhangsan", "张三", unit="总行/零售部")
    upload(denv, ta, "a.txt", b"abc")
    r = denv.client.post(f"/api/v1/admin/users/{a}/depart", headers=denv.h(tsys), json={"reason": "retirement"})
    assert r.json()["drive"]["handed_to"] is None
    assert audit(denv, "drive.handover_pending")[0]["files"] == 1
