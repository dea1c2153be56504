"""Conversations and messages: direct and group, members, seq, idempotency, edits, recalls, receipts,
history paging, images and rate limits."""

from __future__ import annotations

import dataclasses
import io
import threading
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from tests.conftest import Env, build_env
from tests.helpers import direct, group, send


def _png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _upload(env: Env, token: str, conv: int, data: bytes, name: str = "a.png") -> object:
    return env.client.post(f"/api/v1/conversations/{conv}/images", headers=env.h(token),
                           files={"file": (name, data, "application/octet-stream")})


def test_direct_conversation_is_one_per_pair(env: Env) -> None:
    """Opening a direct conversation twice, from either side, gives the same conversation."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    first = direct(env, a, b_id)
    assert direct(env, a, b_id) == first
    assert direct(env, b, a_id) == first
    convs = env.client.get("/api/v1/conversations", headers=env.h(a)).json()["conversations"]
    assert [c["id"] for c in convs] == [first]
    assert convs[0]["kind"] == "direct" and convs[0]["name"] == "李四"
    r = env.client.post("/api/v1/conversations", headers=env.h(a), json={"kind": "direct", "members": [a_id]})
    assert r.status_code == 422


def test_group_owner_and_admins_manage_members(env: Env) -> None:
    """The owner adds and removes members and names admins; an admin manages members; a plain member
    is refused with 403."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    d_id = env.make_user("zhaoliu", "赵六")
    conv = group(env, a, "项目组", [b_id, c_id])
    roles = {m["id"]: m["role"] for m in env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(a)
                                                        ).json()["members"]}
    assert roles == {a_id: "owner", b_id: "member", c_id: "member"}
    r = env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(c), json={"user_ids": [d_id]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = env.client.delete(f"/api/v1/conversations/{conv}/members/{b_id}", headers=env.h(c))
    assert r.status_code == 403
    r = env.client.patch(f"/api/v1/conversations/{conv}", headers=env.h(c), json={"name": "改名"})
    assert r.status_code == 403
    assert env.client.post(f"/api/v1/conversations/{conv}/admins", headers=env.h(a),
                           json={"user_id": b_id, "admin": True}).status_code == 200
    r = env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(b), json={"user_ids": [d_id]})
    assert r.status_code == 200 and d_id in {m["id"] for m in r.json()["members"]}
    r = env.client.delete(f"/api/v1/conversations/{conv}/members/{c_id}", headers=env.h(b))
    assert r.status_code == 200 and c_id not in {m["id"] for m in r.json()["members"]}
    assert env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(c)).status_code == 404
    r = env.client.patch(f"/api/v1/conversations/{conv}", headers=env.h(b), json={"name": "新项目组"})
    assert r.status_code == 200 and r.json()["name"] == "新项目组"
    r = env.client.delete(f"/api/v1/conversations/{conv}/members/{a_id}", headers=env.h(b))
    assert r.status_code == 403, "an admin cannot remove the owner"


def test_ownership_transfer_and_leaving(env: Env) -> None:
    """The owner cannot leave before transferring ownership; members leave freely."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    conv = group(env, a, "项目组", [b_id, c_id])
    r = env.client.post(f"/api/v1/conversations/{conv}/leave", headers=env.h(a))
    assert r.status_code == 422 and r.json()["error"]["code"] == "owner_must_transfer"
    r = env.client.post(f"/api/v1/conversations/{conv}/owner", headers=env.h(b), json={"user_id": b_id})
    assert r.status_code == 403
    r = env.client.post(f"/api/v1/conversations/{conv}/owner", headers=env.h(a), json={"user_id": b_id})
    assert r.status_code == 200
    roles = {m["id"]: m["role"] for m in r.json()["members"]}
    assert roles[b_id] == "owner" and roles[a_id] == "admin"
    assert env.client.post(f"/api/v1/conversations/{conv}/leave", headers=env.h(a)).status_code == 204
    assert env.client.post(f"/api/v1/conversations/{conv}/leave", headers=env.h(c)).status_code == 204
    members = env.client.get(f"/api/v1/conversations/{conv}", headers=env.h(b)).json()["members"]
    assert [m["id"] for m in members] == [b_id]
    assert env.client.get("/api/v1/conversations", headers=env.h(c)).json()["conversations"] == []
    d = direct(env, b, c_id)
    r = env.client.post(f"/api/v1/conversations/{d}/leave", headers=env.h(b))
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_a_group"


def test_send_returns_201_with_gap_free_seq(env: Env) -> None:
    """Each message is 201 with an id and the next seq of its conversation, starting at 1."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    other = group(env, a, "另一个群", [b_id])
    seqs = []
    for i in range(4):
        r = send(env, a if i % 2 else b, conv, f"消息{i}")
        assert r.status_code == 201 and r.json()["id"]
        seqs.append(r.json()["seq"])
    assert seqs == [1, 2, 3, 4]
    assert send(env, a, other, "别的会话从 1 开始").json()["seq"] == 1


def test_seq_gap_free_under_concurrent_sends(env: Env) -> None:
    """Many people sending at once into one group still get seqs 1..N with no gap and no repeat."""
    people = [env.person(f"user{i}", f"同事{i}") for i in range(4)]
    conv = group(env, people[0][1], "并发群", [uid for uid, _ in people[1:]])
    results: list[int] = []
    errors: list[str] = []

    def worker(token: str, n: int) -> None:
        for k in range(n):
            r = send(env, token, conv, f"并发{k}")
            if r.status_code == 201:
                results.append(r.json()["seq"])
            else:
                errors.append(r.text)

    threads = [threading.Thread(target=worker, args=(t, 6)) for _, t in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == list(range(1, 25))
    history = env.client.get(f"/api/v1/conversations/{conv}/messages?limit=200", headers=env.h(people[0][1]))
    assert [m["seq"] for m in history.json()["messages"]] == list(range(1, 25))


def test_repeated_client_id_returns_the_first_message(env: Env) -> None:
    """Resending with the same client_id returns the first message, not a second one."""
    from mixun.db.models import Message

    _a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    first = send(env, a, conv, "只发一次", client_id="c-123")
    again = send(env, a, conv, "只发一次", client_id="c-123")
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.json()["id"] == first.json()["id"] and again.json()["seq"] == first.json()["seq"]
    with env.rt.db.read() as s:
        assert len(s.execute(select(Message).where(Message.client_id == "c-123")).all()) == 1
    assert send(env, a, conv, "下一条", client_id="c-124").json()["seq"] == 2


def test_text_length_and_empty_text(env: Env) -> None:
    """A text over 10,000 characters is refused (422 message_too_long); so is an empty one."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    assert send(env, a, conv, "字" * 10_000).status_code == 201
    r = send(env, a, conv, "字" * 10_001)
    assert r.status_code == 422 and r.json()["error"]["code"] == "message_too_long"
    for empty in ("", "   \n"):
        r = send(env, a, conv, empty)
        assert r.status_code == 422 and r.json()["error"]["code"] == "empty_message"


def test_replies_and_mentions(env: Env) -> None:
    """A reply points at its parent; @张三 mentions 张三, whose conversation list counts the mention."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, _c = env.person("wangwu", "王五")
    conv = group(env, b, "项目组", [a_id, c_id])
    parent = send(env, a, conv, "明天开会吗?").json()
    reply = send(env, b, conv, "@张三 明天上午十点", reply_to=parent["id"])
    assert reply.status_code == 201
    body = reply.json()
    assert body["reply_to"] == parent["id"] and body["mentions"] == [a_id]
    r = send(env, b, conv, "回复不存在的消息", reply_to=10**9)
    assert r.status_code == 422
    mine = env.client.get("/api/v1/conversations", headers=env.h(a)).json()["conversations"][0]
    assert mine["mention_count"] == 1 and mine["unread_count"] == 1
    other = env.client.get("/api/v1/conversations", headers=env.h(_c)).json()["conversations"][0]
    assert other["mention_count"] == 0 and other["unread_count"] == 2


def test_urgent_message_shows_phone_and_read_state(env: Env) -> None:
    """The sender of an urgent message sees each recipient's phone and whether they read it."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四", phone="13800138000")
    conv = direct(env, a, b_id)
    m = send(env, a, conv, "紧急:请回电", urgent=True).json()
    assert m["urgent"] is True
    assert m["urgent_recipients"] == [{"id": b_id, "name": "李四", "phone": "13800138000", "read": False}]
    assert env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0][
        "urgent_unread"] == 1
    seen_by_b = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(b)).json()["messages"][0]
    assert "urgent_recipients" not in seen_by_b
    env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(b), json={"seq": m["seq"]})
    r = env.client.get(f"/api/v1/messages/{m['id']}/receipts", headers=env.h(a))
    assert r.status_code == 200
    assert [x["user_id"] for x in r.json()["read"]] == [b_id] and r.json()["unread"] == []
    latest = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(a)).json()["messages"][0]
    assert latest["urgent_recipients"][0]["read"] is True
    r = env.client.get(f"/api/v1/messages/{m['id']}/receipts", headers=env.h(b))
    assert r.status_code == 403


def test_edit_by_sender_only(env: Env) -> None:
    """The sender edits a message (it shows as edited); anyone else is refused."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    m = send(env, a, conv, "原文").json()
    r = env.client.patch(f"/api/v1/messages/{m['id']}", headers=env.h(a), json={"text": "修改后"})
    assert r.status_code == 200 and r.json()["edited"] is True and r.json()["text"] == "修改后"
    r = env.client.patch(f"/api/v1/messages/{m['id']}", headers=env.h(b), json={"text": "别人改"})
    assert r.status_code == 403
    seen = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(b)).json()["messages"][0]
    assert seen["text"] == "修改后" and seen["edited"] is True


def test_recall_within_window_and_archive_keeps_versions(env: Env) -> None:
    """The sender recalls within two minutes; everyone sees it empty, the archive keeps every version."""
    from mixun.db.models import MessageVersion

    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    m = send(env, a, conv, "原始内容").json()
    env.client.patch(f"/api/v1/messages/{m['id']}", headers=env.h(a), json={"text": "修改内容"})
    assert env.client.post(f"/api/v1/messages/{m['id']}/recall", headers=env.h(b)).status_code == 403
    r = env.client.post(f"/api/v1/messages/{m['id']}/recall", headers=env.h(a))
    assert r.status_code == 200 and r.json()["recalled"] is True
    seen = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(b)).json()["messages"][0]
    assert seen["recalled"] is True and seen["text"] == ""
    r = env.client.post(f"/api/v1/messages/{m['id']}/recall", headers=env.h(a))
    assert r.status_code == 409
    with env.rt.db.read() as s:
        versions = s.execute(select(MessageVersion.version, MessageVersion.kind, MessageVersion.text)
                             .where(MessageVersion.message_id == m["id"]).order_by(MessageVersion.version)).all()
    assert [tuple(v) for v in versions] == [(1, "created", "原始内容"), (2, "edited", "修改内容"),
                                            (3, "recalled", "")]


def test_recall_refused_after_the_window_but_group_admin_may(env: Env) -> None:
    """After the recall window the sender is refused (403); a group admin can still recall anything."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = group(env, a, "项目组", [b_id])
    m_own = send(env, b, conv, "过一会儿再撤回").json()
    m_admin = send(env, a, conv, "群主的消息").json()
    env.rt.settings = dataclasses.replace(env.rt.settings, recall_window_minutes=0.0)
    r = env.client.post(f"/api/v1/messages/{m_own['id']}/recall", headers=env.h(b))
    assert r.status_code == 403 and r.json()["error"]["code"] == "recall_window_passed"
    r = env.client.post(f"/api/v1/messages/{m_own['id']}/recall", headers=env.h(a))
    assert r.status_code == 200 and r.json()["recalled"] is True
    assert env.client.post(f"/api/v1/messages/{m_admin['id']}/recall", headers=env.h(a)).status_code == 200
    assert a_id


def test_read_receipts_and_unread_counts(env: Env) -> None:
    """Marking read updates read_count in 1:1, counts in groups and the reader's unread_count."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    d = direct(env, a, b_id)
    msgs = [send(env, a, d, f"第{i}条").json() for i in range(3)]
    assert env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0][
        "unread_count"] == 3
    assert env.client.post(f"/api/v1/conversations/{d}/read", headers=env.h(b), json={"seq": 2}).status_code == 204
    listed = env.client.get("/api/v1/conversations", headers=env.h(b)).json()["conversations"][0]
    assert listed["unread_count"] == 1 and listed["read_seq"] == 2
    seen = env.client.get(f"/api/v1/conversations/{d}/messages", headers=env.h(a)).json()["messages"]
    assert [m["read_count"] for m in seen] == [1, 1, 0]
    assert all(m["recipient_count"] == 1 for m in seen)
    g = group(env, a, "三人群", [b_id, c_id])
    gm = send(env, a, g, "大家好").json()
    env.client.post(f"/api/v1/conversations/{g}/read", headers=env.h(b), json={"seq": gm["seq"]})
    seen = env.client.get(f"/api/v1/conversations/{g}/messages", headers=env.h(a)).json()["messages"][0]
    assert seen["read_count"] == 1 and seen["recipient_count"] == 2
    env.client.post(f"/api/v1/conversations/{g}/read", headers=env.h(c), json={"seq": gm["seq"]})
    r = env.client.get(f"/api/v1/messages/{gm['id']}/receipts", headers=env.h(a)).json()
    assert {x["user_id"] for x in r["read"]} == {b_id, c_id}
    assert msgs


def test_history_paging(env: Env) -> None:
    """History pages forward with after_seq and backward with before_seq; limit is capped at 200."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    for i in range(12):
        assert send(env, a, conv, f"第{i + 1}条").status_code == 201
    url = f"/api/v1/conversations/{conv}/messages"
    page = env.client.get(url + "?limit=5", headers=env.h(a)).json()["messages"]
    assert [m["seq"] for m in page] == [1, 2, 3, 4, 5]
    page = env.client.get(url + "?after_seq=5&limit=5", headers=env.h(a)).json()["messages"]
    assert [m["seq"] for m in page] == [6, 7, 8, 9, 10]
    page = env.client.get(url + "?before_seq=12&limit=3", headers=env.h(a)).json()["messages"]
    assert [m["seq"] for m in page] == [9, 10, 11]
    page = env.client.get(url + "?after_seq=3&before_seq=7", headers=env.h(a)).json()["messages"]
    assert [m["seq"] for m in page] == [4, 5, 6]
    assert {"id", "seq", "sender", "text", "created_at", "edited", "recalled"} <= set(page[0])
    assert env.client.get(url + "?limit=200", headers=env.h(a)).status_code == 200
    for bad in ("limit=201", "limit=0", "after_seq=-1", "limit=abc"):
        r = env.client.get(f"{url}?{bad}", headers=env.h(a))
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"


def test_non_members_get_404_without_existence_leak(env: Env) -> None:
    """Someone outside a conversation gets the same 404 as for one that does not exist."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    _c_id, c = env.person("wangwu", "王五")
    conv = direct(env, a, b_id)
    m = send(env, a, conv, "私聊内容").json()
    h = env.h(c)
    calls = [("GET", "/api/v1/conversations/{}", None),
             ("GET", "/api/v1/conversations/{}/messages", None),
             ("POST", "/api/v1/conversations/{}/messages", {"text": "插话"}),
             ("POST", "/api/v1/conversations/{}/read", {"seq": 1}),
             ("PATCH", "/api/v1/conversations/{}", {"name": "x"})]
    for method, tpl, body in calls:
        real = env.client.request(method, tpl.format(conv), headers=h, json=body)
        fake = env.client.request(method, tpl.format(999_999), headers=h, json=body)
        assert real.status_code == fake.status_code == 404, (tpl, real.text)
        assert real.json() == fake.json()
    for method, tpl, body in [("PATCH", "/api/v1/messages/{}", {"text": "改"}),
                              ("POST", "/api/v1/messages/{}/recall", None),
                              ("GET", "/api/v1/messages/{}/receipts", None)]:
        real = env.client.request(method, tpl.format(m["id"]), headers=h, json=body)
        fake = env.client.request(method, tpl.format(999_999), headers=h, json=body)
        assert real.status_code == fake.status_code == 404, (tpl, real.text)
        assert real.json() == fake.json()


def test_images_upload_thumbnail_and_type_checks(env: Env) -> None:
    """A PNG becomes a message with an attachment and a thumbnail; a text file named .png is 415."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    _c_id, c = env.person("wangwu", "王五")
    conv = direct(env, a, b_id)
    r = _upload(env, a, conv, _png((800, 600)))
    assert r.status_code == 201, r.text
    att = r.json()["attachments"][0]
    assert att["kind"] == "image" and att["mime"] == "image/png" and (att["width"], att["height"]) == (800, 600)
    full = env.client.get(f"/api/v1/attachments/{att['id']}", headers=env.h(b))
    assert full.status_code == 200 and full.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(full.content)).size == (800, 600)
    thumb = env.client.get(f"/api/v1/attachments/{att['id']}/thumbnail", headers=env.h(b))
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    assert env.client.get(f"/api/v1/attachments/{att['id']}", headers=env.h(c)).status_code == 404
    r = _upload(env, a, conv, "这不是图片,只是文字".encode() * 10, "fake.png")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media"


def test_image_metadata_is_stripped(env: Env) -> None:
    """EXIF data (camera, GPS, comments) in an uploaded JPEG is gone from what recipients download."""
    _a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    conv = direct(env, a, b_id)
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x0110] = "Model-X"  # Model
    exif[0x9286] = "内部备注"  # UserComment
    src = io.BytesIO()
    Image.new("RGB", (120, 80), (10, 120, 200)).save(src, "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(src.getvalue())).getexif()
    r = _upload(env, a, conv, src.getvalue(), "photo.jpg")
    assert r.status_code == 201, r.text
    att = r.json()["attachments"][0]
    data = env.client.get(f"/api/v1/attachments/{att['id']}", headers=env.h(b)).content
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and len(img.getexif()) == 0 and "exif" not in img.info
    assert b"SecretCamera" not in data and b"Exif" not in data


def test_image_over_size_limit_is_413(tmp_path: Path) -> None:
    """An image larger than the configured limit is refused with 413."""
    env, close = build_env(tmp_path, "sqlite", MIXUN_MAX_IMAGE_BYTES="20000")
    try:
        _a_id, a = env.person("zhangsan", "张三")
        b_id, _b = env.person("lisi", "李四")
        conv = direct(env, a, b_id)
        big = io.BytesIO()
        Image.effect_noise((200, 200), 100).convert("RGB").save(big, "PNG")
        assert len(big.getvalue()) > 20000
        r = _upload(env, a, conv, big.getvalue(), "big.png")
        assert r.status_code == 413 and r.json()["error"]["code"] in ("file_too_large", "body_too_large")
        assert _upload(env, a, conv, _png((10, 10))).status_code == 201
    finally:
        close()


def test_sending_is_rate_limited(tmp_path: Path) -> None:
    """After the burst a sender gets 429 rate_limited with how long to wait; other people are not affected."""
    env, close = build_env(tmp_path, "sqlite", MIXUN_SEND_BURST="3", MIXUN_SEND_RATE_PER_MINUTE="1")
    try:
        _a_id, a = env.person("zhangsan", "张三")
        b_id, b = env.person("lisi", "李四")
        conv = direct(env, a, b_id)
        assert [send(env, a, conv, f"第{i}条").status_code for i in range(3)] == [201, 201, 201]
        r = send(env, a, conv, "太快了")
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        # one token a minute, the burst just spent: the next one comes in about a minute
        assert 55 <= int(r.headers["Retry-After"]) <= 60
        assert r.json()["error"]["retry_after"] == int(r.headers["Retry-After"])
        assert send(env, b, conv, "我还可以发").status_code == 201
        msgs = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(a)).json()["messages"]
        assert [m["seq"] for m in msgs] == [1, 2, 3, 4], "a refused send takes no seq"
    finally:
        close()
