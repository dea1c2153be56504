"""M3 urgent messages: the sender sees phones and read state; offline recipients get an SMS notice."""

from __future__ import annotations

import json

from tests.conftest import Env
from tests.helpers import direct, send


def test_urgent_message_shows_phone_and_notifies_offline_recipient(env: Env) -> None:
    """An urgent message shows the sender the recipient's phone and read state; the offline recipient
    gets a gateway notice that carries no message content."""
    _a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四", phone="13800138000")
    conv = direct(env, ta, b)
    r = send(env, ta, conv, "系统故障,请立即回电", urgent=True)
    assert r.status_code == 201
    body = r.json()
    assert body["urgent"] is True
    assert body["urgent_recipients"] == [{"id": b, "name": "李四", "phone": "13800138000", "read": False}]
    outbox = env.settings.data_dir / "outbox" / "sms.jsonl"
    raw = [json.loads(x) for x in outbox.read_text(encoding="utf-8").splitlines()]
    assert raw[-1]["text"].startswith("\x1fm1") and "张三" not in raw[-1]["text"]  # sealed at rest
    from mixun.services.notifications import outbox as read_outbox

    lines = read_outbox(env.rt)  # opened, as a gateway reads it
    assert lines[-1]["user_id"] == b and lines[-1]["phone"] == "13800138000"
    assert "系统故障" not in lines[-1]["text"] and "张三" in lines[-1]["text"]
    env.client.post(f"/api/v1/conversations/{conv}/read", headers=env.h(tb), json={"seq": body["seq"]})
    receipts = env.client.get(f"/api/v1/messages/{body['id']}/receipts", headers=env.h(ta)).json()
    assert receipts["urgent_phones"][0]["read"] is True
    seen = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta)).json()["messages"]
    assert seen[0]["urgent_recipients"][0]["read"] is True
