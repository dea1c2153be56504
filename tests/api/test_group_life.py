"""Group life: system lines with names, 群公告 read once, 置顶 and 消息免打扰, @所有人, 解散群."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from mixun.db.models import Message
from mixun.services import events
from tests.conftest import Env
from tests.helpers import group, send


def _events(env: Env, uid: int, type_: str) -> list[dict[str, Any]]:
    with env.rt.db.read() as s:
        out = [orjson.loads(p) for _seq, p in events.read_events(s, uid, 0)]
    return [e for e in out if e["type"] == type_]


def test_membership_changes_become_named_system_lines(env: Env) -> None:
    """Creating, inviting, removing, renaming and leaving show as system lines naming who did what,
    live in the event and again from the conversation's system log."""
    a_id, a = env.person("wangwu", "王五")
    b_id, b = env.person("zhangsan", "张三")
    c_id, _c = env.person("lisi", "李四")
    conv = group(env, a, "项目组", [b_id])
    r = env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(a), json={"user_ids": [c_id]})
    assert r.status_code == 200
    added = _events(env, b_id, "conversation.member_added")[-1]
    assert [(x["action"], x["actor"]["name"], x["user"]["name"]) for x in added["system"]] == [
        ("joined", "王五", "李四")]
    assert env.client.patch(f"/api/v1/conversations/{conv}", headers=env.h(a), json={"name": "新项目组"}).status_code == 200
    assert env.client.delete(f"/api/v1/conversations/{conv}/members/{c_id}", headers=env.h(a)).status_code == 200
    removed = _events(env, c_id, "conversation.member_removed")[-1]
    assert removed["system"][0]["action"] == "removed" and removed["system"][0]["user"]["name"] == "李四"
    assert env.client.post(f"/api/v1/conversations/{conv}/leave", headers=env.h(b)).status_code == 204
    lines = env.client.get(f"/api/v1/conversations/{conv}/system", headers=env.h(a)).json()["system"]
    got = [(x["action"], x["actor"]["name"], x["user"]["name"]) for x in lines]
    assert got == [("joined", "王五", "王五"), ("joined", "王五", "张三"), ("joined", "王五", "李四"),
                   ("renamed", "王五", "王五"), ("removed", "王五", "李四"), ("left", "张三", "张三")]
    assert lines[3]["detail"] == "项目组 -> 新项目组"
    # The lines of one act share its instant (the client merges "邀请张三、李四" on it); two acts never do.
    assert lines[0]["at"] == lines[1]["at"] != lines[2]["at"]
    # Someone who is no longer a member cannot read the log.
    assert env.client.get(f"/api/v1/conversations/{conv}/system", headers=env.h(b)).status_code == 404


def test_group_notice_is_shown_until_each_member_opens_it(env: Env) -> None:
    """An admin's 群公告 is unread for every other member until they open it; members cannot set it."""
    _a_id, a = env.person("wangwu", "王五")
    b_id, b = env.person("zhangsan", "张三")
    conv = group(env, a, "项目组", [b_id])
    r = env.client.put(f"/api/v1/conversations/{conv}/notice", headers=env.h(b), json={"text": "周五交材料"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = env.client.put(f"/api/v1/conversations/{conv}/notice", headers=env.h(a), json={"text": "周五交材料"})
    assert r.status_code == 200 and r.json()["notice"]["text"] == "周五交材料"
    mine = env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(a)).json()
    theirs = env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(b)).json()
    assert mine["notice_unread"] is False and theirs["notice_unread"] is True
    assert theirs["notice"]["by"]["name"] == "王五"
    r = env.client.post(f"/api/v1/conversations/{conv}/notice/seen", headers=env.h(b),
                        json={"version": theirs["notice"]["version"]})
    assert r.status_code == 200 and r.json()["notice_unread"] is False
    listed = env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0]
    assert listed["notice_unread"] is False
    env.client.put(f"/api/v1/conversations/{conv}/notice", headers=env.h(a), json={"text": "改为周四"})
    assert env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(b)).json()["notice_unread"] is True


def test_pin_and_mute_are_per_person(env: Env) -> None:
    """置顶 and 消息免打扰 change only the caller's view, and reach the caller's other devices."""
    _a_id, a = env.person("wangwu", "王五")
    b_id, b = env.person("zhangsan", "张三")
    conv = group(env, a, "项目组", [b_id])
    r = env.client.put(f"/api/v1/conversations/{conv}/prefs", headers=env.h(b), json={"pinned": True, "muted": True})
    assert r.status_code == 200 and r.json()["pinned"] and r.json()["muted"]
    theirs = env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0]
    mine = env.client.get("/api/v1/conversations", headers=env.h(a)).json()["conversations"][0]
    assert (theirs["pinned"], theirs["muted"]) == (True, True)
    assert (mine["pinned"], mine["muted"]) == (False, False)
    assert _events(env, b_id, "conversation.prefs")[-1]["muted"] is True
    r = env.client.put(f"/api/v1/conversations/{conv}/prefs", headers=env.h(b), json={"muted": False})
    assert r.json() == {"conversation_id": conv, "pinned": True, "muted": False, "notice_unread": False}


def test_mention_all_needs_an_admin_or_the_group_setting(env: Env) -> None:
    """@所有人 from the owner mentions every member; from a plain member only when the group allows it."""
    a_id, a = env.person("wangwu", "王五")
    b_id, b = env.person("zhangsan", "张三")
    c_id, _c = env.person("lisi", "李四")
    conv = group(env, a, "项目组", [b_id, c_id])
    r = send(env, a, conv, "@所有人 下午三点开会")
    assert r.status_code == 201 and sorted(r.json()["mentions"]) == sorted([b_id, c_id])
    r = send(env, b, conv, "@所有人 我也说一句")
    assert r.status_code == 201 and r.json()["mentions"] == []
    r = env.client.put(f"/api/v1/conversations/{conv}/settings", headers=env.h(b), json={"all_may_mention_all": True})
    assert r.status_code == 403
    r = env.client.put(f"/api/v1/conversations/{conv}/settings", headers=env.h(a), json={"all_may_mention_all": True})
    assert r.status_code == 200 and r.json()["all_may_mention_all"] is True
    r = send(env, b, conv, "@所有人 我也说一句")
    assert sorted(r.json()["mentions"]) == sorted([a_id, c_id])
    listed = env.client.get("/api/v1/conversations", headers=env.h(env.login("lisi"))).json()["conversations"][0]
    assert listed["mention_count"] == 2


def test_owner_dissolves_the_group_and_the_archive_keeps_it(env: Env) -> None:
    """解散群: only the owner; members lose the group and are told; its messages stay in the archive."""
    _a_id, a = env.person("wangwu", "王五")
    b_id, b = env.person("zhangsan", "张三")
    conv = group(env, a, "项目组", [b_id])
    assert send(env, b, conv, "最后一条").status_code == 201
    r = env.client.post(f"/api/v1/conversations/{conv}/dissolve", headers=env.h(b))
    assert r.status_code == 403
    assert env.client.post(f"/api/v1/conversations/{conv}/dissolve", headers=env.h(a)).status_code == 204
    assert env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"] == []
    assert env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(b)).status_code == 404
    told = _events(env, b_id, "conversation.dissolved")[-1]
    assert told["conversation_id"] == conv and told["system"][0]["actor"]["name"] == "王五"
    with env.rt.db.read() as s:
        assert s.execute(select(Message.text).where(Message.conversation_id == conv)).scalars().all() == ["最后一条"]


def test_new_event_types_are_replayed_by_resume(env: Env) -> None:
    """Prefs, reactions, notices and dissolution reach a WebSocket that resumes after missing them."""
    a_id, a = env.person("wangwu", "王五")
    b_id, b = env.person("zhangsan", "张三")
    with env.client.websocket_connect(f"/api/v1/ws?token={b}") as ws:
        start = ws.receive_json()["last_event_seq"]
    conv = group(env, a, "项目组", [b_id])
    m = send(env, a, conv, "收到请回复").json()["id"]
    env.client.post(f"/api/v1/messages/{m}/reactions", headers=env.h(b), json={"emoji": "收到"})
    env.client.put(f"/api/v1/conversations/{conv}/prefs", headers=env.h(b), json={"pinned": True})
    env.client.put(f"/api/v1/conversations/{conv}/notice", headers=env.h(a), json={"text": "公告"})
    env.client.post(f"/api/v1/conversations/{conv}/dissolve", headers=env.h(a))
    with env.client.websocket_connect(f"/api/v1/ws?token={b}") as ws:
        ws.receive_json()
        ws.send_json({"type": "resume", "after_event_seq": start})
        types = []
        while "conversation.dissolved" not in types:
            frame = ws.receive_json()
            if frame["type"] != "presence.changed":  # live presence frames interleave with the replay
                types.append(frame["type"])
    assert types == ["conversation.created", "message.created", "message.reactions", "conversation.prefs",
                     "conversation.updated", "conversation.dissolved"]
