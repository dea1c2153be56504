"""secadmin keeps the DLP policy and lexicons; hits are recorded per person; violations escalate."""

from __future__ import annotations

from tests.conftest import Env, build_env
from tests.helpers import direct, group, send, staff


def test_secadmin_changes_policy_and_the_send_path_follows(env: Env) -> None:
    """After secadmin blocks mobile numbers in 1:1 chats, such a message is refused; the change is audited."""
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = direct(env, ta, b)
    assert send(env, ta, conv, "我的手机 13912345678", confirm=True).status_code == 201
    policy = env.client.get("/api/v1/dlp/policy", headers=env.h(tsec)).json()["policy"]
    policy["rules"].insert(0, {"action": "block", "detectors": ["cn_mobile"], "channels": ["direct"]})
    r = env.client.put("/api/v1/dlp/policy", headers=env.h(tsec), json={"policy": policy, "note": "手机号禁发"})
    assert r.status_code == 200 and r.json()["default"] is False
    env.rt.dlp_service.invalidate()
    blocked = send(env, ta, conv, "我的手机 13912345678")
    assert blocked.status_code == 422 and blocked.json()["error"]["code"] == "dlp_blocked"
    bad = env.client.put("/api/v1/dlp/policy", headers=env.h(tsec), json={"policy": {"rules": [{"action": "nuke"}]}})
    assert bad.status_code == 422
    from mixun.services import audit_read
    from mixun.services.runtime import Ctx

    trail = audit_read.search(Ctx(rt=env.rt), "dlp.policy_changed", None, 10, 0)["records"]
    assert trail and trail[0]["details"]["note"] == "手机号禁发"


def test_lexicon_terms_added_by_secadmin_block_messages(env: Env) -> None:
    """A gambling term added to the lexicon blocks a message containing it, even in Traditional characters."""
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, "项目组", [b])
    r = env.client.post("/api/v1/dlp/lexicons", headers=env.h(tsec),
                        json={"category": "gambling", "terms": ["百家乐代理"]})
    assert r.status_code == 200 and r.json() == {"added": 1}
    env.rt.dlp_service.invalidate()
    blocked = send(env, ta, conv, "诚招百家樂代理,日结")
    assert blocked.status_code == 422
    assert blocked.json()["error"]["findings"][0]["detector"] == "prohibited"
    unknown = env.client.post("/api/v1/dlp/lexicons", headers=env.h(tsec), json={"category": "x", "terms": ["y"]})
    assert unknown.status_code == 422


def test_scan_endpoint_and_hits_show_masked_values_only(env: Env) -> None:
    """secadmin tries a text; hits list the person with masked values and never the raw number."""
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, "项目组", [b])
    raw = "11010519491231002X"
    assert send(env, ta, conv, f"身份证 {raw}").status_code == 201
    tried = env.client.post("/api/v1/dlp/scan", headers=env.h(tsec), json={"text": f"身份证 {raw}", "channel": "group"})
    assert tried.status_code == 200 and tried.json()["action"] == "mask"
    assert raw not in tried.json()["masked_text"]
    hits = env.client.get("/api/v1/dlp/hits", headers=env.h(tsec))
    assert hits.status_code == 200 and raw not in hits.text
    assert hits.json()["hits"][0]["detector"] == "cn_id_card" and hits.json()["by_person"][0]["name"] == "张三"


def test_employee_cannot_reach_dlp_console(env: Env) -> None:
    """An employee gets 403 from every DLP administration call."""
    _a, ta = env.person("zhangsan", "张三")
    for method, path in (("get", "/api/v1/dlp/policy"), ("get", "/api/v1/dlp/hits")):
        assert getattr(env.client, method)(path, headers=env.h(ta)).status_code == 403


def test_repeated_violations_escalate_to_suspension(tmp_path) -> None:
    """Blocked attempts escalate: a notice to the unit head, then sending is suspended (403) until lifted."""
    env, close = build_env(tmp_path, "sqlite", MIXUN_DLP_ESCALATION="1,2,3", MIXUN_DLP_SUSPEND_HOURS="1")
    try:
        _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
        a, ta = env.person("zhangsan", "张三")
        head, thead = env.person("wangwu", "王五", roles=["employee", "unit_head"])
        conv = direct(env, ta, head)
        for _ in range(3):
            r = send(env, ta, conv, "绝密★长期 作战方案")
            assert r.status_code == 422
        env.rt.dlp_service.invalidate()
        suspended = send(env, ta, conv, "普通消息")
        assert suspended.status_code == 403 and suspended.json()["error"]["code"] == "sending_suspended"
        from mixun.services import events

        with env.rt.db.read() as s:
            head_events = [p for _, p in events.read_events(s, head, 0)]
        assert any("dlp.violation_notice" in p for p in head_events), "the unit head is told"
        assert env.client.post(f"/api/v1/dlp/sanctions/{a}/lift", headers=env.h(tsec)).status_code == 204
        assert send(env, ta, conv, "普通消息").status_code == 201
    finally:
        close()
