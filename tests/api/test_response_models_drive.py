"""The drive's response models tell the truth: for a realistic drive (folders, a chunked upload, the
recycle bin, a group's space with a sent file, sharing, unused files, a report removed by secadmin,
quotas, non-work types, a departure handed over), every JSON answer of routes/drive.py conforms to the
OpenAPI document with extra keys refused (the checker of test_response_models.py), on SQLite and
PostgreSQL, with the optional and nullable parts reached."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from mixun.db.models import Unit
from mixun.db.models_drive import DriveItem
from mixun.services import drive
from tests.api.test_response_models import violations
from tests.conftest import Env, build_env
from tests.helpers import group, staff
from tests.unit.files.files_samples import make_docx


@pytest.fixture(params=["sqlite", "postgresql"])
def denv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_MAX_FILE_BYTES="2000000",
                         MIXUN_SEND_BURST="1000")
    yield e
    close()


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def upload(env: Env, token: str, name: str, data: bytes, out: dict[str, Any], tag: str, **extra: Any) -> Any:
    """Start, ask the status, send every chunk, complete; each answer filed under ``tag``."""
    c = env.client
    up = ok(c.post("/api/v1/drive/uploads", headers=env.h(token), json={"name": name, "size": len(data), **extra}), 201)
    out[f"upload.start.{tag}"] = ("post", "/api/v1/drive/uploads", "201", up)
    size = up["chunk_size"]
    for i in range(up["chunks"]):
        piece = data[i * size:(i + 1) * size]
        out[f"upload.chunk.{tag}.{i}"] = ("put", "/api/v1/drive/uploads/{upload_id}/chunks/{index}", "200", ok(c.put(
            f"/api/v1/drive/uploads/{up['id']}/chunks/{i}", content=piece,
            headers={**env.h(token), "Content-Type": "application/octet-stream",
                     "X-Chunk-SHA256": hashlib.sha256(piece).hexdigest()})))
    out[f"upload.status.{tag}"] = ("get", "/api/v1/drive/uploads/{upload_id}", "200",
                                   ok(c.get(f"/api/v1/drive/uploads/{up['id']}", headers=env.h(token))))
    item = ok(c.post(f"/api/v1/drive/uploads/{up['id']}/complete", headers=env.h(token), json={}), 201)
    out[f"upload.complete.{tag}"] = ("post", "/api/v1/drive/uploads/{upload_id}/complete", "201", item)
    return item


def scenario(env: Env) -> dict[str, tuple[str, str, str, Any]]:
    """name -> (method, route path, status, the JSON answered)."""
    c = env.client
    out: dict[str, tuple[str, str, str, Any]] = {}

    def call(name: str, method: str, route: str, url: str, token: str, status: int = 200, **kw: Any) -> Any:
        value = ok(c.request(method.upper(), url, headers=env.h(token), **kw), status)
        out[name] = (method, route, str(status), value)
        return value

    _s, tsys = staff(env, "sys1", "系统管理员", "sysadmin")
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _hr, thr = staff(env, "hr1", "人力", "hr")
    a, ta = env.person("zhangsan", "张三", unit="总行/公司业务部")
    b, tb = env.person("lisi", "李四", unit="总行/公司业务部")
    head, thead = env.person("zhaoliu", "赵六", unit="总行/公司业务部", roles=["unit_head"])
    leaver, tleaver = env.person("sunba", "孙八", unit="总行/零售部")
    gone, tgone = env.person("zhoujiu", "周九", unit="总行/公司业务部")
    conv = group(env, ta, "信贷项目组", [b])
    ok(c.post(f"/api/v1/conversations/{conv}/files", headers=env.h(ta),
              files={"file": ("投放计划.docx", make_docx(["二季度信贷投放计划"]), "application/octet-stream")}), 201)

    # A personal drive: folders, a two-chunk upload into one, rename, move, delete, the bin, restore.
    f1 = call("folder.create", "post", "/api/v1/drive/folders", "/api/v1/drive/folders", ta, 201, json={"name": "报表"})
    f2 = call("folder.create.sub", "post", "/api/v1/drive/folders", "/api/v1/drive/folders", ta, 201,
              json={"name": "归档", "parent_id": f1["id"]})
    item = upload(env, ta, "季度报表.txt", b"quarterly figures\n" * 40_000, out, "personal", parent_id=f1["id"])
    call("item.rename", "patch", "/api/v1/drive/items/{item_id}", f"/api/v1/drive/items/{item['id']}", ta,
         json={"name": "二季度报表.txt"})
    call("item.move", "post", "/api/v1/drive/items/{item_id}/move", f"/api/v1/drive/items/{item['id']}/move", ta,
         json={"parent_id": f2["id"]})
    spare = upload(env, ta, "草稿.txt", b"draft", out, "spare")
    call("item.delete", "delete", "/api/v1/drive/items/{item_id}", f"/api/v1/drive/items/{spare['id']}", ta)
    call("trash", "get", "/api/v1/drive/trash", "/api/v1/drive/trash", ta)
    call("trash.restore", "post", "/api/v1/drive/trash/{item_id}/restore", f"/api/v1/drive/trash/{spare['id']}/restore", ta)
    call("drive.root", "get", "/api/v1/drive", "/api/v1/drive", ta)
    call("drive.folder", "get", "/api/v1/drive", "/api/v1/drive", ta, params={"parent_id": f2["id"]})
    call("drive.search", "get", "/api/v1/drive", "/api/v1/drive", ta, params={"q": "报表"})
    call("usage", "get", "/api/v1/drive/usage", "/api/v1/drive/usage", ta)

    # A group's space: a folder and an upload there, beside the file sent in its chat; then shared.
    space_route = "/api/v1/conversations/{conversation_id}/space"
    call("space.folder", "post", "/api/v1/drive/folders", "/api/v1/drive/folders", tb, 201,
         json={"name": "材料", "conversation_id": conv})
    shared = upload(env, tb, "纪要.txt", b"meeting notes", out, "group", conversation_id=conv)
    call("space.root", "get", space_route, f"/api/v1/conversations/{conv}/space", ta)
    call("space.search", "get", space_route, f"/api/v1/conversations/{conv}/space", tb, params={"q": "计划"})
    call("share", "post", "/api/v1/drive/items/{item_id}/share", f"/api/v1/drive/items/{item['id']}/share", ta, 201,
         json={"conversation_id": conv, "client_id": "share-1"})

    # Unused files, kept.
    with env.rt.db.write() as s:
        s.execute(update(DriveItem).where(DriveItem.id == spare["id"])
                  .values(last_opened_at=datetime.now(UTC) - timedelta(days=181)))
    assert drive.flag_unused(env.rt) == 1
    call("unused", "get", "/api/v1/drive/unused", "/api/v1/drive/unused", ta)
    call("keep", "post", "/api/v1/drive/items/{item_id}/keep", f"/api/v1/drive/items/{spare['id']}/keep", ta)

    # Reports: one removed (a decision), one left open.
    call("report", "post", "/api/v1/drive/items/{item_id}/report", f"/api/v1/drive/items/{shared['id']}/report", ta, 201,
         json={"reason": "与工作无关的内容"})
    call("report.own", "post", "/api/v1/drive/items/{item_id}/report", f"/api/v1/drive/items/{spare['id']}/report", ta, 201,
         json={"reason": "自查上报一下"})
    rid = call("reports.open", "get", "/api/v1/admin/drive/reports", "/api/v1/admin/drive/reports", tsec)["reports"][-1]["id"]
    call("decision", "post", "/api/v1/admin/drive/reports/{report_id}/decision",
         f"/api/v1/admin/drive/reports/{rid}/decision", tsec, json={"action": "remove", "reason": "与工作无关，按制度删除"})
    call("reports.all", "get", "/api/v1/admin/drive/reports", "/api/v1/admin/drive/reports", tsec, params={"status": "all"})
    call("removed", "get", "/api/v1/drive/removed", "/api/v1/drive/removed", tb)

    # Non-work types, as staff and secadmin see them.
    call("types.add", "post", "/api/v1/admin/drive/blocked-types", "/api/v1/admin/drive/blocked-types", tsec, 201,
         json={"extension": "psd", "label": "设计稿"})
    call("types.add.bare", "post", "/api/v1/admin/drive/blocked-types", "/api/v1/admin/drive/blocked-types", tsec, 201,
         json={"extension": "ai"})
    call("types.remove", "delete", "/api/v1/admin/drive/blocked-types/{extension}", "/api/v1/admin/drive/blocked-types/ai", tsec)
    call("types.admin", "get", "/api/v1/admin/drive/blocked-types", "/api/v1/admin/drive/blocked-types", tsec)
    call("types", "get", "/api/v1/drive/blocked-types", "/api/v1/drive/blocked-types", ta)

    # Quotas: a person's and a unit's.
    with env.rt.db.read() as s:
        unit = s.execute(select(Unit.id).where(Unit.path == "总行/公司业务部")).scalar_one()
    call("quota.user", "put", "/api/v1/admin/drive/quotas", "/api/v1/admin/drive/quotas", tsys,
         json={"quota_bytes": 5_000_000, "user_id": a})
    call("quota.unit", "put", "/api/v1/admin/drive/quotas", "/api/v1/admin/drive/quotas", tsys,
         json={"quota_bytes": 9_000_000, "unit_id": unit})
    call("quotas", "get", "/api/v1/admin/drive/quotas", "/api/v1/admin/drive/quotas", tsys)

    # Departures: one drive goes to the unit head (then HR names another), one waits for HR.
    ok(c.post("/api/v1/drive/folders", headers=env.h(tgone), json={"name": "客户档案"}), 201)
    upload(env, tgone, "甲公司.txt", b"a" * 100, out, "gone")
    upload(env, tleaver, "乙公司.txt", b"b" * 50, out, "leaver")
    for uid in (gone, leaver):
        ok(c.post(f"/api/v1/admin/users/{uid}/depart", headers=env.h(tsys), json={"reason": "resignation"}))
    call("drive.handed", "get", "/api/v1/drive", "/api/v1/drive", thead)
    call("handovers", "get", "/api/v1/admin/drive/handovers", "/api/v1/admin/drive/handovers", thr)
    call("handover", "post", "/api/v1/admin/users/{user_id}/drive-handover", f"/api/v1/admin/users/{gone}/drive-handover",
         thr, json={"to_user_id": b})
    return out


@pytest.fixture
def answers(denv: Env) -> tuple[dict[str, Any], dict[str, tuple[str, str, str, Any]]]:
    return denv.client.get("/api/v1/openapi.json").json(), scenario(denv)


def test_every_drive_answer_is_exactly_its_model(answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
    doc, out = answers
    problems = []
    for name, (method, route, status, value) in out.items():
        schema = doc["paths"][route][method]["responses"][status]["content"]["application/json"]["schema"]
        assert "$ref" in schema, (method, route)  # the route names its model
        problems += [f"{name}: {p}" for p in violations(doc, schema, value)]
    assert not problems, "\n".join(problems)
    # Every JSON route of the drive is reached, and so are the optional and nullable parts.
    json_routes = {(m, p) for p, ops in doc["paths"].items() for m, op in ops.items()
                   if op.get("tags") == ["drive"] and "application/json" in
                   next(iter(op["responses"].values())).get("content", {})}
    assert json_routes == {(m, r) for m, r, _s, _v in out.values()}
    handed = out["drive.handed"][3]["items"]
    assert any("handed_from" in i for i in handed)
    assert out["item.delete"][3]["purge_at"] and out["trash"][3]["items"][0]["deleted_at"]
    assert out["space.root"][3]["sent_files"] and out["space.root"][3]["role"] and "usage" in out["drive.root"][3]
    assert any(i["scan_status"] is None for i in out["drive.root"][3]["items"])  # a folder
    reports = out["reports.all"][3]["reports"]
    assert {r["decided_at"] is None for r in reports} == {True, False}
    assert {q["unit_id"] is None for q in out["quotas"][3]["quotas"]} == {True, False}
    assert {h["holder_id"] is None for h in out["handovers"][3]["handovers"]} == {True, False}
    assert out["handover"][3]["folder_id"]
    # The wire is what the views produce: the default days stay integers (a ``float`` model would send 30.0).
    assert type(out["trash"][3]["days"]) is int and type(out["unused"][3]["days"]) is int
