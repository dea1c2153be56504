"""Input at the edge (docs/api.md "Input and errors"): ids beyond the databases' range, times off the
calendar and text no database can store are a 422 in the documented format, never a 500."""

from __future__ import annotations

from typing import Any

from tests.api.test_bad_input import _error
from tests.conftest import Env
from tests.helpers import direct, group, send, staff

HUGE = 18446744073709551616  # 2**64
HUGE_NEG = -HUGE
LATE = "9999-12-31T23:59:59-14:00"
EARLY = "0001-01-01T00:00:00+14:00"


def _people(env: Env) -> dict[str, Any]:
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    roles = {r: staff(env, f"{r}1", f"{r}员", r)[1] for r in ("sysadmin", "secadmin", "auditor", "compliance")}
    conv = direct(env, ta, b)
    return {"a": a, "b": b, "ta": ta, "tb": tb, "conv": conv, **roles}


def test_ids_beyond_64_bits_are_422_everywhere(env: Env) -> None:
    """An id, cursor or count too large for the database is a 422 on every route that takes one."""
    p = _people(env)
    h = env.h(p["ta"])
    for big in (HUGE, HUGE_NEG, 2**63, 2**53 + 1):
        gets = [
            (h, f"/api/v1/directory/users?unit_id={big}"),
            (h, f"/api/v1/directory/users/{big}"),
            (h, f"/api/v1/conversations/{big}"),
            (h, f"/api/v1/conversations/{p['conv']}/messages?after_seq={big}"),
            (h, f"/api/v1/messages/{big}/receipts"),
            (h, f"/api/v1/search/messages?q=x&cursor={big}"),
            (h, f"/api/v1/attachments/{big}"),
            (env.h(p["compliance"]), f"/api/v1/compliance/archive/search?reason=r&sender={big}"),
            (env.h(p["compliance"]), f"/api/v1/compliance/archive/search?reason=r&conversation_id={big}"),
            (env.h(p["compliance"]), f"/api/v1/compliance/archive/search?reason=r&cursor={big}"),
            (env.h(p["compliance"]), f"/api/v1/compliance/archive/conversations/{p['conv']}?reason=r&after_version={big}"),
            (env.h(p["secadmin"]), f"/api/v1/dlp/hits?user_id={big}"),
            (env.h(p["auditor"]), f"/api/v1/admin/audit?actor={big}"),
        ]
        for headers, url in gets:
            _error(env.client.get(url, headers=headers), 422, "validation_failed")
        posts = [
            (h, "/api/v1/conversations", {"kind": "group", "name": "群", "members": [p["b"], big]}),
            (h, f"/api/v1/conversations/{p['conv']}/messages", {"text": "你好", "reply_to": big}),
            (h, f"/api/v1/conversations/{p['conv']}/read", {"seq": big}),
            (h, "/api/v1/reports", {"message_id": big, "reason": "x"}),
            (env.h(p["compliance"]), "/api/v1/compliance/holds", {"reason": "r", "user_id": big}),
            (env.h(p["compliance"]), "/api/v1/compliance/holds", {"reason": "r", "conversation_id": big}),
            (env.h(p["compliance"]), "/api/v1/compliance/exports", {"reason": "r", "conversation_id": big}),
            (env.h(p["sysadmin"]), "/api/v1/admin/units", {"name": "新部门", "parent_id": big}),
        ]
        for headers, url, body in posts:
            _error(env.client.post(url, headers=headers, json=body), 422, "validation_failed")
        g = group(env, p["ta"], "项目组", [p["b"]])
        for url, body in ((f"/api/v1/conversations/{g}/members", {"user_ids": [big]}),
                          (f"/api/v1/conversations/{g}/owner", {"user_id": big}),
                          (f"/api/v1/conversations/{g}/admins", {"user_id": big, "admin": True})):
            _error(env.client.post(url, headers=h, json=body), 422, "validation_failed")
        _error(env.client.patch(f"/api/v1/admin/users/{p['a']}", headers=env.h(p["sysadmin"]),
                                json={"unit_id": big}), 422, "validation_failed")
    # The largest id accepted is an ordinary "not found".
    _error(env.client.get(f"/api/v1/conversations/{2**53}", headers=h), 404, "not_found")


def test_database_range_errors_are_422_not_500(env: Env) -> None:
    """Should an integer slip past the edge, the database's own out-of-range error is still a 422."""
    from fastapi import APIRouter, Depends

    from mixun.api.deps import gate
    from mixun.db.models import User
    from mixun.domain.roles import Perm

    router = APIRouter()

    @router.get("/api/v1/test-unbounded")
    def unbounded(n: int, ctx: Any = Depends(gate(Perm.PUBLIC))) -> dict[str, Any]:
        with ctx.rt.db.read() as s:
            return {"found": s.get(User, n) is not None}

    env.app.include_router(router)
    env.app.router.routes.insert(0, env.app.router.routes.pop())  # ahead of the web client's catch-all
    assert env.client.get("/api/v1/test-unbounded?n=1").status_code == 200
    _error(env.client.get(f"/api/v1/test-unbounded?n={HUGE}"), 422, "validation_failed")


def test_times_off_the_calendar_are_422(env: Env) -> None:
    """A time whose UTC form is before year 1 or after 9999 is a 422 on every route that takes times."""
    p = _people(env)
    hc, ha = env.h(p["compliance"]), env.h(p["auditor"])
    for t in (LATE, EARLY, "not a time", "2026-13-45T00:00:00Z"):
        for key in ("since", "until"):
            _error(env.client.get("/api/v1/admin/audit", headers=ha, params={key: t}), 422, "validation_failed")
            _error(env.client.get("/api/v1/compliance/archive/search", headers=hc, params={"reason": "r", key: t}),
                   422, "validation_failed")
            _error(env.client.post("/api/v1/compliance/holds", headers=hc, json={"reason": "r", key: t}),
                   422, "validation_failed")
            _error(env.client.post("/api/v1/compliance/exports", headers=hc,
                                   json={"reason": "r", "formats": ["jsonl"], key: t}), 422, "validation_failed")
    # Times near (but inside) the edge, and an offset, are still accepted.
    r = env.client.get("/api/v1/admin/audit", headers=ha,
                       params={"since": "0001-01-03T00:00:00+14:00", "until": "9999-12-29T00:00:00-14:00"})
    assert r.status_code == 200, r.text
    r = env.client.get("/api/v1/compliance/archive/search", headers=hc,
                       params={"category": "internal_investigation", "reason": "内部调查：核对授信审批往来记录",
                               "since": "2026-01-01T08:00:00+08:00"})
    assert r.status_code == 200, r.text


def test_lone_surrogates_and_nul_are_422(env: Env) -> None:
    """Text no database can store (a lone UTF-16 surrogate, a NUL) is a 422 in any JSON field or query."""
    p = _people(env)
    h = {**env.h(p["ta"]), "Content-Type": "application/json"}
    conv = p["conv"]
    sent = send(env, p["ta"], conv, "原文")
    assert sent.status_code == 201
    mid = sent.json()["id"]
    bodies = [
        (h, "POST", f"/api/v1/conversations/{conv}/messages", '{"text":"a\\ud800b"}'),
        (h, "POST", f"/api/v1/conversations/{conv}/messages", '{"text":"a\\udc00"}'),
        (h, "POST", f"/api/v1/conversations/{conv}/messages", '{"text":"a\\ud83db"}'),
        (h, "POST", f"/api/v1/conversations/{conv}/messages", '{"text":"a\\u0000b"}'),
        (h, "POST", f"/api/v1/conversations/{conv}/messages", '{"text":"ok","client_id":"c\\ud800"}'),
        (h, "PATCH", f"/api/v1/messages/{mid}", '{"text":"a\\ud800b"}'),
        (h, "POST", "/api/v1/conversations", '{"kind":"group","name":"\\udfff","members":[]}'),
        ({**env.h(p["secadmin"]), "Content-Type": "application/json"}, "POST", "/api/v1/dlp/lexicons",
         '{"category":"prohibited","terms":["\\ud800"]}'),
        ({**env.h(p["secadmin"]), "Content-Type": "application/json"}, "POST", "/api/v1/dlp/scan",
         '{"text":"x\\ud800"}'),
        ({"Content-Type": "application/json"}, "POST", "/api/v1/auth/login",
         '{"username":"zhangsan\\u0000","password":"x"}'),
    ]
    for headers, method, url, raw in bodies:
        _error(env.client.request(method, url, headers=headers, content=raw.encode()), 422, "validation_failed")
    # The same character sent as raw (invalid) UTF-8 bytes.
    raw = b'{"text":"a\xed\xa0\x80b"}'
    r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=h, content=raw)
    assert r.status_code in (400, 422), r.text
    _error(env.client.get("/api/v1/directory/users?q=a%00b", headers=env.h(p["ta"])), 422, "validation_failed")
    _error(env.client.get("/api/v1/search/messages?q=%00", headers=env.h(p["ta"])), 422, "validation_failed")
    # A well-formed pair (an emoji escaped as two halves) and an escaped backslash are ordinary text.
    for text_json, expect in (('"\\ud83d\\ude00"', "\U0001f600"), ('"\\\\ud800"', "\\ud800")):
        r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=h,
                            content=('{"text":' + text_json + "}").encode())
        assert r.status_code == 201, r.text
        assert r.json()["text"] == expect


def test_wrong_method_on_a_route_is_405_with_allow(env: Env) -> None:
    """A PUT or DELETE on a collection is 405 naming the methods it takes, not 404."""
    _a, t = env.person("zhangsan", "张三")
    for method, url, allow in (("PUT", "/api/v1/conversations", {"GET", "POST"}),
                               ("DELETE", "/api/v1/conversations", {"GET", "POST"}),
                               ("PUT", "/api/v1/conversations/1/messages", {"GET", "POST"}),
                               ("DELETE", "/api/v1/admin/users", {"GET", "POST"}),
                               ("POST", "/api/v1/me", {"GET", "PATCH"}),
                               ("POST", "/", {"GET"})):
        r = env.client.request(method, url, headers=env.h(t))
        _error(r, 405, "method_not_allowed")
        assert set(r.headers["allow"].replace(" ", "").split(",")) - {"HEAD"} == allow, (url, r.headers)
    _error(env.client.put("/api/v1/no-such-thing", headers=env.h(t)), 404, "not_found")
    _error(env.client.get("/api/v1/no-such-thing", headers=env.h(t)), 404, "not_found")


def test_later_member_cannot_reply_to_or_report_earlier_messages(env: Env) -> None:
    """Someone added to a group cannot reply to or report a message from before they joined: it is
    answered as if it did not exist; later messages work as usual."""
    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    c, tc = env.person("wangwu", "王五")
    g = group(env, ta, "项目组", [b])
    early = send(env, ta, g, "加入前的消息").json()["id"]
    r = env.client.post(f"/api/v1/conversations/{g}/members", headers=env.h(ta), json={"user_ids": [c]})
    assert r.status_code == 200, r.text
    late = send(env, ta, g, "加入后的消息").json()["id"]
    missing = send(env, tc, g, "回复", reply_to=2**50)
    hidden = send(env, tc, g, "回复", reply_to=early)
    _error(hidden, 422, "validation_failed")
    assert hidden.json() == missing.json()
    _error(env.client.post("/api/v1/reports", headers=env.h(tc), json={"message_id": early, "reason": "x"}),
           404, "not_found")
    ok = send(env, tc, g, "回复", reply_to=late)
    assert ok.status_code == 201 and ok.json()["reply_to"] == late
    assert env.client.post("/api/v1/reports", headers=env.h(tc),
                           json={"message_id": late, "reason": "x"}).status_code == 201
    assert send(env, ta, g, "回复", reply_to=early).status_code == 201  # members from the start still can
    assert a


def _multipart(parts: list[tuple[str, bytes | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body written byte by byte (HTTP clients escape a NUL in a file name): (name,
    filename or None, content) per part."""
    boundary = "mixunboundary7"
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'.encode()
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        out += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        if filename is not None:
            out += b"Content-Type: text/plain\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def test_nul_in_multipart_fields_and_file_names_is_422(env: Env) -> None:
    """Form fields and file names of uploads get the same rule as JSON text: a NUL is a 422 naming the
    field on both databases (SQLite used to store it, PostgreSQL to refuse it in the database), and
    nothing is sent."""
    p = _people(env)
    h = env.h(p["ta"])
    conv = p["conv"]
    doc = ("file", b"a.txt", b"hello world")
    pack_pw = ("password", None, b"Str0ng!Pack#9")
    cases = [
        ("files", [doc, ("client_id", None, b"c\x00id")], "client_id"),
        ("files", [("file", b"a\x00b.txt", b"hello")], "filename"),
        ("images", [("file", b"x.png", b"\x89PNG"), ("client_id", None, b"\x00")], "client_id"),
        ("secure-pack", [("files", b"a.txt", b"hello"), pack_pw, ("name", None, "包\x00".encode())], "name"),
        ("secure-pack", [("files", b"b\x00.txt", b"x"), pack_pw], "files.0.filename"),
    ]
    for route, parts, field in cases:
        body, ctype = _multipart(parts)
        r = env.client.post(f"/api/v1/conversations/{conv}/{route}", headers={**h, "content-type": ctype},
                            content=body)
        _error(r, 422, "validation_failed")
        assert r.json()["error"]["field"] == field, r.text
    history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=h).json()["messages"]
    assert history == []
    body, ctype = _multipart([doc, ("client_id", None, b"c1")])
    ok = env.client.post(f"/api/v1/conversations/{conv}/files", headers={**h, "content-type": ctype}, content=body)
    assert ok.status_code == 201, ok.text
    assert ok.json()["attachments"][0]["filename"] == "a.txt"
