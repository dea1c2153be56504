"""Errors speak the client's language: ``Accept-Language: en`` gets English for errors that were once
Chinese-only, and a Chinese client still gets Chinese."""

from __future__ import annotations

from tests.conftest import Env
from tests.helpers import direct, send

EN = {"Accept-Language": "en"}


def test_errors_that_were_chinese_only_come_in_english(env: Env) -> None:
    """An English client reads English for a wrong password, a bad direct conversation, editing someone
    else's message and verifying two-factor before enrolling; the codes and statuses are as before."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    r = env.client.post("/api/v1/auth/password", headers={**env.h(a), **EN},
                        json={"old_password": "not-my-password", "new_password": "Another#Pass2026"})
    assert r.status_code == 401 and r.json()["error"] == {"code": "invalid_credentials",
                                                          "message": "The current password is wrong"}
    r = env.client.post("/api/v1/conversations", headers={**env.h(a), **EN},
                        json={"kind": "direct", "members": [a_id]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_members"
    assert r.json()["error"]["message"] == "A direct conversation needs exactly one other member"
    m = send(env, a, direct(env, a, b_id), "原始内容").json()
    r = env.client.patch(f"/api/v1/messages/{m['id']}", headers={**env.h(b), **EN}, json={"text": "改"})
    assert r.status_code == 403 and r.json()["error"] == {"code": "forbidden",
                                                          "message": "You can edit only messages you sent"}
    r = env.client.post("/api/v1/auth/totp/verify", headers={**env.h(a), **EN}, json={"otp": "123456"})
    assert r.status_code == 409 and r.json()["error"] == {"code": "totp_not_started",
                                                          "message": "Start enrolling two-factor authentication first"}


def test_chinese_clients_still_get_chinese_with_full_width_punctuation(env: Env) -> None:
    """Without an English preference the same errors read in Chinese."""
    a_id, a = env.person("zhangsan", "张三")
    r = env.client.post("/api/v1/conversations", headers={**env.h(a), "Accept-Language": "zh-CN"},
                        json={"kind": "direct", "members": [a_id]})
    assert r.status_code == 422 and r.json()["error"]["message"] == "单聊必须且只能指定一位对方成员"
    r = env.client.post("/api/v1/auth/totp/verify", headers=env.h(a), json={"otp": "123456"})
    assert r.status_code == 409 and r.json()["error"]["message"] == "请先开始启用双因素认证"
