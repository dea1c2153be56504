"""Group file spaces (群文件) in the compliance archive (issue 20 item 1): a member's upload into a group's
space, deleted by members, is found by the compliance officer by name, person, group and time, with its
metadata in names; opened and exported (the bytes in the signed export) with a stated reason, audited;
sysadmin and ordinary staff are refused. SQLite and PostgreSQL, real clamd."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from mixun.db.models import AuditLog
from mixun.db.models_archive import LegalHold, RetentionDestroyed
from mixun.db.models_drive import DriveItem
from mixun.services import export
from tests.archive.conftest import cli_ctx
from tests.conftest import Env, build_env
from tests.helpers import group, staff

C = "/api/v1/compliance"
F = f"{C}/archive/group-files"
WHY = {"category": "internal_investigation", "reason": "内部调查：核对授信审批底稿的流转"}
MINUTES = "2026 年第三季度授信审批底稿：客户甲额度 3000 万元。".encode() * 50


@pytest.fixture(params=["sqlite", "postgresql"])
def genv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket)
    yield e
    close()


def _upload(env: Env, token: str, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    r = env.client.post("/api/v1/drive/uploads", headers=env.h(token), json={"name": name, "size": len(data), **extra})
    assert r.status_code == 201, r.text
    up = r.json()
    r = env.client.put(f"/api/v1/drive/uploads/{up['id']}/chunks/0", content=data,
                       headers={**env.h(token), "Content-Type": "application/octet-stream",
                                "X-Chunk-SHA256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 200, r.text
    r = env.client.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=env.h(token), json={})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _space(env: Env) -> dict[str, Any]:
    """张三's group 授信审批群 with 李四: a folder 审批材料 (张三's), 李四's 底稿 uploaded into it and then
    deleted by him, 张三's 会议安排 at the root, moved into the folder and renamed."""
    a, ta = env.person("zhangsan", "张三", unit="总行/公司金融部")
    b, tb = env.person("lisi", "李四", unit="北京分行/营业部")
    conv = group(env, ta, "授信审批群", [b])
    folder = env.client.post("/api/v1/drive/folders", headers=env.h(ta), json={"name": "审批材料", "conversation_id": conv})
    assert folder.status_code == 201, folder.text
    fid = folder.json()["id"]
    draft = _upload(env, tb, "授信审批底稿.txt", MINUTES, conversation_id=conv, parent_id=fid)
    assert env.client.delete(f"/api/v1/drive/items/{draft['id']}", headers=env.h(tb)).status_code == 200
    plan = _upload(env, ta, "会议安排.txt", "周三上午审批会".encode(), conversation_id=conv)
    assert env.client.post(f"/api/v1/drive/items/{plan['id']}/move", headers=env.h(ta), json={"parent_id": fid}).status_code == 200
    assert env.client.patch(f"/api/v1/drive/items/{plan['id']}", headers=env.h(ta), json={"name": "审批会安排.txt"}).status_code == 200
    # Members no longer see the deleted file.
    inside = env.client.get(f"/api/v1/conversations/{conv}/space", params={"parent_id": fid}, headers=env.h(ta)).json()
    assert [i["name"] for i in inside["items"]] == ["审批会安排.txt"]
    return {"a": a, "b": b, "conv": conv, "folder": fid, "draft": draft["id"], "plan": plan["id"]}


def _actions(env: Env, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    with env.rt.db.read() as s:
        rows = s.execute(select(AuditLog.action, AuditLog.details).where(AuditLog.action.like(prefix + "%"))
                         .order_by(AuditLog.id)).all()
    return [(a, d if isinstance(d, dict) else json.loads(d)) for a, d in rows]


def test_officer_finds_a_deleted_group_file_with_its_metadata_and_opens_it(genv: Env) -> None:
    x = _space(genv)
    _o, to = staff(genv, "hegui", "何规", "compliance")
    h = genv.h(to)
    r = genv.client.get(F, headers=h, params={"q": "底稿", **WHY})
    assert r.status_code == 200, r.text
    [hit] = r.json()["results"]
    assert hit["id"] == x["draft"] and hit["name"] == "授信审批底稿.txt" and hit["kind"] == "file"
    assert hit["uploader"]["name"] == "李四" and hit["uploader"]["unit"] == "北京分行/营业部"
    assert hit["conversation"] == {"id": x["conv"], "name": "授信审批群"}
    assert hit["folder_path"] == "审批材料" and hit["size"] == len(MINUTES) and hit["scan_status"] == "clean"
    assert hit["state"] == "deleted" and hit["deleted_by"] == "李四" and hit["deleted_at"]
    assert [e["action"] for e in hit["history"]] == ["uploaded", "deleted"]
    assert all(e["by"] == "李四" for e in hit["history"])
    # The moved and renamed file says so, with the folder it went to and its old name.
    [plan] = genv.client.get(F, headers=h, params={"q": "审批会", **WHY}).json()["results"]
    assert plan["state"] == "present" and plan["moved"] and plan["renamed"] and plan["uploader"]["name"] == "张三"
    moved = next(e for e in plan["history"] if e["action"] == "moved")
    renamed = next(e for e in plan["history"] if e["action"] == "renamed")
    assert moved["to"] == "审批材料" and moved["by"] == "张三" and renamed["old"] == "会议安排.txt"
    # The folder structure is in the archive too.
    folders = genv.client.get(F, headers=h, params={"q": "审批材料", **WHY}).json()["results"]
    assert [(f["kind"], f["name"], f["uploader"]["name"]) for f in folders] == [("folder", "审批材料", "张三")]
    # By person (name, username or employee number), by group (part of its name), by time.
    by_b = genv.client.get(F, headers=h, params={"person_q": "李四", **WHY}).json()["results"]
    assert [i["id"] for i in by_b] == [x["draft"]]
    assert genv.client.get(F, headers=h, params={"person_q": "lisi", **WHY}).json()["results"] == by_b
    assert genv.client.get(F, headers=h, params={"person_q": "查无此人", **WHY}).json()["results"] == []
    in_group = genv.client.get(F, headers=h, params={"group_q": "授信", **WHY}).json()["results"]
    assert {i["id"] for i in in_group} == {x["draft"], x["plan"], x["folder"]}
    assert genv.client.get(F, headers=h, params={"group_q": "别的群", **WHY}).json()["results"] == []
    assert genv.client.get(F, headers=h, params={"since": "2999-01-01T00:00:00Z", **WHY}).json()["results"] == []
    assert len(genv.client.get(F, headers=h, params={"until": "2999-01-01T00:00:00Z", **WHY}).json()["results"]) == 3
    assert genv.client.get(F, headers=h, params={"since": "2999-01-02T00:00:00Z", "until": "2999-01-01T00:00:00Z",
                                                 **WHY}).status_code == 422
    # The deleted file's bytes are still there for compliance, with a reason; none without one.
    url = f"{F}/{x['draft']}/content"
    assert genv.client.get(url, headers=h).status_code == 422
    assert genv.client.get(url, headers=h, params={"category": "other", "reason": "看看"}).status_code == 422
    got = genv.client.get(url, headers=h, params=WHY)
    assert got.status_code == 200 and got.content == MINUTES
    assert "attachment" in got.headers["content-disposition"] and got.headers["cache-control"] == "no-store"
    assert genv.client.get(f"{F}/{x['folder']}/content", headers=h, params=WHY).status_code == 404
    assert genv.client.get(f"{F}/999999/content", headers=h, params=WHY).status_code == 404
    # Every access is audited with the reason.
    acts = _actions(genv, "archive.group_file")
    assert [a for a, _ in acts].count("archive.group_files_searched") == 10  # the refused range is not
    viewed = [d for a, d in acts if a == "archive.group_file_viewed"]
    assert len(viewed) == 1 and viewed[0]["reason"] == WHY["reason"] and viewed[0]["reason_category"] == "internal_investigation"
    assert viewed[0]["conversation_id"] == x["conv"] and viewed[0]["filename"] == "授信审批底稿.txt"


def test_the_export_holds_the_group_files_and_their_bytes(genv: Env) -> None:
    x = _space(genv)
    _o, to = staff(genv, "hegui", "何规", "compliance")
    h = genv.h(to)
    made = genv.client.post(f"{C}/exports", headers=h, json={**WHY, "conversation_id": x["conv"]})
    assert made.status_code == 201, made.text
    assert made.json()["counts"]["group_files"] == 3
    r = genv.client.get(f"{C}/exports/{made.json()['id']}/download", headers=h)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = z.namelist()
        root = next(n for n in names if n.endswith("/manifest.json")).rsplit("/", 1)[0]
        manifest = json.loads(z.read(f"{root}/manifest.json"))
        described = {g["id"]: g for g in manifest["group_files"]}
        draft = described[x["draft"]]
        assert draft["name"] == "授信审批底稿.txt" and draft["uploader"]["name"] == "李四"
        assert draft["conversation"]["name"] == "授信审批群" and draft["folder_path"] == "审批材料"
        assert draft["state"] == "deleted" and draft["deleted_by"] == "李四" and draft["scan_status"] == "clean"
        assert z.read(f"{root}/{draft['path']}") == MINUTES
        assert manifest["files"][draft["path"]]["sha256"] == hashlib.sha256(MINUTES).hexdigest() == draft["sha256"]
        assert described[x["folder"]]["kind"] == "folder" and "path" not in described[x["folder"]]
        assert z.read(f"{root}/{described[x['plan']]['path']}") == "周三上午审批会".encode()
        # The export still verifies against the server's key: the group files are in the signed manifest.
        out = Path(genv.settings.data_dir) / "exports" / root.rsplit("/", 1)[-1]
    key = export.load_signing_key(genv.settings)
    assert key is not None
    result = export.verify_export(out, key.public_key())
    assert result.ok, result.problems
    # A person's export holds what they uploaded into a group they were in; a date range outside none.
    mine = genv.client.post(f"{C}/exports", headers=h, json={**WHY, "user": "lisi", "formats": ["jsonl"]}).json()
    assert mine["counts"]["group_files"] == 3
    later = genv.client.post(f"{C}/exports", headers=h, json={**WHY, "since": "2999-01-01T00:00:00Z"}).json()
    assert later["counts"]["group_files"] == 0
    exported = [d for a, d in _actions(genv, "archive.exported")]
    assert len(exported) == 3 and exported[0]["counts"]["group_files"] == 3 and exported[0]["reason"].endswith(WHY["reason"])


def test_a_members_delete_keeps_the_content_for_the_archive(genv: Env) -> None:
    """Deleting in a group space (a file, or the folder above it) hides it from the members only: the row,
    its wrapped key and the blob stay, and the officer still reads it."""
    x = _space(genv)
    ta = genv.login("zhangsan")
    assert genv.client.delete(f"/api/v1/drive/items/{x['folder']}", headers=genv.h(ta)).status_code == 200
    with genv.rt.db.read() as s:
        for item_id in (x["draft"], x["plan"]):
            row = s.get(DriveItem, item_id)
            assert row is not None and row.blob_key and row.data_key_wrapped is not None
    _o, to = staff(genv, "hegui", "何规", "compliance")
    found = {i["id"]: i for i in genv.client.get(F, headers=genv.h(to), params={"group_q": "授信审批群", **WHY}).json()["results"]}
    assert found[x["folder"]]["state"] == "deleted" and found[x["folder"]]["deleted_by"] == "张三"
    assert found[x["plan"]]["state"] == "in_deleted_folder"
    got = genv.client.get(f"{F}/{x['plan']}/content", headers=genv.h(to), params=WHY)
    assert got.status_code == 200 and got.content == "周三上午审批会".encode()


def test_sysadmin_and_staff_cannot_reach_group_files_in_the_archive(genv: Env) -> None:
    x = _space(genv)
    _s, ts = staff(genv, "sysadm", "系统员", "sysadmin")
    _e, te = genv.person("wangwu", "王五")
    tl = genv.login("lisi")  # the member who uploaded and deleted it
    for token in (ts, te, tl):
        assert genv.client.get(F, headers=genv.h(token), params={"q": "底稿", **WHY}).status_code == 403
        assert genv.client.get(f"{F}/{x['draft']}/content", headers=genv.h(token), params=WHY).status_code == 403
        assert genv.client.post(f"{C}/exports", headers=genv.h(token), json={**WHY, "conversation_id": x["conv"]}).status_code == 403
    # The member who deleted it cannot open it any more through the drive either.
    assert genv.client.get(f"/api/v1/drive/items/{x['draft']}/content", headers=genv.h(tl)).status_code == 404
    assert not _actions(genv, "archive.group_file")


LATER = datetime.now(UTC) + timedelta(days=6 * 365)  # past the default retention of files


def test_retention_destroys_group_files_only_when_their_time_is_up_and_no_hold_covers_them(genv: Env) -> None:
    """A member's delete never destroys (above); retention does, after the groups' files_days, as it does
    a group's sent files: the row with its wrapped key and the blob go, the folder stays; a hold keeps them."""
    from mixun.services import retention

    x = _space(genv)
    blobs = [p for p in (genv.settings.blob_dir / "drive").rglob("*") if p.is_file()]
    assert len(blobs) == 2
    assert retention.run(cli_ctx(genv), now=datetime.now(UTC) + timedelta(days=30))["counts"]["group_files"] == 0
    _o, to = staff(genv, "hegui", "何规", "compliance")
    hold = genv.client.post(f"{C}/holds", headers=genv.h(to), json={"conversation_id": x["conv"], "reason": "诉讼保全 2026-18"})
    assert hold.status_code == 201, hold.text
    held = retention.run(cli_ctx(genv), now=LATER)["counts"]
    assert held["group_files"] == 0 and held["held"] == 2 and all(p.exists() for p in blobs)
    # Without the hold (released: here straight in the table, the release's own rules are tested elsewhere).
    with genv.rt.db.write() as s:
        s.execute(update(LegalHold).values(released_at=datetime.now(UTC)))
    done = retention.run(cli_ctx(genv), now=LATER)["counts"]
    assert done["group_files"] == 2 and not any(p.exists() for p in blobs)
    with genv.rt.db.read() as s:
        assert s.get(DriveItem, x["draft"]) is None and s.get(DriveItem, x["plan"]) is None
        assert s.get(DriveItem, x["folder"]) is not None
        gone = s.execute(select(RetentionDestroyed.ref_id).where(RetentionDestroyed.kind == "group_file")).scalars().all()
    assert sorted(gone) == sorted([x["draft"], x["plan"]])
