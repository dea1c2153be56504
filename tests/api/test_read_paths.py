"""The busiest reads (issue 23, Mattermost's load model): a history page with its reactions, the
conversation list, read marks and the status poll answer as before with fewer round trips; a read mark
is durable when it is answered; a mark that would not advance writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from mixun.db.engine import Database
from mixun.db.models import Member, UserEvent
from tests.conftest import Env
from tests.helpers import direct, group, send


def _events(env: Env, user_id: int) -> int:
    with env.rt.db.read() as s:
        return int(s.execute(select(func.count()).select_from(UserEvent).where(UserEvent.user_id == user_id)
                             ).scalar_one())


def test_history_page_carries_reactions_and_refuses_outsiders(env: Env) -> None:
    """The page and its reactions come from one read; a non-member gets 404 for the page and the mark."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    _c_id, c = env.person("wangwu", "王五")
    conv = group(env, a, "项目组", [b_id])
    first = send(env, a, conv, "第一条").json()
    send(env, a, conv, "第二条")
    assert env.client.post(f"/api/v1/messages/{first['id']}/reactions", headers=env.h(b),
                           json={"emoji": "收到"}).status_code in (200, 201, 204)
    page = env.client.get(f"/api/v1/conversations/{conv}/messages?limit=30", headers=env.h(a)).json()["messages"]
    assert [m["seq"] for m in page] == [1, 2]
    assert page[0]["reactions"] == [{"emoji": "收到", "users": [{"id": b_id, "name": "李四"}]}]
    assert "reactions" not in page[1] or page[1]["reactions"] == []
    assert env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(c)).status_code == 404
    assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(c), json={"seq": 1}).status_code == 404
    assert env.client.get("/api/v1/conversations/99999/messages", headers=env.h(a)).status_code == 404
    assert a_id


def test_stale_read_mark_writes_nothing(env: Env) -> None:
    """A mark at or below the caller's read position (or past the end, once the end is read) is a 204
    that changes nothing and tells no one; an advancing mark is capped at the conversation's end."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    for i in range(3):
        send(env, a, conv, f"第{i}条")
    assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(b), json={"seq": 99}).status_code == 204
    listed = env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0]
    assert listed["read_seq"] == 3 and listed["unread_count"] == 0
    before = (_events(env, a_id), _events(env, b_id))
    for seq in (1, 3, 99):
        assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(b),
                               json={"seq": seq}).status_code == 204
    assert (_events(env, a_id), _events(env, b_id)) == before
    assert env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0]["read_seq"] == 3
    send(env, a, conv, "第四条")
    assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(b), json={"seq": 4}).status_code == 204
    assert _events(env, a_id) > before[0] + 1  # the new message and the read receipt reached the sender


def test_read_mark_is_durable_when_answered(env: Env) -> None:
    """A 204 means the mark is committed: another serving process (its own connections to the same
    database) sees it at once; marks are not held in one process's memory."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    send(env, a, conv, "一")
    send(env, a, conv, "二")
    assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(b), json={"seq": 2}).status_code == 204
    other = Database(env.settings.database_url)
    try:
        with other.read() as s:
            got = s.execute(select(Member.read_seq).where(Member.conversation_id == conv, Member.user_id == b_id)
                            ).scalar_one()
    finally:
        other.dispose()
    assert got == 2
    assert a_id


def test_quick_read_answers_and_refuses_writes(env: Env) -> None:
    """quick_read runs SELECTs and refuses an UPDATE and a flush of changed objects on both databases;
    on PostgreSQL (autocommit, where a write would commit on its own) also textual SQL and writes sent
    through the connection."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    with env.rt.db.quick_read() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1
        assert s.get(Member, (conv, a_id)) is not None
    with pytest.raises(RuntimeError), env.rt.db.quick_read() as s:
        s.execute(update(Member).where(Member.conversation_id == conv).values(read_seq=7))
    with pytest.raises(RuntimeError), env.rt.db.quick_read() as s:
        row = s.get(Member, (conv, a_id))
        assert row is not None
        row.muted = True
        s.flush()
    if env.rt.db.is_sqlite:
        return
    with pytest.raises(RuntimeError), env.rt.db.quick_read() as s:
        s.execute(text("UPDATE conversation_members SET read_seq = 9 WHERE conversation_id = :c"), {"c": conv})
    with pytest.raises(RuntimeError), env.rt.db.quick_read() as s:
        s.connection().execute(update(Member).where(Member.conversation_id == conv).values(read_seq=9))
    with env.rt.db.write() as s:  # the write engine is not the quick one's: writes there go through
        s.execute(text("UPDATE conversation_members SET read_seq = 0 WHERE conversation_id = :c"), {"c": conv})
    with env.rt.db.quick_read() as s:
        raw = s.connection().connection.dbapi_connection
        assert raw is not None and raw.autocommit
    assert not raw.autocommit  # back in the pool in its usual mode: a write session gets a transaction
    with env.rt.db.write() as s:
        assert not s.connection().connection.dbapi_connection.autocommit  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), env.rt.db.quick_read() as s:
        s.execute(update(Member).where(Member.conversation_id == conv).values(read_seq=5))
    with pytest.raises(RuntimeError), env.rt.db.quick_read() as s:
        member = s.get(Member, (conv, a_id))
        assert member is not None
        member.pinned = True
        s.flush()
    with env.rt.db.read() as s:
        assert s.execute(select(func.max(Member.read_seq)).where(Member.conversation_id == conv)).scalar() == 0
        assert not s.get(Member, (conv, a_id)).pinned  # type: ignore[union-attr]


def test_presence_snapshot_is_contacts_with_their_status(env: Env) -> None:
    """The status poll names everyone the caller shares a conversation with, and no one else: offline
    without a connection, the work status while connected."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, _c = env.person("wangwu", "王五")
    d_id, _d = env.person("zhaoliu", "赵六")
    assert env.client.get("/api/v1/presence", headers=env.h(a)).json() == {"presence": {}}
    direct(env, a, b_id)
    group(env, a, "项目组", [b_id, c_id])
    assert env.client.patch("/api/v1/me", headers=env.h(b), json={"status": "busy"}).status_code == 200
    assert env.client.get("/api/v1/presence", headers=env.h(a)).json() == {
        "presence": {str(b_id): "offline", str(c_id): "offline"}}
    with env.client.websocket_connect(f"/api/v1/ws?token={b}") as ws:
        ws.receive_json()
        got = env.client.get("/api/v1/presence", headers=env.h(a)).json()["presence"]
    assert got == {str(b_id): "busy", str(c_id): "offline"}
    assert str(d_id) not in got


def test_history_page_names_senders_who_left_and_counts_reads(env: Env) -> None:
    """The page, the membership and the members' names and read positions come from fewer queries:
    the views are as before — a sender who has left is still named, read counts count the members
    now in the group, a member added later sees only what came after joining (an empty page for them
    is a 200, for an outsider a 404), and the newest page (before_seq past the end) is the tail."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    d_id, d = env.person("zhaoliu", "赵六")
    conv = group(env, a, "项目组", [b_id, c_id])
    send(env, b, conv, "李四的消息")
    send(env, a, conv, "张三的消息")
    assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(c), json={"seq": 2}).status_code == 204
    assert env.client.post(f"/api/v1/conversations/{conv}/leave", headers=env.h(b)).status_code == 204
    page = env.client.get(f"/api/v1/conversations/{conv}/messages?limit=30", headers=env.h(a)).json()["messages"]
    assert [(m["seq"], m["sender"]["name"]) for m in page] == [(1, "李四"), (2, "张三")]
    # the readers among the members now (张三 and 王五; 李四 left): both read the first (张三 by sending
    # the second); the second's sender is not among its readers
    assert [(m["read_count"], m["recipient_count"]) for m in page] == [(2, 2), (1, 1)]
    tail = env.client.get(f"/api/v1/conversations/{conv}/messages?limit=1&before_seq=2147483647",
                          headers=env.h(a)).json()["messages"]
    assert [m["seq"] for m in tail] == [2]
    assert env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(a),
                           json={"user_ids": [d_id]}).status_code == 200
    r = env.client.get(f"/api/v1/conversations/{conv}/messages?limit=30", headers=env.h(d))
    assert r.status_code == 200 and r.json()["messages"] == []
    send(env, a, conv, "新成员之后")
    page = env.client.get(f"/api/v1/conversations/{conv}/messages?limit=30&before_seq=2147483647",
                          headers=env.h(d)).json()["messages"]
    assert [m["text"] for m in page] == ["新成员之后"]
    assert env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(b)).status_code == 404
    assert env.client.get(f"/api/v1/conversations/{conv}/messages?before_seq=2147483647",
                          headers=env.h(b)).status_code == 404
    assert c
