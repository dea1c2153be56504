"""三员分立 in the review queue: secadmin decides held items without ever reading the message content."""

from __future__ import annotations

from tests.conftest import Env
from tests.helpers import group, send, staff

SECRET = "客户王五账户余额三千二百万元"


def test_secadmin_hold_rule_does_not_reveal_message_text(env: Env) -> None:
    """secadmin makes a common word hold every message; the queue shows it who and when, masked findings
    and "content hidden", never the text or files; compliance sees the text after secadmin escalates."""
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    policy = env.client.get("/api/v1/dlp/policy", headers=env.h(tsec)).json()["policy"]
    policy["rules"].insert(0, {"action": "hold", "detectors": ["prohibited"], "channels": ["group", "direct"]})
    assert env.client.put("/api/v1/dlp/policy", headers=env.h(tsec),
                          json={"policy": policy, "note": "先审后发"}).status_code == 200
    assert env.client.post("/api/v1/dlp/lexicons", headers=env.h(tsec),
                           json={"category": "gambling", "terms": ["季度报表"]}).status_code == 200
    env.rt.dlp_service.invalidate()
    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, "信贷组", [b])
    r = send(env, ta, conv, f"季度报表：{SECRET}")
    assert r.status_code == 201 and r.json()["dlp"]["action"] == "hold", r.text
    q = env.client.get("/api/v1/compliance/review", headers=env.h(tsec))
    assert q.status_code == 200 and SECRET not in q.text
    item = q.json()["items"][0]
    assert item["content_hidden"] is True and item["text"] == "" and item["attachments"] == []
    assert item["subject"]["id"] == a and item["conversation_id"] == conv and item["kind"] == "dlp_hold"
    assert [f["detector"] for f in item["dlp_findings"]] == ["prohibited"]
    refused = env.client.get(f"/api/v1/compliance/review/{item['id']}/attachments/1", headers=env.h(tsec))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "review_content_hidden"
    d = env.client.post(f"/api/v1/compliance/review/{item['id']}/decision", headers=env.h(tsec),
                        json={"decision": "escalate", "note": "请合规审查"})
    assert d.status_code == 200 and d.json()["status"] == "escalated"
    _c, tc = staff(env, "hegui", "合规员", "compliance")
    seen = env.client.get("/api/v1/compliance/review?status=escalated", headers=env.h(tc)).json()["items"][0]
    assert seen["content_hidden"] is False and SECRET in seen["text"]
