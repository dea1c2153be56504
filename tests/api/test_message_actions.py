"""Message actions and previews: forward one by one and merged (same checks as a send), reactions and
收到, and Office previews that are sanitised, watermarked, never cached and only for downloadable files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from mixun.db.models import Attachment, Message
from tests.conftest import Env, build_env
from tests.helpers import direct, group, send
from tests.unit.files.files_samples import make_docx, make_pdf, make_pptx, make_xlsx

ID_NUMBER = "11010519491231002X"


@pytest.fixture(params=["sqlite", "postgresql"])
def fenv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket, MIXUN_MAX_FILE_BYTES="2000000")
    yield e
    close()


def _send_file(env: Env, token: str, conv: int, data: bytes, name: str, **form: Any) -> Any:
    return env.client.post(f"/api/v1/conversations/{conv}/files", headers=env.h(token),
                           files={"file": (name, data, "application/octet-stream")},
                           data={k: str(v).lower() for k, v in form.items()})


def _forward(env: Env, token: str, ids: list[int], conv: int, **kw: Any) -> Any:
    return env.client.post("/api/v1/messages/forward", headers=env.h(token),
                           json={"message_ids": ids, "conversation_id": conv, **kw})


def test_forward_one_by_one_applies_the_targets_dlp(env: Env) -> None:
    """A confirmed ID number in a 1:1 chat, forwarded to a group, arrives masked there (the group's DLP
    channel), as a new message of the forwarder."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    one = direct(env, a, b_id)
    grp = group(env, b, "项目组", [a_id])
    m1 = send(env, a, one, f"身份证 {ID_NUMBER}", confirm=True).json()["id"]
    m2 = send(env, a, one, "第二条").json()["id"]
    r = _forward(env, b, [m1, m2], grp)
    assert r.status_code == 201, r.text
    sent = r.json()["messages"]
    assert [m["sender"]["id"] for m in sent] == [b_id, b_id]
    assert ID_NUMBER not in sent[0]["text"] and "110105" in sent[0]["text"] and sent[1]["text"] == "第二条"
    history = env.client.get(f"/api/v1/conversations/{grp}/messages", headers=env.h(a)).json()["messages"]
    assert [m["text"] for m in history][-1] == "第二条"


def test_forward_needs_read_access_to_the_source(env: Env) -> None:
    """Nobody forwards what they cannot read, a recalled message, or into a conversation they are not in."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    one = direct(env, a, b_id)
    mine = direct(env, c, a_id)
    m = send(env, a, one, "只给李四").json()["id"]
    r = _forward(env, c, [m], mine)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = _forward(env, b, [m], mine)
    assert r.status_code == 404
    env.client.post(f"/api/v1/messages/{m}/recall", headers=env.h(a))
    r = _forward(env, a, [m], mine)
    assert r.status_code == 422 and r.json()["error"]["code"] == "forward_not_allowed"
    r = _forward(env, a, [], mine)
    assert r.status_code == 422


def test_merged_forward_opens_to_the_forwarded_messages(env: Env) -> None:
    """合并转发 sends one message whose bundle lists the forwarded ones, each masked for the target."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    c_id, c = env.person("wangwu", "王五")
    one = direct(env, a, b_id)
    grp = group(env, b, "项目组", [c_id])
    ids = [send(env, a, one, "早上好").json()["id"], send(env, b, one, f"身份证 {ID_NUMBER}", confirm=True).json()["id"]]
    r = _forward(env, b, ids, grp, merged=True)
    assert r.status_code == 201, r.text
    [msg] = r.json()["messages"]
    assert msg["kind"] == "merged" and msg["text"].startswith("张三、李四的聊天记录")
    assert ID_NUMBER not in msg["text"]
    got = env.client.get(f"/api/v1/messages/{msg['id']}/bundle", headers=env.h(c))
    assert got.status_code == 200
    items = got.json()["items"]
    assert [(i["sender"]["name"], i["text"]) for i in items][0] == ("张三", "早上好")
    assert ID_NUMBER not in items[1]["text"] and "110105" in items[1]["text"]
    assert env.client.get(f"/api/v1/messages/{msg['id']}/bundle", headers=env.h(a)).status_code == 404
    assert env.client.get(f"/api/v1/messages/{ids[0]}/bundle", headers=env.h(a)).status_code == 404
    r = env.client.patch(f"/api/v1/messages/{msg['id']}", headers=env.h(b), json={"text": "改掉记录"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_reactions_and_quick_received_reach_everyone(env: Env) -> None:
    """收到 and emoji reactions show with names in history; taking one back removes it; others are refused."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    grp = group(env, a, "项目组", [b_id])
    m = send(env, a, grp, "明天九点开会").json()["id"]
    r = env.client.post(f"/api/v1/messages/{m}/reactions", headers=env.h(b), json={"emoji": "收到"})
    assert r.status_code == 200 and r.json()["reactions"] == [{"emoji": "收到", "users": [{"id": b_id, "name": "李四"}]}]
    env.client.post(f"/api/v1/messages/{m}/reactions", headers=env.h(a), json={"emoji": "👍"})
    history = env.client.get(f"/api/v1/conversations/{grp}/messages", headers=env.h(a)).json()["messages"]
    assert [x["emoji"] for x in history[-1]["reactions"]] == ["收到", "👍"]
    env.client.post(f"/api/v1/messages/{m}/reactions", headers=env.h(b), json={"emoji": "收到", "on": False})
    history = env.client.get(f"/api/v1/conversations/{grp}/messages", headers=env.h(b)).json()["messages"]
    assert [x["emoji"] for x in history[-1]["reactions"]] == ["👍"]
    r = env.client.post(f"/api/v1/messages/{m}/reactions", headers=env.h(b), json={"emoji": "<script>"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"


def test_forwarded_file_is_checked_for_the_target_and_stored_anew(fenv: Env) -> None:
    """A forwarded document arrives as a new file of the forwarder's (its own blob); a file still
    waiting for its virus scan cannot be forwarded."""
    env = fenv
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    one = direct(env, a, b_id)
    grp = group(env, b, "项目组", [a_id])
    r = _send_file(env, a, one, make_docx(["季度报告正文"]), "报告.docx")
    assert r.status_code == 201, r.text
    src = r.json()
    r = _forward(env, b, [src["id"]], grp)
    assert r.status_code == 201, r.text
    [copy] = r.json()["messages"]
    assert copy["kind"] == "file" and copy["attachments"][0]["filename"] == "报告.docx"
    with env.rt.db.read() as s:
        keys = {a.blob_key for a in s.query(Attachment).all()}
    assert len(keys) == 2
    with env.rt.db.write() as s:
        s.execute(update(Attachment).where(Attachment.message_id == src["id"]).values(scan_status="pending"))
    r = _forward(env, b, [src["id"]], grp)
    assert r.status_code == 422 and r.json()["error"]["code"] == "forward_not_allowed"


def test_office_preview_is_sanitised_watermarked_and_not_cached(fenv: Env) -> None:
    """Word, Excel and PowerPoint preview as HTML with the viewer's name as watermark, a strict CSP and
    no-store; markup inside the document is shown as text, never run."""
    env = fenv
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    one = direct(env, a, b_id)
    docs = {"a.docx": make_docx(["季度报告正文", "<script>alert(1)</script>"]),
            "b.xlsx": make_xlsx([["客户", "金额"], ["<img src=x onerror=alert(1)>", 100]]),
            "c.pptx": make_pptx(["第一页标题", "要点"])}
    for name, data in docs.items():
        att = _send_file(env, a, one, data, name).json()["attachments"][0]["id"]
        r = env.client.get(f"/api/v1/attachments/{att}/preview", headers=env.h(b))
        assert r.status_code == 200, (name, r.text)
        assert r.headers["cache-control"] == "no-store"
        csp = r.headers["content-security-policy"]
        assert "script-src 'none'" in csp and "sandbox" in csp and "default-src 'none'" in csp
        assert r.headers.get_list("content-security-policy") == [csp]
        body = r.text
        assert "李四" in body and "preview-watermark" in body
        assert "<script" not in body.split("</title>")[1] and "<img" not in body
    assert "季度报告正文" in env.client.get(f"/api/v1/attachments/{att - 2}/preview", headers=env.h(b)).text


def test_preview_only_for_files_the_viewer_may_download(fenv: Env) -> None:
    """No preview of a file held, recalled, not yet scanned, from outside one's conversations, or of a
    kind that has no preview."""
    env = fenv
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    _c_id, c = env.person("wangwu", "王五")
    one = direct(env, a, b_id)
    r = _send_file(env, a, one, make_docx(["正文"]), "a.docx").json()
    att, mid = r["attachments"][0]["id"], r["id"]
    assert env.client.get(f"/api/v1/attachments/{att}/preview", headers=env.h(c)).status_code == 404
    with env.rt.db.write() as s:
        s.execute(update(Attachment).where(Attachment.id == att).values(scan_status="pending"))
    assert env.client.get(f"/api/v1/attachments/{att}/preview", headers=env.h(b)).json()["error"]["code"] == "file_not_ready"
    with env.rt.db.write() as s:
        s.execute(update(Attachment).where(Attachment.id == att).values(scan_status="clean"))
        s.execute(update(Message).where(Message.id == mid).values(dlp_action="hold"))
    assert env.client.get(f"/api/v1/attachments/{att}/preview", headers=env.h(b)).status_code == 404
    with env.rt.db.write() as s:
        s.execute(update(Message).where(Message.id == mid).values(dlp_action=None))
    env.client.post(f"/api/v1/messages/{mid}/recall", headers=env.h(a))
    assert env.client.get(f"/api/v1/attachments/{att}/preview", headers=env.h(b)).json()["error"]["code"] == "message_recalled"
    pdf = _send_file(env, a, one, make_pdf(["合同"]), "x.pdf")
    assert pdf.status_code == 201, pdf.text
    pid = pdf.json()["attachments"][0]["id"]
    r = env.client.get(f"/api/v1/attachments/{pid}/preview", headers=env.h(b))
    assert r.status_code == 415 and r.json()["error"]["code"] == "preview_unsupported"


def test_forwarding_many_counts_once_against_the_send_rate(tmp_path: Path) -> None:
    """Forwarding several messages one by one is one act for the send rate: it never stops halfway."""
    env, close = build_env(tmp_path, "sqlite", MIXUN_SEND_RATE_PER_MINUTE="5", MIXUN_SEND_BURST="7")
    try:
        a_id, a = env.person("zhangsan", "张三")
        b_id, b = env.person("lisi", "李四")
        one = direct(env, a, b_id)
        ids = [send(env, a, one, f"第{i}条").json()["id"] for i in range(5)]
        for i in range(3):  # 3 of the 7 the burst allows; the forward takes 1 more, not 5
            assert send(env, b, one, f"我转一下{i}").status_code == 201
        r = _forward(env, b, ids, one)
        assert r.status_code == 201, r.text
        assert [m["text"] for m in r.json()["messages"]] == [f"第{i}条" for i in range(5)]
    finally:
        close()
