"""Bad input gets a clear 4xx in the documented error format: never a 500 or a stack trace."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env
from tests.helpers import direct

TRACE_MARKERS = ("Traceback", "File \"", "sqlalchemy", "psycopg", "Exception", "line ")


def _error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert not any(marker in r.text for marker in TRACE_MARKERS), r.text
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_malformed_json_is_400_invalid_json(env: Env) -> None:
    """A body that is not JSON gets 400 invalid_json."""
    _uid, t = env.person("zhangsan", "张三")
    h = {**env.h(t), "Content-Type": "application/json"}
    for raw in ('{"text": "未闭合', "not json", "{'single': 1}", "\xff\xfe"):
        _error(env.client.post("/api/v1/conversations", headers=h, content=raw.encode("utf-8", "replace")),
               400, "invalid_json")
    _error(env.client.post("/api/v1/auth/login", headers={"Content-Type": "application/json"}, content=b"{"),
           400, "invalid_json")


def test_wrong_types_are_422_validation_failed(env: Env) -> None:
    """A number where text belongs, or a string where a list belongs, is 422 validation_failed."""
    a_id, t = env.person("zhangsan", "张三")
    b_id, _ = env.person("lisi", "李四")
    conv = direct(env, t, b_id)
    h = env.h(t)
    err = _error(env.client.post(f"/api/v1/conversations/{conv}/messages", headers=h, json={"text": 12345}),
                 422, "validation_failed")
    assert any(f["field"] == "text" for f in err["fields"])
    _error(env.client.post("/api/v1/conversations", headers=h, json={"kind": "group", "name": "群",
                                                                     "members": str(b_id)}), 422, "validation_failed")
    _error(env.client.post("/api/v1/conversations", headers=h, json={"kind": "group", "name": "群",
                                                                     "members": ["x"]}), 422, "validation_failed")
    _error(env.client.post(f"/api/v1/conversations/{conv}/messages", headers=h, json={"text": "a", "urgent": "yes"}),
           422, "validation_failed")
    _error(env.client.post(f"/api/v1/conversations/{conv}/messages", headers=h, json=["text"]),
           422, "validation_failed")
    _error(env.client.post(f"/api/v1/conversations/{conv}/read", headers=h, json={"seq": "1"}),
           422, "validation_failed")
    _error(env.client.post("/api/v1/auth/login", json={"username": ["a"], "password": 1}), 422, "validation_failed")
    _error(env.client.post("/api/v1/conversations", headers=h, json={"kind": "channel", "members": [b_id]}),
           422, "validation_failed")
    assert a_id


def test_oversized_body_is_413(env: Env) -> None:
    """A request body over the limit is refused with 413 body_too_large before it is read."""
    _uid, t = env.person("zhangsan", "张三")
    b_id, _ = env.person("lisi", "李四")
    conv = direct(env, t, b_id)
    big = '{"text": "' + "x" * 2_000_000 + '"}'
    _error(env.client.post(f"/api/v1/conversations/{conv}/messages", headers={**env.h(t),
           "Content-Type": "application/json"}, content=big.encode()), 413, "body_too_large")


def test_oversized_body_without_length_is_413(sqlite_env: Env) -> None:
    """A body sent without Content-Length is cut off at the limit with 413 body_too_large too."""
    env = sqlite_env
    _uid, t = env.person("zhangsan", "张三")
    b_id, _ = env.person("lisi", "李四")
    conv = direct(env, t, b_id)

    def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        yield b'{"text": "'
        for _ in range(30):
            yield b"y" * 100_000
        yield b'"}'

    _error(env.client.post(f"/api/v1/conversations/{conv}/messages", headers={**env.h(t),
           "Content-Type": "application/json"}, content=chunks()), 413, "body_too_large")


def test_unknown_ids_are_404_or_422_never_500(env: Env) -> None:
    """Huge, negative, zero and non-numeric ids get 404 or 422 in the error format, never 500."""
    _uid, t = env.person("zhangsan", "张三")
    h = env.h(t)
    for bad in ("999999", str(2**53), str(2**63), "99999999999999999999999", "-1", "0", "abc", "1.5", "%00"):
        for method, tpl, body in [("GET", "/api/v1/conversations/{}", None),
                                  ("GET", "/api/v1/conversations/{}/messages", None),
                                  ("POST", "/api/v1/conversations/{}/messages", {"text": "hi"}),
                                  ("PATCH", "/api/v1/messages/{}", {"text": "hi"}),
                                  ("POST", "/api/v1/messages/{}/recall", None),
                                  ("GET", "/api/v1/attachments/{}", None),
                                  ("GET", "/api/v1/directory/users/{}", None),
                                  ("DELETE", "/api/v1/auth/sessions/{}", None)]:
            r = env.client.request(method, tpl.format(bad), headers=h, json=body)
            assert r.status_code in (404, 422), (method, tpl, bad, r.status_code, r.text)
            _error(r, r.status_code)
    for q in ("after_seq=99999999999999999999", "before_seq=-5", "limit=1e3"):
        r = env.client.get("/api/v1/conversations/1/messages?" + q, headers=h)
        assert r.status_code in (404, 422), (q, r.text)


def test_unknown_routes_are_404_in_the_error_format(env: Env) -> None:
    """An unknown API route is a 404 in the error format, even without login; a wrong method is 405."""
    _uid, t = env.person("zhangsan", "张三")
    env.client.cookies.clear()
    for path in ("/api/v1/nope", "/api/v2/conversations", "/api/v1/conversations/1/nothing"):
        _error(env.client.get(path), 404)
        _error(env.client.get(path, headers=env.h(t)), 404)
    r = env.client.put("/api/v1/conversations", headers=env.h(t), json={})
    assert r.status_code in (404, 405)
    _error(r, r.status_code)


def test_errors_are_in_english_on_request(env: Env) -> None:
    """Accept-Language: en gives English messages; the default is Chinese."""
    _uid, t = env.person("zhangsan", "张三")
    zh = env.client.get("/api/v1/conversations/999999", headers=env.h(t)).json()["error"]["message"]
    en = env.client.get("/api/v1/conversations/999999", headers={**env.h(t), "Accept-Language": "en-US,en;q=0.9"}
                        ).json()["error"]["message"]
    assert en == "Not found" and zh != en
    env.client.cookies.clear()  # the login above left a session cookie in the client
    r = env.client.get("/api/v1/conversations", headers={"Accept-Language": "en"})
    assert r.json()["error"]["message"] == "Authentication required"
    r = env.client.post("/api/v1/auth/login", headers={"Accept-Language": "en", "Content-Type": "application/json"},
                        content=b"{")
    assert r.json()["error"]["message"] == "The request body is not valid JSON"
