"""Composer drafts kept on the server: they survive a reload; only members keep one; empty drops it."""

from __future__ import annotations

from tests.conftest import Env
from tests.helpers import direct


def test_draft_survives_and_empty_text_drops_it(env: Env) -> None:
    """A draft saved in a conversation comes back in GET /drafts; saving an empty text removes it."""
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = direct(env, ta, b)
    assert env.client.put(f"/api/v1/drafts/{conv}", headers=env.h(ta), json={"text": "明天上午的会，"}).status_code == 204
    assert env.client.get("/api/v1/drafts", headers=env.h(ta)).json() == {"drafts": {str(conv): "明天上午的会，"}}
    assert env.client.put(f"/api/v1/drafts/{conv}", headers=env.h(ta), json={"text": ""}).status_code == 204
    assert env.client.get("/api/v1/drafts", headers=env.h(ta)).json() == {"drafts": {}}


def test_draft_only_in_ones_own_conversations(env: Env) -> None:
    """Someone outside a conversation cannot keep a draft in it (404), and over-long text is a 422."""
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    _c, tc = env.person("wangwu", "王五")
    conv = direct(env, ta, b)
    assert env.client.put(f"/api/v1/drafts/{conv}", headers=env.h(tc), json={"text": "x"}).status_code == 404
    r = env.client.put(f"/api/v1/drafts/{conv}", headers=env.h(ta), json={"text": "长" * 10_001})
    assert r.status_code == 422
    assert env.client.get("/api/v1/drafts", headers=env.h(tc)).json() == {"drafts": {}}
