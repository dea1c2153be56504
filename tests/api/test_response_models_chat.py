"""routes/conversations.py's response models tell the truth, every JSON route of it: a group's life
(created, or filed for the unit head's approval; renamed, members in and out, owner and admins, notice,
prefs, settings, system lines), messages (sent, urgent with its receipts, an image, a file, a secure pack,
edited, recalled, reacted to) and forwards (one by one, merged, a merged forward of a merged forward
opened). Every answer conforms to the OpenAPI document with extra keys refused, on SQLite and PostgreSQL,
the nullable and optional parts reached; a JSON route of the router not called here fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixun.api.routes import conversations
from tests.api.response_checks import Answers, check
from tests.api.test_response_models import png
from tests.conftest import Env, build_env
from tests.helpers import staff

UNIT_A = "总行/信息科技部"
UNIT_B = "总行/零售业务部"
PACK_PASSWORD = "Pack-Word#2026x"


@pytest.fixture(params=["sqlite", "postgresql"])
def cenv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_MAX_FILE_BYTES="2000000",
                         MIXUN_SEND_BURST="1000")
    yield e
    close()


def scenario(env: Env) -> Answers:
    a = Answers(env)
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A, phone="13800000001")
    ls, ls_t = env.person("lisi", "李四", unit=UNIT_A)
    ww, ww_t = env.person("wangwu", "王五", unit=UNIT_A, phone="13800000003")
    zl = env.make_user("zhaoliu", "赵六", unit=UNIT_A)
    other = env.make_user("qianqi", "钱七", unit=UNIT_B)
    _sec, sec = staff(env, "sec1", "安全员", "secadmin")
    _head, _head_t = env.person("zhuren", "主任", unit=UNIT_A, roles=["unit_head"])
    conv_path = "/api/v1/conversations/{conversation_id}"

    # Conversations: a group and a direct one; the group's life.
    g = a.call("create.group", "post", "/api/v1/conversations", zs_t, 201,
               json={"kind": "group", "name": "项目组", "members": [ls, ww]})["id"]
    dm = a.call("create.direct", "post", "/api/v1/conversations", zs_t, 201, json={"kind": "direct", "members": [ls]})["id"]
    gp = f"/api/v1/conversations/{g}"
    a.call("rename", "patch", conv_path, zs_t, url=gp, json={"name": "信贷项目组"})
    a.call("members.add", "post", conv_path + "/members", zs_t, url=gp + "/members", json={"user_ids": [zl]})
    a.call("members.remove", "delete", conv_path + "/members/{user_id}", zs_t, url=f"{gp}/members/{zl}")
    a.call("admins", "post", conv_path + "/admins", zs_t, url=gp + "/admins", json={"user_id": ls, "admin": True})
    a.call("notice", "put", conv_path + "/notice", ls_t, url=gp + "/notice", json={"text": "周五前交材料"})
    a.call("notice.seen", "post", conv_path + "/notice/seen", ww_t, url=gp + "/notice/seen", json={"version": 1})
    a.call("prefs", "put", conv_path + "/prefs", ww_t, url=gp + "/prefs", json={"pinned": True, "muted": True})
    a.call("prefs.unread", "put", conv_path + "/prefs", zs_t, url=gp + "/prefs", json={"pinned": False})
    a.call("settings", "put", conv_path + "/settings", zs_t, url=gp + "/settings", json={"all_may_mention_all": True})
    a.call("owner", "post", conv_path + "/owner", zs_t, url=gp + "/owner", json={"user_id": ls})
    a.call("system", "get", conv_path + "/system", ww_t, url=gp + "/system")
    a.call("system.direct", "get", conv_path + "/system", zs_t, url=f"/api/v1/conversations/{dm}/system")

    # Messages: plain, urgent, an image, a file, a secure pack; edited, recalled, reacted to; receipts.
    msgs = "/api/v1/conversations/{conversation_id}/messages"
    first = a.call("send", "post", msgs, zs_t, 201, url=gp + "/messages", json={"text": "大家好", "client_id": "c-1"})
    urgent = a.call("send.urgent", "post", msgs, zs_t, 201, url=gp + "/messages", json={"text": "紧急：请回电", "urgent": True})
    second = a.call("send.reply", "post", msgs, ls_t, 201, url=gp + "/messages", json={"text": "收到", "reply_to": first["id"]})
    a.call("image", "post", "/api/v1/conversations/{conversation_id}/images", zs_t, 201, url=gp + "/images",
           files={"file": ("图.png", png(), "image/png")}, data={"client_id": "img-1"})
    a.call("file", "post", "/api/v1/conversations/{conversation_id}/files", zs_t, 201, url=gp + "/files",
           files={"file": ("纪要.txt", "会议纪要：二季度计划。".encode(), "application/octet-stream")})
    a.call("pack", "post", "/api/v1/conversations/{conversation_id}/secure-pack", zs_t, 201, url=gp + "/secure-pack",
           files=[("files", ("甲.txt", b"alpha", "application/octet-stream")),
                  ("files", ("乙.txt", b"beta", "application/octet-stream"))], data={"password": PACK_PASSWORD, "name": "资料包"})
    a.call("edit", "patch", "/api/v1/messages/{message_id}", ls_t, url=f"/api/v1/messages/{second['id']}",
           json={"text": "收到，谢谢"})
    gone = a.call("send.gone", "post", msgs, zs_t, 201, url=gp + "/messages", json={"text": "发错了"})
    a.call("recall", "post", "/api/v1/messages/{message_id}/recall", zs_t, url=f"/api/v1/messages/{gone['id']}/recall")
    react = "/api/v1/messages/{message_id}/reactions"
    a.call("react", "post", react, ls_t, url=f"/api/v1/messages/{first['id']}/reactions", json={"emoji": "👍"})
    a.call("react.off", "post", react, ls_t, url=f"/api/v1/messages/{first['id']}/reactions", json={"emoji": "👍", "on": False})
    a.call("react.again", "post", react, ww_t, url=f"/api/v1/messages/{first['id']}/reactions", json={"emoji": "收到"})
    assert env.client.post(gp + "/read", headers=env.h(ls_t), json={"seq": urgent["seq"]}).status_code == 204
    receipts = "/api/v1/messages/{message_id}/receipts"
    a.call("receipts", "get", receipts, zs_t, url=f"/api/v1/messages/{first['id']}/receipts")
    a.call("receipts.urgent", "get", receipts, zs_t, url=f"/api/v1/messages/{urgent['id']}/receipts")
    a.call("history", "get", msgs, zs_t, url=gp + "/messages")
    a.call("history.page", "get", msgs, ww_t, url=gp + "/messages", params={"after_seq": 1, "limit": 2})
    a.call("list", "get", "/api/v1/conversations", zs_t)
    a.call("get", "get", conv_path, ww_t, url=gp)

    # Forwards: one by one into the direct chat, merged, then a merged forward of the merged one, opened.
    a.call("forward", "post", "/api/v1/messages/forward", zs_t, 201,
           json={"message_ids": [first["id"], second["id"]], "conversation_id": dm})
    merged = a.call("forward.merged", "post", "/api/v1/messages/forward", zs_t, 201,
                    json={"message_ids": [first["id"], second["id"]], "conversation_id": dm, "merged": True})
    inner = merged["messages"][0]
    nested = a.call("forward.nested", "post", "/api/v1/messages/forward", ls_t, 201,
                    json={"message_ids": [inner["id"]], "conversation_id": g, "merged": True})["messages"][0]
    a.call("bundle", "get", "/api/v1/messages/{message_id}/bundle", ww_t, url=f"/api/v1/messages/{nested['id']}/bundle")

    # A group with another unit's member waits for the unit head once secadmin says so (202).
    assert env.client.put("/api/v1/admin/function-rules", headers=env.h(sec), json={
        "scope": "user", "target_id": zs, "function": "cross_unit_groups_unreviewed", "allowed": False}).status_code == 200
    a.call("create.pending", "post", "/api/v1/conversations", zs_t, 202,
           json={"kind": "group", "name": "跨部门项目", "members": [ls, other]})
    return a


@pytest.fixture
def answers(cenv: Env) -> tuple[dict[str, Any], Answers]:
    return cenv.client.get("/api/v1/openapi.json").json(), scenario(cenv)


def test_every_conversation_answer_is_exactly_its_model(answers: tuple[dict[str, Any], Answers]) -> None:
    doc, a = answers
    check(doc, a, conversations.router)
    out = {name: value for name, (_m, _r, _s, value) in a.out.items()}
    # The optional and nullable parts are reached.
    assert "urgent_phones" in out["receipts.urgent"] and "urgent_phones" not in out["receipts"]
    assert {p["phone"] is None for p in out["receipts.urgent"]["urgent_phones"]} == {True, False}
    assert out["receipts.urgent"]["read"] and out["receipts.urgent"]["unread"]
    assert out["system"]["system"] and out["system.direct"]["system"] == []
    assert out["prefs"]["muted"] and out["prefs.unread"]["notice_unread"] is True and out["notice"]["notice"]
    assert out["notice.seen"]["notice_unread"] is False
    assert out["react.off"]["reactions"] == [] and out["react.again"]["reactions"]
    items = out["bundle"]["items"]
    assert items[0]["items"] and {i["items"] is None for i in items[0]["items"]} == {True}
    assert out["forward.merged"]["messages"][0]["bundle_title"] and len(out["forward"]["messages"]) == 2
    assert out["create.pending"]["pending"] is True
    assert out["pack"]["kind"] and out["file"]["attachments"] and out["image"]["client_id"] == "img-1"
