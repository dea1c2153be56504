"""An employee's message search finds only what their chat history shows them."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env
from tests.helpers import group, send


def _search(env: Env, token: str, q: str) -> list[dict[str, Any]]:
    r = env.client.get("/api/v1/search/messages", headers=env.h(token), params={"q": q})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def test_search_skips_messages_from_before_the_searcher_joined(env: Env) -> None:
    """Someone added to a group later finds the messages sent after they joined, not the earlier ones."""
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    c, tc = env.person("wangwu", "王五")
    conv = group(env, ta, "授信组", [b])
    assert send(env, ta, conv, "并购项目报价两亿").status_code == 201
    assert env.client.post(f"/api/v1/conversations/{conv}/members", headers=env.h(ta),
                           json={"user_ids": [c]}).status_code in (200, 201)
    assert send(env, ta, conv, "并购项目下周开会").status_code == 201
    history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tc)).json()["messages"]
    assert [m["text"] for m in history if "并购" in m["text"]] == ["并购项目下周开会"]
    assert [r["text"] for r in _search(env, tc, "并购项目")] == ["并购项目下周开会"]


def test_search_matches_only_the_current_text_of_edited_and_recalled_messages(env: Env) -> None:
    """After an edit the old wording is not found (the new one is); a recalled message is not found at all."""
    _a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, "授信组", [b])
    edited = send(env, ta, conv, "客户授信额度五千万").json()
    assert env.client.patch(f"/api/v1/messages/{edited['id']}", headers=env.h(ta),
                            json={"text": "额度待定"}).status_code == 200
    recalled = send(env, ta, conv, "内部评级下调至BB").json()
    assert env.client.post(f"/api/v1/messages/{recalled['id']}/recall", headers=env.h(ta)).status_code == 200
    assert _search(env, tb, "五千万") == []
    assert [r["text"] for r in _search(env, tb, "额度待定")] == ["额度待定"]
    assert _search(env, tb, "内部评级") == []
