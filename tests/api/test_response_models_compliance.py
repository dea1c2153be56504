"""The compliance console's response models tell the truth: for a realistic case (a group with plain,
masked, edited and image messages, a group space's folder renamed and deleted, reports, a legal hold,
retention, exports and every heavy access both done and filed for a second officer under dual control,
then approved, rejected and run), every JSON answer of routes/compliance.py conforms to the OpenAPI
document with extra keys refused (the checker of test_response_models.py), on SQLite and PostgreSQL,
with the optional and nullable parts reached. A JSON route of routes/compliance.py without a named model,
or not called here, fails the test."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import orjson
from fastapi.routing import APIRoute
from PIL import Image
from pydantic import TypeAdapter

from mixun.api import models_consoles_a as m
from tests.api.test_response_models import violations
from tests.conftest import Env
from tests.helpers import group, send, staff

C = "/api/v1/compliance"
WHY = {"category": "internal_investigation", "reason": "内部调查：核对授信审批往来记录"}
ID_NUMBER = "11010519491231002X"
Answers = dict[str, tuple[str, str, str, Any]]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


def upload_to_space(env: Env, token: str, conv: int, name: str, data: bytes) -> None:
    """One file into a group's space (a single chunk)."""
    c = env.client
    up = c.post("/api/v1/drive/uploads", headers=env.h(token), json={"name": name, "size": len(data),
                                                                     "conversation_id": conv})
    assert up.status_code == 201, up.text
    uid = up.json()["id"]
    r = c.put(f"/api/v1/drive/uploads/{uid}/chunks/0", content=data, headers={
        **env.h(token), "Content-Type": "application/octet-stream", "X-Chunk-SHA256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 200, r.text
    r = c.post(f"/api/v1/drive/uploads/{uid}/complete", headers=env.h(token), json={})
    assert r.status_code == 201, r.text


def json_routes(doc: dict[str, Any], routers: list[Any]) -> set[tuple[str, str]]:
    """(method, path) of every route of ``routers`` whose success answer is JSON in the document."""
    out = set()
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            for method in route.methods:
                op = doc["paths"][route.path][method.lower()]
                ok = op["responses"][str(route.status_code or 200)]
                if "application/json" in ok.get("content", {}):
                    out.add((method.lower(), route.path))
    return out


def named(schema: dict[str, Any]) -> bool:
    """A model named in the document: a reference, or a union of references (done | filed)."""
    return "$ref" in schema or bool(schema.get("anyOf")) and all("$ref" in s for s in schema["anyOf"])


def check(env: Env, out: Answers, routers: list[Any]) -> None:
    """Every answer is its route's documented model exactly, every route of ``routers`` answering JSON
    names a model and is called."""
    doc = env.client.get("/api/v1/openapi.json").json()
    problems = []
    for name, (method, route, status, value) in out.items():
        responses = doc["paths"][route][method]["responses"]
        schema = responses[status]["content"]["application/json"]["schema"]
        assert named(schema), (method, route, schema)
        problems += [f"{name}: {p}" for p in violations(doc, schema, value)]
    assert not problems, "\n".join(problems)
    routes = json_routes(doc, routers)
    for method, route in routes:
        ok = next(s for s in doc["paths"][route][method]["responses"] if s.startswith("2"))
        assert named(doc["paths"][route][method]["responses"][ok]["content"]["application/json"]["schema"]), route
    assert routes == {(m_, r) for m_, r, _s, _v in out.values()}, routes ^ {(m_, r) for m_, r, _s, _v in out.values()}


def caller(env: Env, out: Answers) -> Any:
    def call(name: str, method: str, route: str, token: str, status: int = 200, url: str | None = None,
             **kw: Any) -> Any:
        r = env.client.request(method.upper(), url or route, headers=env.h(token) if token else {}, **kw)
        assert r.status_code == status, (name, r.text)
        out[name] = (method, route, str(status), r.json())
        return r.json()
    return call


def scenario(env: Env) -> Answers:
    out: Answers = {}
    call = caller(env, out)
    c = env.client
    a, ta = env.person("zhangsan", "张三", unit="总行/公司金融部")
    b, tb = env.person("lisi", "李四", unit="北京分行/营业部")
    _c1, t1 = staff(env, "hegui", "何规", "compliance")
    _c2, t2 = staff(env, "hegui2", "合规二", "compliance")
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _aud, taud = staff(env, "aud1", "审计员", "auditor")
    conv = group(env, ta, "授信审批群", [b])
    first = send(env, ta, conv, "授信额度已批，请联系张伟确认").json()
    masked = send(env, ta, conv, f"身份证 {ID_NUMBER}").json()
    assert c.patch(f"/api/v1/messages/{first['id']}", headers=env.h(ta), json={"text": "授信额度已批，请联系王经理"}).status_code == 200
    assert c.post(f"/api/v1/conversations/{conv}/images", headers=env.h(tb),
                  files={"file": ("a.png", png(), "image/png")}).status_code == 201
    send(env, tb, conv, "今天午饭吃什么")
    # A group space's folder, renamed, then deleted (its history, deleted_at and deleted_by).
    folder = c.post("/api/v1/drive/folders", headers=env.h(ta), json={"name": "授信材料", "conversation_id": conv}).json()
    assert c.patch(f"/api/v1/drive/items/{folder['id']}", headers=env.h(ta), json={"name": "授信材料二"}).status_code == 200
    c.post("/api/v1/drive/folders", headers=env.h(tb), json={"name": "会议纪要", "conversation_id": conv})
    assert c.delete(f"/api/v1/drive/items/{folder['id']}", headers=env.h(ta)).status_code == 200
    upload_to_space(env, tb, conv, "纪要.txt", b"meeting notes\n")

    # The employee: a report, the own search.
    call("report", "post", "/api/v1/reports", tb, 201, json={"message_id": first["id"], "reason": "泄露客户信息"})
    call("report.bare", "post", "/api/v1/reports", tb, 201, json={"message_id": masked["id"]})
    call("search.own", "get", "/api/v1/search/messages", ta, params={"q": "授信"})

    # The archive: search (with words: snippets; without), a conversation (a page, the originals), an original.
    call("search", "get", f"{C}/archive/search", t1, params={**WHY, "q": "授信"})
    hits = call("search.all", "get", f"{C}/archive/search", t1, params={**WHY, "limit": 2})
    call("search.dlp", "get", f"{C}/archive/search", t1, params={**WHY, "dlp": True, "sender_q": "张三"})
    view = f"{C}/archive/conversations/{{conversation_id}}"
    call("view", "get", view, t1, url=f"{C}/archive/conversations/{conv}", params={**WHY, "originals": True})
    call("view.page", "get", view, t1, url=f"{C}/archive/conversations/{conv}", params={**WHY, "limit": 2})
    version = next(v["version_id"] for v in out["view"][3]["versions"] if v["has_original"])
    original = f"{C}/archive/versions/{{version_id}}/original"
    call("original", "post", original, t1, url=f"{C}/archive/versions/{version}/original", json=WHY)
    call("group-files", "get", f"{C}/archive/group-files", t1, params=WHY)
    call("group-files.page", "get", f"{C}/archive/group-files", t1, params={**WHY, "limit": 1})

    # Exports: one done at once, listed.
    call("export", "post", f"{C}/exports", t1, 201, json={**WHY, "formats": ["jsonl"]})
    call("export.other", "post", f"{C}/exports", t2, 201, json={**WHY, "user": "zhangsan", "formats": ["jsonl", "csv"],
                                                                "since": "2020-01-01T00:00:00+08:00"})
    call("exports", "get", f"{C}/exports", t1)
    call("exports.page", "get", f"{C}/exports", t1, params={"limit": 1})

    # Review: a compliance officer sees the content, secadmin does not; a violation, a rejection.
    queue = call("review", "get", f"{C}/review", t1)
    call("review.hidden", "get", f"{C}/review", tsec)
    decision = f"{C}/review/{{item_id}}/decision"
    items = [i["id"] for i in queue["items"]]
    call("decide.violation", "post", decision, t1, url=f"{C}/review/{items[0]}/decision",
         json={"decision": "violation", "note": "确认泄露"})
    call("decide.reject", "post", decision, t1, url=f"{C}/review/{items[1]}/decision", json={"decision": "reject"})
    call("review.all", "get", f"{C}/review", t1, params={"status": "", "limit": 1})
    call("violations", "get", f"{C}/violations/{{user_id}}", t1, url=f"{C}/violations/{a}")

    # Legal holds and retention.
    call("hold.person", "post", f"{C}/holds", t1, 201, json={"reason": "诉讼保全", "user_id": a})
    hold = call("hold.conversation", "post", f"{C}/holds", t1, 201,
                json={"reason": "监管检查", "conversation_id": conv, "since": "2026-01-01T00:00:00+08:00",
                      "until": "2027-01-01T00:00:00+08:00"})
    call("hold.range", "post", f"{C}/holds", t1, 201, json={"reason": "专项审计", "since": "2026-06-01T00:00:00+08:00"})
    call("policy.longer", "put", f"{C}/retention/policies", t1, json={"scope": "kind:group", "messages_days": 4000,
                                                                       "files_days": 4000})
    shorter = call("policy.shorter", "put", f"{C}/retention/policies", t1, 202,
                   json={"scope": "kind:group", "messages_days": 3000, "files_days": 3000})
    release = call("hold.release", "post", f"{C}/holds/{{hold_id}}/release", t1, 202,
                   url=f"{C}/holds/{hold['id']}/release", json={"reason": "检查结束"})
    call("policies", "get", f"{C}/retention/policies", t1)
    call("run.dry", "post", f"{C}/retention/runs", t1, 201)
    call("run", "post", f"{C}/retention/runs", t1, 201, params={"dry_run": False})
    call("runs", "get", f"{C}/retention/runs", t1)

    # Dual control on: the heavy accesses are filed, approved or rejected by another officer, then run.
    call("dual.get", "get", "/api/v1/security/dual-control", tsec)
    call("dual.set", "put", "/api/v1/security/dual-control", tsec, json={"export_person": True, "originals": True})
    filed_export = call("export.filed", "post", f"{C}/exports", t1, 202,
                        json={**WHY, "user": "lisi", "formats": ["jsonl"]})
    filed_original = call("original.filed", "post", original, t1, 202,
                          url=f"{C}/archive/versions/{version}/original", json=WHY)
    rejected = call("export.filed.again", "post", f"{C}/exports", t1, 202,
                    json={**WHY, "conversation_id": conv, "formats": ["jsonl"]})
    approve = f"{C}/access-requests/{{request_id}}/approve"
    for rid in (filed_export["request"]["id"], filed_original["request"]["id"], shorter["request"]["id"],
                release["request"]["id"]):
        call(f"approve.{rid}", "post", approve, t2, url=f"{C}/access-requests/{rid}/approve", json={"note": "同意"})
    call("reject", "post", f"{C}/access-requests/{{request_id}}/reject", t2,
         url=f"{C}/access-requests/{rejected['request']['id']}/reject", json={})
    run = f"{C}/access-requests/{{request_id}}/run"
    for kind, req in (("export", filed_export), ("original", filed_original), ("policy", shorter), ("hold", release)):
        rid = req["request"]["id"]
        call(f"run.{kind}", "post", run, t1, url=f"{C}/access-requests/{rid}/run")
    call("requests", "get", f"{C}/access-requests", t1)
    call("requests.page", "get", f"{C}/access-requests", t2, params={"status": "used", "limit": 1})
    call("holds", "get", f"{C}/holds", t1)
    call("holds.active", "get", f"{C}/holds", t1, params={"active": True})

    call("audit.verify", "get", "/api/v1/audit/verify", taud)
    assert hits["next_cursor"] is not None
    return out


def test_every_compliance_answer_is_exactly_its_model(env: Env) -> None:
    from mixun.api.routes import compliance

    out = scenario(env)
    check(env, out, [compliance.router])
    v = {k: val for k, (_m, _r, _s, val) in out.items()}
    # The optional and nullable parts are reached.
    results = v["search"]["results"]
    assert results and all("snippet" in r for r in results) and not any("snippet" in r for r in v["search.all"]["results"])
    versions = v["view"]["versions"]
    assert any("original_text" in x for x in versions) and any(x.get("attachments") for x in versions)
    assert {x["kind"] for x in versions} >= {"created", "edited"} and v["view"]["membership_log"]
    assert v["view"]["next_after_version"] is None and v["view.page"]["next_after_version"] is not None
    files = v["group-files"]["results"]
    assert any(f["deleted_at"] and f["deleted_by"] for f in files) and any(f["deleted_at"] is None for f in files)
    assert any({"old", "new"} <= set(e) for f in files for e in f["history"])
    assert {f["size"] is None for f in files} == {True, False} and {f["sha256"] is None for f in files} == {True, False}
    assert v["group-files.page"]["next_cursor"] is not None and v["group-files"]["next_cursor"] is None
    assert v["exports"]["exports"][0]["downloadable"] is False and v["exports"]["exports"][1]["downloadable"] is True
    assert v["exports.page"]["next_offset"] == 1 and v["exports"]["next_offset"] is None
    assert v["review"]["items"][0]["text"] and v["review.hidden"]["items"][0]["content_hidden"]
    assert v["review"]["oldest_open_age_seconds"] is not None and v["review.all"]["next_offset"] == 1
    assert "level" in v["decide.violation"] and "level" not in v["decide.reject"]
    assert v["run.dry"].get("data_keys_destroyed") is None and "data_keys_destroyed" in v["run"]
    assert {r["status"] for r in v["requests"]["requests"]} == {"used", "rejected"}
    assert all(r["decided_by"] for r in v["requests"]["requests"]) and v["export.filed"]["request"]["decided_by"] is None
    assert v["run.export"]["request_id"] and v["export"]["request_id"] is None
    holds = v["holds"]["holds"]
    assert any("user_name" in h for h in holds) and any("conversation_title" in h for h in holds)
    assert any(h["released_at"] for h in holds) and len(v["holds.active"]["holds"]) == len(holds) - 1
    assert v["run.hold"]["status"] == "done" and v["run.policy"]["messages_days"] == 3000
    assert v["audit.verify"]["ok"] is True


def test_a_union_answer_keeps_its_builders_order_and_types() -> None:
    """A "done or filed" answer is written as its builder made it: the union picks the variant by its
    required keys, so no key moves and no number changes type (a hold released is ``status`` first)."""
    hold = {"status": "done", "id": 1, "user_id": None, "conversation_id": 2, "since": None, "until": None,
            "reason": "检查结束", "placed_by": 3, "placed_at": "2026-12-07T00:00:00+00:00",
            "released_at": "2026-12-07T01:00:00+00:00", "released_by": 4, "release_reason": "检查结束"}
    export = {"status": "done", "id": 5, "name": "20261207T000000-u1", "counts": {"versions": 3}, "files": 2,
              "request_id": 6}
    policy = {"status": "done", "scope": "kind:group", "messages_days": 30, "files_days": 30}
    original = {"version_id": 1, "message_id": 2, "original_text": f"身份证 {ID_NUMBER}"}
    run = TypeAdapter(m.ExportDone | m.ArchiveOriginal | m.RetentionPolicySet | m.LegalHoldReleased)
    for value in (hold, export, policy, original):
        assert run.dump_json(run.validate_python(value)) == orjson.dumps(value)
