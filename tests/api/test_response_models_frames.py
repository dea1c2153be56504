"""Every WebSocket frame has its model: a scenario that makes every event type happen (a chat's life,
a virus scan settling, a status change, a lockout, DLP escalating to a suspension, announcements and a
reminder, an account application, a group request, the drive's space, unused, removed and handed-over
notices), plus the socket's own frames (hello, pong, both errors) and a live-only presence notice. Each
frame conforms to the document's ``Frame`` (a union discriminated by ``type``) with extra keys refused,
on SQLite and PostgreSQL; an event type without a frame model of its own, or not produced here, fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from mixun.db.models import User
from mixun.db.models_drive import DriveItem
from mixun.domain.events import EventType
from mixun.services import drive, events, presence
from mixun.services.attachments import Antivirus, rescan_pending
from mixun.services.runtime import Ctx
from tests.api.test_response_models import violations
from tests.api.test_response_models_drive import upload
from tests.conftest import PASSWORD, Env, build_env
from tests.helpers import group, send, staff

UNIT_A = "总行/信息科技部"
UNIT_B = "总行/零售业务部"
SOCKET_FRAMES = {"hello", "pong", "error"}


@pytest.fixture(params=["sqlite", "postgresql"])
def fenv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_DLP_ESCALATION="1,2,3",
                         MIXUN_LOCKOUT_THRESHOLD="2", MIXUN_SEND_BURST="1000")
    yield e
    close()


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def socket_frames(env: Env, token: str) -> list[dict[str, Any]]:
    """What the socket itself answers: hello, pong, and both errors (and whatever arrives between)."""
    got: list[dict[str, Any]] = []

    def until(ws: Any, kind: str) -> None:
        while True:
            got.append(ws.receive_json())
            if got[-1]["type"] == kind:
                return

    with env.client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        until(ws, "hello")
        ws.send_json({"type": "ping"})
        until(ws, "pong")
        ws.send_text("not json")
        until(ws, "error")
        ws.send_json({"type": "resume", "after_event_seq": -1})
        until(ws, "error")
    return got


def live_presence(env: Env, user_id: int) -> list[dict[str, Any]]:
    """The live-only notice of someone coming online, as handed to the hub (no event_seq; not stored)."""
    handed: list[dict[str, Any]] = []
    real = env.rt.notify

    def notify(message: dict[str, Any]) -> None:
        handed.append(message)
        real(message)

    env.rt.notify = notify
    try:
        presence.announce_change(Ctx(rt=env.rt, ip="127.0.0.1", client="tests"), user_id, True)
    finally:
        env.rt.notify = real
    return [orjson.loads(m["payload"]) for m in handed]


def scenario(env: Env) -> list[dict[str, Any]]:
    c = env.client
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A)
    ls, ls_t = env.person("lisi", "李四", unit=UNIT_A)
    ww, ww_t = env.person("wangwu", "王五", unit=UNIT_B)
    _head, _head_t = env.person("zhuren", "主任", unit=UNIT_A, roles=["unit_head"])
    leaver, leaver_t = env.person("zhaoliu", "赵六", unit=UNIT_A)
    _hr, hr = env.person("hr1", "人事专员", unit="总行/人力资源部", roles=["hr"])
    _sys, sys = staff(env, "sys1", "系统管理员", "sysadmin")
    _sec, sec = staff(env, "sec1", "安全员", "secadmin")
    frames = socket_frames(env, zs_t)
    frames += live_presence(env, zs)

    # A chat's life.
    g = group(env, zs_t, "项目组", [ls, ww])
    first = ok(send(env, zs_t, g, "大家好"), 201)
    reply = ok(send(env, ls_t, g, "收到", reply_to=first["id"]), 201)
    ok(c.patch(f"/api/v1/messages/{reply['id']}", headers=env.h(ls_t), json={"text": "收到，谢谢"}))
    gone = ok(send(env, zs_t, g, "发错了"), 201)
    ok(c.post(f"/api/v1/messages/{gone['id']}/recall", headers=env.h(zs_t)))
    ok(c.post(f"/api/v1/messages/{first['id']}/reactions", headers=env.h(ls_t), json={"emoji": "👍"}))
    ok(c.post(f"/api/v1/conversations/{g}/read", headers=env.h(ww_t), json={"seq": first["seq"]}), 204)
    ok(c.patch(f"/api/v1/conversations/{g}", headers=env.h(zs_t), json={"name": "信贷项目组"}))
    ok(c.post(f"/api/v1/conversations/{g}/members", headers=env.h(zs_t), json={"user_ids": [leaver]}))
    ok(c.delete(f"/api/v1/conversations/{g}/members/{ww}", headers=env.h(zs_t)))
    ok(c.put(f"/api/v1/conversations/{g}/prefs", headers=env.h(ls_t), json={"pinned": True}))
    short = group(env, zs_t, "临时组", [ls])
    ok(c.post(f"/api/v1/conversations/{short}/dissolve", headers=env.h(zs_t)), 204)

    # A file sent while the scanner is away, settled once it is back.
    clamd = env.rt.antivirus
    env.rt.antivirus = Antivirus(str(env.settings.data_dir / "no-such-clamd.sock"))
    ok(c.post(f"/api/v1/conversations/{g}/files", headers=env.h(zs_t),
              files={"file": ("通知.txt", "普通的会议通知".encode(), "application/octet-stream")}), 201)
    env.rt.antivirus = clamd
    assert rescan_pending(env.rt) == 1

    # A status change; a lockout flagged to secadmin.
    ok(c.patch("/api/v1/me", headers=env.h(zs_t), json={"status": "busy"}))
    for _ in range(2):
        assert c.post("/api/v1/auth/login", json={"username": "wangwu", "password": PASSWORD + "x"}).status_code == 401

    # Announcements and a reminder; an account application; a group request.
    ann = ok(c.post("/api/v1/announcements", headers=env.h(hr), json={"title": "系统升级通知", "body": "周六升级。",
                                                                     "must_confirm": True}), 201)
    ok(c.post(f"/api/v1/announcements/{ann['id']}/remind", headers=env.h(hr)))
    units = {u["path"]: u["id"] for u in ok(c.get("/api/v1/directory/units", headers=env.h(zs_t)))["units"]}
    ok(c.post("/api/v1/applications", headers=env.h(zs_t), json={"name": "陈新", "employee_no": "E900001",
                                                                 "unit_id": units[UNIT_A]}), 201)
    ok(c.put("/api/v1/admin/function-rules", headers=env.h(sec), json={
        "scope": "user", "target_id": zs, "function": "cross_unit_groups_unreviewed", "allowed": False}))
    ok(c.post("/api/v1/conversations", headers=env.h(zs_t), json={"kind": "group", "name": "跨部门项目",
                                                                  "members": [ls, ww]}), 202)

    # The drive: a group's space changed, a file unused, a file removed, a departed colleague's drive.
    ok(c.post("/api/v1/drive/folders", headers=env.h(ls_t), json={"name": "材料", "conversation_id": g}), 201)
    idle = upload(env, zs_t, "旧表.txt", b"old figures", {}, "unused")
    with env.rt.db.write() as s:
        s.execute(update(DriveItem).where(DriveItem.id == idle["id"])
                  .values(last_opened_at=datetime.now(UTC) - timedelta(days=181)))
    assert drive.flag_unused(env.rt) == 1
    ok(c.post(f"/api/v1/drive/items/{idle['id']}/report", headers=env.h(zs_t), json={"reason": "自查上报一下"}), 201)
    rid = ok(c.get("/api/v1/admin/drive/reports", headers=env.h(sec)))["reports"][-1]["id"]
    ok(c.post(f"/api/v1/admin/drive/reports/{rid}/decision", headers=env.h(sec),
              json={"action": "remove", "reason": "与工作无关，按制度删除"}))
    upload(env, leaver_t, "客户.txt", b"a" * 100, {}, "leaver")
    ok(c.post(f"/api/v1/admin/users/{leaver}/depart", headers=env.h(sys), json={"reason": "resignation"}))

    # DLP escalating: a warning, the unit head told, then a suspension (last: ls can no longer send).
    for _ in range(3):
        assert send(env, ls_t, g, "机密★5年 关于授信额度的批复").status_code == 422

    with env.rt.db.read() as s:
        uids = list(s.execute(select(User.id)).scalars())
        frames += [{"event_seq": seq, **orjson.loads(body)} for uid in uids for seq, body in events.read_events(s, uid, 0)]
    return frames


@pytest.fixture
def answers(fenv: Env) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return fenv.client.get("/api/v1/openapi.json").json(), scenario(fenv)


def test_every_frame_is_exactly_its_model(answers: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    doc, frames = answers
    schema = {"$ref": "#/components/schemas/Frame"}
    problems = [f"{i} {f['type']}: {p}" for i, f in enumerate(frames) for p in violations(doc, schema, f)]
    assert not problems, "\n".join(problems)
    # Every event type happened, each has a frame model of its own, and none is left open.
    types = {f["type"] for f in frames}
    assert types == {t.value for t in EventType} | SOCKET_FRAMES, sorted(types ^ ({t.value for t in EventType} | SOCKET_FRAMES))
    mapping = doc["components"]["schemas"]["Frame"]["discriminator"]["mapping"]
    assert set(mapping) == {t.value for t in EventType} | SOCKET_FRAMES
    for name in {ref.rsplit("/", 1)[-1] for ref in mapping.values()}:
        assert "additionalProperties" not in doc["components"]["schemas"][name], name
    assert "OtherFrame" not in doc["components"]["schemas"]
    # The optional and nullable parts are reached.
    live = [f for f in frames if f["type"] == "presence.changed" and "event_seq" not in f]
    stored = [f for f in frames if f["type"] == "presence.changed" and "event_seq" in f]
    assert live and "work_status" not in live[0] and stored and "work_status" in stored[0]
    notices = [f for f in frames if f["type"] == "dlp.violation_notice"]
    assert {n["level"] for n in notices} == {"warning", "unit_notice", "suspension"}
    assert {n["suspended_until"] is None for n in notices} == {True, False}
    assert {f["code"] for f in frames if f["type"] == "error"} == {"bad_request", "validation_failed"}
    assert any("field" in f for f in frames if f["type"] == "error")
    assert type(next(f for f in frames if f["type"] == "drive.unused")["days"]) is int
