"""routes/people.py's response models tell the truth: for realistic rules (none published, then two
versions, accepted by some), announcements (bank-wide and to a unit, with a file, pinned, to confirm,
read, confirmed, reminded, withdrawn), function rules (a unit's and a person's, with a limit) and account
reviews, every JSON answer conforms to the OpenAPI document with extra keys refused, on SQLite and
PostgreSQL, with the nullable and optional parts reached; and every JSON route of the router is called
(a new route without a model, or not called here, fails)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from mixun.api.routes import people
from mixun.db.models import User
from tests.api.response_checks import Answers, check
from tests.conftest import Env, build_env
from tests.helpers import staff

UNIT_A = "总行/信息科技部"
UNIT_B = "总行/零售业务部"


@pytest.fixture(params=["sqlite", "postgresql"])
def penv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket)
    yield e
    close()


def scenario(env: Env) -> Answers:
    a = Answers(env)
    _sec, sec = staff(env, "sec1", "安全员", "secadmin")
    _co, co = staff(env, "co1", "合规员", "compliance")
    _hr, hr = staff(env, "hr1", "人力", "hr")
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A)
    _ls, ls_t = env.person("lisi", "李四", unit=UNIT_B)
    _head, head_t = env.person("zhuren", "主任", unit=UNIT_A, roles=["unit_head"])
    old = env.make_user("olduser", "老用户", unit=UNIT_B)

    # The rules: nothing published yet, then two versions; some accept the current one.
    a.call("current.none", "get", "/api/v1/rules/current", zs_t)
    a.call("acceptance.none", "get", "/api/v1/admin/rules/acceptance", co)
    a.call("publish.1", "post", "/api/v1/admin/rules", sec, 201, json={"title": "使用与保密规定", "body": "一、不得传播涉密信息。"})
    a.call("accept.v1", "post", "/api/v1/rules/accept", sec, json={"version": 1})
    a.call("publish.2", "post", "/api/v1/admin/rules", sec, 201,
           json={"title": "使用与保密规定（2027）", "body": "一、不得传播涉密信息。\n二、离职须交回资料。"})
    a.call("current.pending", "get", "/api/v1/rules/current", zs_t)
    for name, token in (("zs", zs_t), ("sec", sec), ("co", co), ("hr", hr), ("ls", ls_t), ("head", head_t)):
        a.call(f"accept.{name}", "post", "/api/v1/rules/accept", token, json={"version": 2})
    a.call("current.accepted", "get", "/api/v1/rules/current", zs_t)
    a.call("versions", "get", "/api/v1/admin/rules", sec)
    a.call("acceptance.pending", "get", "/api/v1/admin/rules/acceptance", co)
    a.call("acceptance.all", "get", "/api/v1/admin/rules/acceptance", co, params={"status": "all"})
    a.call("acceptance.page", "get", "/api/v1/admin/rules/acceptance", co, params={"status": "all", "limit": 2})

    # Announcements: the publisher's scope, a file, one to the bank (pinned, to confirm, expiring), one
    # to a unit by its head; read, confirmed, reminded, one withdrawn.
    a.call("scope.bank", "get", "/api/v1/announcements/scope", hr)
    scope = a.call("scope.unit", "get", "/api/v1/announcements/scope", head_t)
    f = a.call("file", "post", "/api/v1/announcements/files", hr, 201,
               files={"file": ("升级说明.txt", "升级步骤如下。".encode(), "text/plain")})
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    bank = a.call("publish.bank", "post", "/api/v1/announcements", hr, 201, json={
        "title": "系统升级通知", "body": "周六 22:00 升级，见附件。", "must_confirm": True, "pinned": True,
        "expires_at": expires, "file_ids": [f["id"]]})
    unit = a.call("publish.unit", "post", "/api/v1/announcements", head_t, 201, json={
        "title": "部门例会", "body": "周一 9 点。", "unit_ids": [u["id"] for u in scope["units"] if u["path"] == UNIT_A]})
    a.call("mine.unread", "get", "/api/v1/announcements", zs_t)
    a.call("read", "post", "/api/v1/announcements/{announcement_id}/read", zs_t, url=f"/api/v1/announcements/{unit['id']}/read",
           json={})
    a.call("read.confirm", "post", "/api/v1/announcements/{announcement_id}/read", zs_t,
           url=f"/api/v1/announcements/{bank['id']}/read", json={"confirm": True})
    a.call("mine", "get", "/api/v1/announcements", zs_t)
    a.call("mine.page", "get", "/api/v1/announcements", zs_t, params={"limit": 1})
    a.call("mine.other", "get", "/api/v1/announcements", ls_t)
    a.call("remind", "post", "/api/v1/announcements/{announcement_id}/remind", hr,
           url=f"/api/v1/announcements/{bank['id']}/remind")
    assert env.client.post(f"/api/v1/announcements/{unit['id']}/withdraw", headers=env.h(head_t)).status_code == 204
    a.call("published", "get", "/api/v1/announcements/published", hr)
    a.call("published.head", "get", "/api/v1/announcements/published", head_t, params={"limit": 1})
    a.call("receipts", "get", "/api/v1/announcements/{announcement_id}/receipts", hr,
           url=f"/api/v1/announcements/{bank['id']}/receipts", params={"status": "all", "limit": 3})

    # Function switches: a unit's rule and a person's (with a limit); each person's effective functions.
    with env.rt.db.read() as s:
        unit_a = s.get(User, zs).unit_id  # type: ignore[union-attr]
    a.call("rule.unit", "put", "/api/v1/admin/function-rules", sec,
           json={"scope": "unit", "target_id": unit_a, "function": "send_files", "allowed": False})
    a.call("rule.user", "put", "/api/v1/admin/function-rules", sec,
           json={"scope": "user", "target_id": zs, "function": "group_size", "limit": 20})
    a.call("functions", "get", "/api/v1/me/functions", zs_t)
    a.call("functions.default", "get", "/api/v1/me/functions", ls_t)
    a.call("rules", "get", "/api/v1/admin/function-rules", sec)
    a.call("rules.person", "get", "/api/v1/admin/function-rules", sec, params={"user_id": zs})

    # The account review: one flagged account (dormant, old password, not verified, rules not accepted).
    long_ago = datetime.now(UTC) - timedelta(days=200)
    with env.rt.db.write() as s:
        s.execute(update(User).where(User.id == old).values(last_login_at=long_ago, password_changed_at=long_ago,
                                                            hr_verified=False))
    review = a.call("review.run", "post", "/api/v1/admin/account-reviews", sec, 201)
    a.call("reviews", "get", "/api/v1/admin/account-reviews", sec)
    a.call("review", "get", "/api/v1/admin/account-reviews/{review_id}", sec,
           url=f"/api/v1/admin/account-reviews/{review['id']}")
    a.call("review.kind", "get", "/api/v1/admin/account-reviews/{review_id}", sec,
           url=f"/api/v1/admin/account-reviews/{review['id']}", params={"kind": "dormant"})
    return a


@pytest.fixture
def answers(penv: Env) -> tuple[dict[str, Any], Answers]:
    return penv.client.get("/api/v1/openapi.json").json(), scenario(penv)


def test_every_people_answer_is_exactly_its_model(answers: tuple[dict[str, Any], Answers]) -> None:
    doc, a = answers
    check(doc, a, people.router)
    out = {name: value for name, (_m, _r, _s, value) in a.out.items()}
    # The optional and nullable parts are reached.
    assert out["current.none"]["rules"] is None and "due_at" not in out["current.none"]
    assert out["current.pending"]["accepted_at"] is None and out["current.pending"]["due_at"] is None
    assert out["current.accepted"]["due_at"] and out["current.accepted"]["must_accept"] is False
    assert out["acceptance.none"]["version"] is None and "next_offset" not in out["acceptance.none"]
    assert out["acceptance.page"]["next_offset"] == 2
    assert {p["accepted_at"] is None for p in out["acceptance.all"]["people"]} == {True, False}
    mine = out["mine"]["announcements"]
    assert {x["expires_at"] is None for x in mine} == {True, False} and any(x["files"] for x in mine)
    assert {x["confirmed_at"] is None for x in mine} == {True, False}
    assert out["mine.page"]["next_offset"] == 1 and out["mine.unread"]["banner"]
    assert out["read"]["confirmed_at"] is None and out["read.confirm"]["confirmed_at"]
    published = out["published"]["announcements"]
    assert {x["withdrawn_at"] is None for x in published} == {True, False} and out["published.head"]["next_offset"] is None
    people_ = out["receipts"]["people"]
    assert {p["read_at"] is None for p in people_} == {True, False} and any(p["reminded_at"] for p in people_)
    assert out["receipts"]["next_offset"] == 3
    assert out["scope.bank"]["bank_wide"] and not out["scope.unit"]["bank_wide"]
    functions = out["functions"]["functions"]
    assert functions["group_size"]["limit"] == 20 and functions["send_files"]["rule"]["scope"] == "unit"
    assert functions["use_drive"]["rule"] is None and "effective" in out["rules.person"] and "effective" not in out["rules"]
    assert {r["limit"] is None for r in out["rules"]["rules"]} == {True, False}
    findings = out["review"]["findings"]
    assert {f["last_login_at"] is None for f in findings} == {True, False}
    assert {f["kind"] for f in out["review.kind"]["findings"]} == {"dormant"}
    assert out["reviews"]["next_offset"] is None and "findings" not in out["reviews"]["reviews"][0]
