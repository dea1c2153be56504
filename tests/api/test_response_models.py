"""The response models tell the truth: for a realistic conversation (a group and a direct one; plain,
urgent, masked, edited, recalled and image messages; a reply, a reaction, a read, a draft), what each
core endpoint answers, and every WebSocket frame its people received, conforms to the OpenAPI document
with extra keys refused. A key added to a view without its model (api/models.py) fails here."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
import typing_extensions
from PIL import Image

from mixun.api import models
from mixun.services import events
from tests.conftest import PASSWORD, Env
from tests.helpers import direct, group, send

ID_NUMBER = "11010519491231002X"
# What each answer is, by the name the scenario files it under (its prefix before the first dot).
SCHEMAS = {"login": "Login", "me": "Me", "conversations": "ConversationList", "conversation": "Conversation",
           "history": "MessagePage", "message": "Message", "search": "SearchResults", "drafts": "Drafts",
           "error": "Error", "frames": "Frame"}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def scenario(env: Env) -> dict[str, Any]:
    """(what was asked -> the JSON answered), and under "frames" every event frame its people got."""
    a_id, a = env.person("zhangsan", "张三", phone="13800000001")
    b_id, b = env.person("lisi", "李四")
    c_id, c_token = env.person("wangwu", "王五")
    out: dict[str, Any] = {}
    c = env.client
    out["login"] = c.post("/api/v1/auth/login", json={"username": "lisi", "password": PASSWORD}).json()
    dm = direct(env, a, b_id)
    g = group(env, a, "项目组", [b_id, c_id])
    out["conversation.create"] = c.post("/api/v1/conversations", headers=env.h(a),
                                        json={"kind": "group", "name": "临时组", "members": [b_id]}).json()
    first = send(env, a, g, "大家好 @李四", client_id="c-1").json()
    out["message.send"] = first
    out["message.send.urgent"] = send(env, a, dm, "紧急：请回电", urgent=True, client_id="c-2").json()
    out["message.send.masked"] = send(env, a, g, f"身份证 {ID_NUMBER}").json()
    reply = send(env, b, g, "收到", reply_to=first["id"]).json()
    out["message.edit"] = c.patch(f"/api/v1/messages/{reply['id']}", headers=env.h(b), json={"text": "收到，谢谢"}).json()
    gone = send(env, a, g, "发错了").json()
    out["message.recall"] = c.post(f"/api/v1/messages/{gone['id']}/recall", headers=env.h(a)).json()
    out["message.image"] = c.post(f"/api/v1/conversations/{g}/images", headers=env.h(b),
                                  files={"file": ("a.png", png(), "image/png")}).json()
    assert c.post(f"/api/v1/messages/{first['id']}/reactions", headers=env.h(b), json={"emoji": "👍"}).status_code == 200
    assert c.post(f"/api/v1/conversations/{g}/read", headers=env.h(c_token), json={"seq": 3}).status_code == 204
    assert c.put(f"/api/v1/drafts/{dm}", headers=env.h(a), json={"text": "明天上午的会，"}).status_code == 204
    assert c.put(f"/api/v1/conversations/{g}/prefs", headers=env.h(b), json={"pinned": True}).status_code == 200
    assert c.put(f"/api/v1/conversations/{g}/notice", headers=env.h(a), json={"text": "周五前交材料"}).status_code == 200
    for who, token in (("a", a), ("b", b)):
        out[f"me.{who}"] = c.get("/api/v1/me", headers=env.h(token)).json()
        out[f"conversations.{who}"] = c.get("/api/v1/conversations", headers=env.h(token)).json()
        out[f"conversation.{who}"] = c.get(f"/api/v1/conversations/{g}", headers=env.h(token)).json()
        out[f"history.group.{who}"] = c.get(f"/api/v1/conversations/{g}/messages", headers=env.h(token)).json()
        out[f"history.direct.{who}"] = c.get(f"/api/v1/conversations/{dm}/messages", headers=env.h(token)).json()
        out[f"search.{who}"] = c.get("/api/v1/search/messages", headers=env.h(token), params={"q": "收到"}).json()
        out[f"drafts.{who}"] = c.get("/api/v1/drafts", headers=env.h(token)).json()
    out["me.patch"] = c.patch("/api/v1/me", headers=env.h(a), json={"status": "busy"}).json()
    out["error.not_found"] = c.get("/api/v1/conversations/999999", headers=env.h(a)).json()
    out["error.dlp"] = send(env, a, g, "机密★5年 关于授信额度的批复").json()
    out["error.validation"] = c.patch("/api/v1/me", headers=env.h(a), json={"status": "busy", "name": "x"}).json()
    out["conversation.rename"] = c.patch(f"/api/v1/conversations/{g}", headers=env.h(a), json={"name": "项目组二"}).json()
    out["conversation.members.add"] = c.post(f"/api/v1/conversations/{g}/members", headers=env.h(a),
                                             json={"user_ids": [env.make_user("zhaoliu", "赵六")]}).json()
    out["conversation.members.remove"] = c.delete(f"/api/v1/conversations/{g}/members/{c_id}", headers=env.h(a)).json()
    with env.rt.db.read() as s:
        out["frames"] = [{"event_seq": seq, **orjson.loads(body)}
                         for uid in (a_id, b_id, c_id) for seq, body in events.read_events(s, uid, 0)]
    return out


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


TYPES: dict[str, Any] = {"string": str, "boolean": bool, "null": type(None), "array": list, "object": dict}


def violations(doc: dict[str, Any], schema: dict[str, Any], value: Any, at: str = "$") -> list[str]:
    """Where ``value`` departs from ``schema``; an object key the schema does not name is one (unless
    the schema itself leaves the object open with ``additionalProperties``)."""
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            found = [violations(doc, sub, value, at) for sub in schema[key]]
            return [] if any(not f for f in found) else min(found, key=len)
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not one of {schema['enum']}"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    kind = schema.get("type")
    if kind == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{at}: {value!r} is not an integer"]
    if kind in TYPES and not isinstance(value, TYPES[kind]):
        return [f"{at}: {value!r} is not {kind}"]
    out: list[str] = []
    if kind == "array":
        for i, item in enumerate(value):
            out += violations(doc, schema.get("items", {}), item, f"{at}[{i}]")
    if kind == "object":
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", False)
        out += [f"{at}: {k!r} missing" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                out += violations(doc, props[k], v, f"{at}.{k}")
            elif isinstance(extra, dict):
                out += violations(doc, extra, v, f"{at}.{k}")
            elif extra is not True:
                out.append(f"{at}: {k!r} is not in the model")
    return out


@pytest.fixture
def answers(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    return env.client.get("/api/v1/openapi.json").json(), scenario(env)


def test_every_answer_and_frame_is_exactly_its_model(answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
    doc, out = answers
    problems = []
    for name, value in out.items():
        schema = {"$ref": f"#/components/schemas/{SCHEMAS[name.split('.')[0]]}"}
        for i, item in enumerate(value) if name == "frames" else [(0, value)]:
            problems += [f"{name}: {p}" for p in violations(doc, schema, item, f"$[{i}]" if name == "frames" else "$")]
    assert not problems, "\n".join(problems)
    # The scenario reaches what it is meant to: the optional parts of a message, and the frames of a chat.
    history = out["history.group.a"]["messages"]
    assert any("reactions" in m for m in history) and any(m["recalled"] for m in history)
    assert any(m["attachments"] for m in history) and any("dlp" in m for m in history)
    assert "urgent_recipients" in out["message.send.urgent"] and out["message.send.masked"]["dlp"]["findings"]
    types = {f["type"] for f in out["frames"]}
    assert {"message.created", "message.edited", "message.recalled", "message.reactions", "conversation.read",
            "conversation.created", "conversation.updated", "conversation.member_added",
            "conversation.member_removed", "conversation.prefs"} <= types


def test_response_routes_document_the_models(env: Env) -> None:
    """The routes of the core resources name their model in the document (not a bare object)."""
    doc = env.client.get("/api/v1/openapi.json").json()
    expect = {("post", "/api/v1/auth/login", "200"): "Login", ("get", "/api/v1/me", "200"): "Me",
              ("get", "/api/v1/conversations", "200"): "ConversationList",
              ("get", "/api/v1/conversations/{conversation_id}", "200"): "Conversation",
              ("post", "/api/v1/conversations/{conversation_id}/messages", "201"): "Message",
              ("get", "/api/v1/conversations/{conversation_id}/messages", "200"): "MessagePage",
              ("patch", "/api/v1/messages/{message_id}", "200"): "Message",
              ("post", "/api/v1/messages/{message_id}/recall", "200"): "Message",
              ("get", "/api/v1/search/messages", "200"): "SearchResults", ("get", "/api/v1/drafts", "200"): "Drafts"}
    for (method, path, status), name in expect.items():
        schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{name}"}, (method, path)
    assert set(doc["components"]["schemas"]["Frame"]["discriminator"]["mapping"]) >= {"hello", "message.created"}


def test_models_keep_what_they_do_not_name() -> None:
    """A response model never drops a key (FastAPI checks each answer against it): every model keeps
    extra keys, so a view ahead of its model still answers in full (and fails the test above)."""
    from pydantic import TypeAdapter

    declared = [m for m in vars(models).values() if typing_extensions.is_typeddict(m) and m.__module__ == models.__name__]
    assert len(declared) > 20
    for model in declared:
        assert model.__pydantic_config__.get("extra") == "allow", model.__name__
    message = {"id": 1, "conversation_id": 2, "seq": 3, "sender": {"id": 4, "name": "张三", "new": 1}, "kind": "text",
               "text": "好", "created_at": "2026-12-07T00:00:00+00:00", "edited": False, "edited_at": None,
               "recalled": False, "urgent": False, "reply_to": None, "mentions": [], "attachments": [],
               "read_count": 0, "recipient_count": 1, "later": {"x": [1]}}
    adapter = TypeAdapter(models.MessagePage)
    page = {"messages": [message]}
    assert adapter.dump_python(adapter.validate_python(page), mode="json") == page
