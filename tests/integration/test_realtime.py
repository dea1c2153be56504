"""Real-time delivery: hello, live events with gap-free event_seq, devices, resume, bad frames, the bus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import PASSWORD, REDIS_URL, Env, fresh_database, need, redis_available
from tests.helpers import Server, add_people, direct, group, send


def recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame from a TestClient websocket, failing instead of hanging."""

    async def _get() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(_get)
    if message["type"] == "websocket.close":
        return {"type": "__closed__", "code": message.get("code")}
    return json.loads(message["text"])


def until_pong(ws: Any) -> list[dict[str, Any]]:
    """The sequenced events delivered before the answer to a ping (the queue is FIFO per connection);
    live-only presence notices are left out."""
    ws.send_json({"type": "ping"})
    got = []
    while True:
        frame = recv(ws)
        if frame["type"] == "pong":
            return got
        if frame.get("event_seq") or frame["type"] in ("error", "__closed__"):
            got.append(frame)


def events_of(ws: Any, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        frame = recv(ws)
        if frame["type"] == "pong" or frame.get("event_seq", 0) == 0:
            continue  # ephemeral presence notices carry no event_seq
        out.append(frame)
    return out


def connect(env: Env, token: str) -> tuple[Any, int]:
    ws = env.client.websocket_connect(f"/api/v1/ws?token={token}").__enter__()
    hello = recv(ws)
    assert hello["type"] == "hello"
    return ws, int(hello["last_event_seq"])


def close(ws: Any) -> None:
    ws.__exit__(None, None, None)


def test_hello_then_live_messages_without_gaps(env: Env) -> None:
    """A connected client gets a hello, then each new message live, event_seq rising by one."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, b, a_id)
    ws, last = connect(env, a)
    try:
        assert until_pong(ws) == []
        sent = [send(env, b, conv, f"第{i}条").json() for i in range(5)]
        got = events_of(ws, 5)
        assert [e["event_seq"] for e in got] == list(range(last + 1, last + 6))
        assert all(e["type"] == "message.created" and e["conversation_id"] == conv for e in got)
        assert [e["message"]["id"] for e in got] == [m["id"] for m in sent]
        assert [e["message"]["text"] for e in got] == [f"第{i}条" for i in range(5)]
        assert until_pong(ws) == []
    finally:
        close(ws)


def test_two_devices_of_one_user_both_receive(env: Env) -> None:
    """Someone logged in on two devices sees each message on both, with the same event_seq."""
    a_id, a1 = env.person("zhangsan", "张三")
    a2 = env.login("zhangsan")
    _b_id, b = env.person("lisi", "李四")
    conv = direct(env, b, a_id)
    ws1, _ = connect(env, a1)
    ws2, _ = connect(env, a2)
    try:
        until_pong(ws1)
        until_pong(ws2)
        m = send(env, b, conv, "两台设备都能收到").json()
        e1, e2 = events_of(ws1, 1)[0], events_of(ws2, 1)[0]
        assert e1 == e2 and e1["message"]["id"] == m["id"]
    finally:
        close(ws1)
        close(ws2)


def test_edits_recalls_reads_and_membership_arrive_as_events(env: Env) -> None:
    """Edits, recalls, read receipts and membership changes all arrive live, in order."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, _c = env.person("wangwu", "王五")
    ws, last = connect(env, a)
    try:
        until_pong(ws)
        conv = group(env, b, "项目组", [a_id])
        m = send(env, a, conv, "原文").json()
        assert env.client.patch(f"/api/v1/messages/{m['id']}", headers=env.h(a), json={"text": "改后"}
                                ).status_code == 200
        assert env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(b), json={"seq": m["seq"]}
                               ).status_code == 204
        assert env.client.post(f"/api/v1/messages/{m['id']}/recall", headers=env.h(a)).status_code == 200
        assert env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(b),
                               json={"user_ids": [c_id]}).status_code == 200
        assert env.client.patch(f"/api/v1/conversations/{conv}", headers=env.h(b), json={"name": "新项目组"}
                                ).status_code == 200
        got = events_of(ws, 7)
        assert [e["event_seq"] for e in got] == list(range(last + 1, last + 8))
        assert [e["type"] for e in got] == ["conversation.created", "message.created", "message.edited",
                                            "conversation.read", "message.recalled",
                                            "conversation.member_added", "conversation.updated"]
        assert got[2]["message"]["text"] == "改后" and got[2]["message"]["edited"] is True
        assert got[3]["user_id"] == b_id and got[3]["seq"] == m["seq"]
        assert got[4]["message"]["recalled"] is True and got[4]["message"]["text"] == ""
        assert c_id in {p["id"] for p in got[5]["conversation"]["members"]}
        assert got[6]["conversation"]["name"] == "新项目组"
    finally:
        close(ws)


def test_resume_replays_missed_events_exactly_once_then_live(env: Env) -> None:
    """After a disconnect, resume replays exactly what was missed, in order, then live ones continue:
    no gap, no duplicate."""
    a_id, a = env.person("zhangsan", "张三")
    _b_id, b = env.person("lisi", "李四")
    conv = direct(env, b, a_id)
    ws, _ = connect(env, a)
    until_pong(ws)
    send(env, b, conv, "在线时收到")
    seen = events_of(ws, 1)
    last_seen = seen[-1]["event_seq"]
    close(ws)
    missed = [send(env, b, conv, f"离线{i}").json() for i in range(4)]
    env.client.patch(f"/api/v1/messages/{missed[0]['id']}", headers=env.h(b), json={"text": "离线0(改)"})
    ws, last = connect(env, a)
    try:
        assert last == last_seen + 5
        ws.send_json({"type": "resume", "after_event_seq": last_seen})
        replay = events_of(ws, 5)
        assert [e["event_seq"] for e in replay] == list(range(last_seen + 1, last_seen + 6))
        assert [e["type"] for e in replay] == ["message.created"] * 4 + ["message.edited"]
        assert [e["message"]["id"] for e in replay[:4]] == [m["id"] for m in missed]
        live = send(env, b, conv, "恢复后实时").json()
        after = events_of(ws, 1)
        assert after[0]["event_seq"] == last_seen + 6 and after[0]["message"]["id"] == live["id"]
        assert until_pong(ws) == []
    finally:
        close(ws)


def test_resume_while_messages_keep_arriving_has_no_gap_or_duplicate(env: Env) -> None:
    """Resuming from far back while new messages are sent yields every seq exactly once, in order."""
    a_id, a = env.person("zhangsan", "张三")
    _b_id, b = env.person("lisi", "李四")
    conv = direct(env, b, a_id)
    for i in range(20):  # the default burst allows 30 sends in a row
        assert send(env, b, conv, f"历史{i}").status_code == 201
    ws, last = connect(env, a)
    try:
        ws.send_json({"type": "resume", "after_event_seq": 0})
        for i in range(8):
            assert send(env, b, conv, f"新{i}").status_code == 201
        got = events_of(ws, last + 8)
        assert [e["event_seq"] for e in got] == list(range(1, last + 9))
        assert until_pong(ws) == []
    finally:
        close(ws)


def test_bad_frame_gets_an_error_and_the_socket_survives(env: Env) -> None:
    """A malformed frame is answered with an error frame; the connection keeps working."""
    _a_id, a = env.person("zhangsan", "张三")
    ws, _ = connect(env, a)
    try:
        for bad in ("not json", json.dumps({"type": "fly"}), json.dumps([1, 2]),
                    json.dumps({"type": "resume", "after_event_seq": "x"})):
            ws.send_text(bad)
            frame = recv(ws)
            while frame["type"] == "presence.changed":
                frame = recv(ws)
            assert frame["type"] == "error" and frame["code"] in ("bad_request", "validation_failed")
        assert until_pong(ws) == []
    finally:
        close(ws)


def test_invalid_token_is_refused(env: Env) -> None:
    """A WebSocket with a wrong or missing token is closed before any event (code 4001)."""
    from starlette.websockets import WebSocketDisconnect

    for url in ("/api/v1/ws?token=not-a-token", "/api/v1/ws"):
        with pytest.raises(WebSocketDisconnect) as exc, env.client.websocket_connect(url) as ws:
            ws.receive_json()
        assert exc.value.code == 4001


def test_logout_everywhere_closes_the_live_socket(env: Env) -> None:
    """Logging out everywhere closes the open connection of that user."""
    _a_id, a = env.person("zhangsan", "张三")
    other = env.login("zhangsan")
    ws, _ = connect(env, a)
    try:
        until_pong(ws)
        assert env.client.post("/api/v1/auth/logout-all", headers=env.h(other)).status_code == 204
        frame = recv(ws)
        while frame["type"] != "__closed__":
            frame = recv(ws)
        assert frame["code"] == 4001
    finally:
        close(ws)


# --- two real server processes sharing a bus -------------------------------------------------------


def _prepare(tmp_path: Path, bus_url: str) -> tuple[str, Path, dict[str, int]]:
    """A PostgreSQL database with two people, and a data dir both processes share."""
    from mixun.config import load_settings

    url, cleanup = fresh_database("postgresql", tmp_path)
    data = tmp_path / "shared-data"
    ids = add_people(load_settings({"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": url}))
    _prepare.cleanup = cleanup  # type: ignore[attr-defined]
    return url, data, ids


def _ws_recv(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        if frame.get("event_seq"):
            return frame


def _two_processes_deliver(tmp_path: Path, bus_url: str) -> None:
    from websockets.sync.client import connect as ws_connect

    url, data, ids = _prepare(tmp_path, bus_url)
    s1 = s2 = None
    try:
        s1 = Server(data, url, bus_url)
        s2 = Server(data, url, bus_url)
        s1.wait()
        s2.wait()

        def login(server: Server, username: str) -> str:
            r = httpx.post(server.url + "/api/v1/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return str(r.json()["token"])

        a1, b2 = login(s1, "zhangsan"), login(s2, "lisi")
        r = httpx.post(s2.url + "/api/v1/conversations", headers={"Authorization": f"Bearer {b2}"},
                       json={"kind": "direct", "members": [ids["zhangsan"]]})
        assert r.status_code == 201, (r.text, s2.output())
        conv = r.json()["id"]
        b_ws_token = login(s2, "lisi")
        with ws_connect(f"ws://127.0.0.1:{s1.port}/api/v1/ws?token={a1}") as wa, \
                ws_connect(f"ws://127.0.0.1:{s2.port}/api/v1/ws?token={b_ws_token}") as wb:
            ha, hb = json.loads(wa.recv(timeout=10)), json.loads(wb.recv(timeout=10))
            assert ha["type"] == hb["type"] == "hello"
            wa.send(json.dumps({"type": "ping"}))
            wb.send(json.dumps({"type": "ping"}))
            # B, connected to process 2, sends through process 2; A on process 1 gets it live.
            r = httpx.post(f"{s2.url}/api/v1/conversations/{conv}/messages",
                           headers={"Authorization": f"Bearer {b2}"}, json={"text": "跨进程你好"})
            assert r.status_code == 201
            got = _ws_recv(wa)
            assert got["type"] == "message.created" and got["message"]["id"] == r.json()["id"]
            assert got["event_seq"] == ha["last_event_seq"] + 1
            # And the other way: A sends through process 1, B on process 2 gets it.
            r = httpx.post(f"{s1.url}/api/v1/conversations/{conv}/messages",
                           headers={"Authorization": f"Bearer {a1}"}, json={"text": "收到,回复你"})
            assert r.status_code == 201
            got_b = _ws_recv(wb)
            while got_b["type"] != "message.created" or got_b["message"]["id"] != r.json()["id"]:
                got_b = _ws_recv(wb)
            assert got_b["message"]["text"] == "收到,回复你"
    finally:
        for server in (s1, s2):
            if server is not None:
                server.stop()
        _prepare.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(data, ignore_errors=True)


def test_two_processes_sharing_redis_deliver_to_each_other(tmp_path: Path) -> None:
    """Two `mixun serve` processes on one database and one Redis deliver to each other's clients."""
    need("Redis", redis_available())
    _two_processes_deliver(tmp_path, REDIS_URL)


def _nats_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


def test_two_processes_sharing_nats_deliver_to_each_other(tmp_path: Path) -> None:
    """The same with NATS as the bus, when a NATS server is running."""
    if not _nats_available():
        pytest.skip("nats-server is not running on 127.0.0.1:4222")
    _two_processes_deliver(tmp_path, "nats://127.0.0.1:4222")


def test_presence_snapshot_shows_who_is_online_before_any_change(env: Env) -> None:
    """A client that connects after its contacts did sees them online (or busy) at once, not 离线."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    _d_id, _d = env.person("zhaoliu", "赵六")  # shares no conversation with 张三: not in his snapshot
    direct(env, a, b_id)
    direct(env, a, c_id)
    assert env.client.patch("/api/v1/me", headers=env.h(c), json={"status": "busy"}).status_code == 200
    ws_b, _ = connect(env, b)
    ws_c, _ = connect(env, c)
    try:
        r = env.client.get("/api/v1/presence", headers=env.h(a))
        assert r.status_code == 200, r.text
        assert r.json()["presence"] == {str(b_id): "online", str(c_id): "busy"}
    finally:
        close(ws_b)
        close(ws_c)
    assert env.client.get("/api/v1/presence", headers=env.h(a)).json()["presence"] == {
        str(b_id): "offline", str(c_id): "offline"}


def _next_presence_of(ws: Any, user_id: int) -> str:
    """The status in the next ``presence.changed`` about ``user_id`` (other frames skipped)."""
    while True:
        frame = recv(ws)
        assert frame["type"] != "__closed__"
        if frame["type"] == "presence.changed" and frame["user_id"] == user_id:
            return str(frame["status"])


def test_contacts_hear_a_person_come_online_and_go_offline(env: Env) -> None:
    """When 张三 opens the app, 李四 (who shares a conversation with him) sees him online at once, with his
    work status (忙碌 stays 忙碌); when he closes it, 离线."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    direct(env, a, b_id)
    assert env.client.patch("/api/v1/me", headers=env.h(a), json={"status": "busy"}).status_code == 200
    ws_b, _ = connect(env, b)
    try:
        ws_a, _ = connect(env, a)
        assert _next_presence_of(ws_b, a_id) == "busy"
        close(ws_a)
        assert _next_presence_of(ws_b, a_id) == "offline"
    finally:
        close(ws_b)
