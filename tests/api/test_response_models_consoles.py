"""The consoles' response models tell the truth: sysadmin's account list and creation, and the fault
reports (the reporter's own, one report with replies, the handlers' queue), on SQLite and PostgreSQL,
conform to the OpenAPI document with extra keys refused (the checker of test_response_models.py), the
nullable and optional parts reached."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import update

from mixun.db.models import User
from mixun.db.models_dlp import DlpSanction
from tests.api.test_response_models import violations
from tests.conftest import PASSWORD, Env
from tests.helpers import group, send, staff


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def check(env: Env, out: dict[str, tuple[str, str, int, Any]]) -> None:
    """Each (method, route, status, response) answered its status, with the document's named model."""
    doc = env.client.get("/api/v1/openapi.json").json()
    problems = []
    for name, (method, route, status, r) in out.items():
        assert r.status_code == status, (name, r.text)
        schema = doc["paths"][route][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        assert "$ref" in schema, (method, route)
        problems += [f"{name}: {p}" for p in violations(doc, schema, r.json())]
    assert not problems, "\n".join(problems)


def test_the_account_console_answers_its_models(env: Env) -> None:
    c = env.client
    _s, tsys = staff(env, "sys1", "系统管理员", "sysadmin")
    comp, _tc = staff(env, "comp1", "合规员", "compliance")
    a, _ta = env.person("zhangsan", "张三", phone="13800000001")
    gone = env.make_user("lisi", "李四")
    loose = env.make_user("wangwu", "王五")
    with env.rt.db.write() as s:
        s.execute(update(User).where(User.id == loose).values(unit_id=None, employee_no=None,
                                                              locked_until=datetime.now(UTC) + timedelta(hours=1)))
    assert c.post(f"/api/v1/admin/users/{gone}/depart", headers=env.h(tsys), json={"reason": "retirement"}).status_code == 200
    assert c.post(f"/api/v1/admin/users/{comp}/reset-password", headers=env.h(tsys)).status_code == 202  # filed
    out = {
        "create": ("post", "/api/v1/admin/users", 201, c.post("/api/v1/admin/users", headers=env.h(tsys), json={
            "username": "zhaoliu", "name": "赵六", "unit_path": "总行/信息科技部", "password": PASSWORD,
            "phone": "13800000009", "position": "柜员", "employee_no": "E2001"})),
        "create.bare": ("post", "/api/v1/admin/users", 201, c.post("/api/v1/admin/users", headers=env.h(tsys), json={
            "username": "qianqi", "name": "钱七", "unit_path": "总行/信息科技部", "password": PASSWORD})),
        "list": ("get", "/api/v1/admin/users", 200, c.get("/api/v1/admin/users", headers=env.h(tsys), params={"limit": 200})),
        "list.page": ("get", "/api/v1/admin/users", 200, c.get("/api/v1/admin/users", headers=env.h(tsys), params={"limit": 2})),
        "list.q": ("get", "/api/v1/admin/users", 200, c.get("/api/v1/admin/users", headers=env.h(tsys), params={"q": "张三"})),
    }
    check(env, out)
    users = {u["id"]: u for u in out["list"][3].json()["users"]}
    assert users[comp]["pending_approvals"] and users[gone]["departed_at"] and users[gone]["departure_reason"]
    assert users[loose]["unit_id"] is None and users[loose]["employee_no"] is None and users[loose]["locked"]
    assert users[a]["last_login_at"] and users[loose]["last_login_at"] is None
    assert users[a]["phone"] and users[loose]["phone"] is None
    assert out["list.page"][3].json()["next_offset"] == 2 and out["list"][3].json()["next_offset"] is None


def test_the_fault_reports_answer_their_models(env: Env) -> None:
    c = env.client
    _me, tok = env.person("zhangsan", "张三")
    sys_id, tsys = staff(env, "sys1", "系统管理员甲", "sysadmin")
    new = {"title": "无法发送文件", "location": "总行 3 楼", "description": "上传后一直转圈"}
    fid = c.post("/api/v1/faults", headers=env.h(tok), json=new).json()["id"]
    out: dict[str, tuple[str, str, int, Any]] = {
        "file": ("post", "/api/v1/faults", 201, c.post("/api/v1/faults", headers=env.h(tok), json={"title": "打印机无法连接"})),
        "attach": ("post", "/api/v1/faults/{report_id}/files", 201, c.post(
            f"/api/v1/faults/{fid}/files", headers=env.h(tok), files={"file": ("屏幕截图.png", png(), "image/png")})),
        "queue.fresh": ("get", "/api/v1/admin/faults", 200, c.get("/api/v1/admin/faults", headers=env.h(tsys))),
        "handlers": ("get", "/api/v1/admin/faults/handlers", 200, c.get("/api/v1/admin/faults/handlers", headers=env.h(tsys))),
        "assign": ("post", "/api/v1/admin/faults/{report_id}/assign", 200,
                   c.post(f"/api/v1/admin/faults/{fid}/assign", headers=env.h(tsys), json={"user_id": sys_id})),
        "reply": ("post", "/api/v1/faults/{report_id}/replies", 200,
                  c.post(f"/api/v1/faults/{fid}/replies", headers=env.h(tsys), json={"text": "请清除浏览器缓存后重试"})),
        "reply.back": ("post", "/api/v1/faults/{report_id}/replies", 200,
                       c.post(f"/api/v1/faults/{fid}/replies", headers=env.h(tok), json={"text": "还是不行"})),
        "resolve": ("post", "/api/v1/admin/faults/{report_id}/resolve", 200,
                    c.post(f"/api/v1/admin/faults/{fid}/resolve", headers=env.h(tsys), json={"resolution": "已升级客户端"})),
        "mine": ("get", "/api/v1/faults", 200, c.get("/api/v1/faults", headers=env.h(tok))),
        "one": ("get", "/api/v1/faults/{report_id}", 200, c.get(f"/api/v1/faults/{fid}", headers=env.h(tok))),
        "queue.all": ("get", "/api/v1/admin/faults", 200, c.get("/api/v1/admin/faults", headers=env.h(tsys),
                                                               params={"status": "all"})),
    }
    check(env, out)
    reports = out["queue.all"][3].json()["reports"]
    assert {r["assignee"] is None for r in reports} == {True, False} and {r["file"] is None for r in reports} == {True, False}
    assert {r["resolved_at"] is None for r in reports} == {True, False}
    assert [x["by_handler"] for x in out["one"][3].json()["replies"]] == [True, False]
    assert all("replies" not in r for r in reports)


def test_the_dlp_console_lists_hits_as_its_model(env: Env) -> None:
    c = env.client
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, "项目组", [b])
    assert send(env, ta, conv, "身份证 11010519491231002X").status_code == 201  # masked
    assert send(env, tb, conv, "机密★5年 关于授信额度的批复").status_code == 422  # blocked
    with env.rt.db.write() as s:
        s.merge(DlpSanction(user_id=b, level="suspension", violations=3, suspended_until=datetime.now(UTC) + timedelta(days=1)))
    out = {
        "hits": ("get", "/api/v1/dlp/hits", 200, c.get("/api/v1/dlp/hits", headers=env.h(tsec))),
        "hits.page": ("get", "/api/v1/dlp/hits", 200, c.get("/api/v1/dlp/hits", headers=env.h(tsec), params={"limit": 1})),
        "hits.person": ("get", "/api/v1/dlp/hits", 200, c.get("/api/v1/dlp/hits", headers=env.h(tsec), params={"user_id": a})),
    }
    check(env, out)
    body = out["hits"][3].json()
    assert {h["user_id"] for h in body["hits"]} == {a, b} and body["next_offset"] is None
    assert {p["suspended_until"] is None for p in body["by_person"]} == {True, False}
    assert out["hits.page"][3].json()["next_offset"] == 1
