"""routes/dlp.py's response models tell the truth: secadmin's DLP console with the built-in policy, then
one of secadmin's own (every optional part of a rule and a threshold), lexicon terms added, listed and
removed, texts tried (masked, blocked by a lexicon term, bulk ID numbers firing a threshold) and the hits
of masked and blocked sends. Every JSON answer conforms to the OpenAPI document with extra keys refused,
on SQLite and PostgreSQL, the nullable and optional parts reached; every JSON route of the router is
called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mixun.api.routes import dlp
from mixun.db.models_dlp import DlpSanction
from tests.api.response_checks import Answers, check
from tests.conftest import Env
from tests.helpers import group, send, staff

ID_NUMBER = "11010519491231002X"


def scenario(env: Env) -> Answers:
    a = Answers(env)
    _sec, sec = staff(env, "sec1", "安全员", "secadmin")
    zs, zs_t = env.person("zhangsan", "张三")
    ls, ls_t = env.person("lisi", "李四")
    conv = group(env, zs_t, "项目组", [ls])

    builtin = a.call("policy.default", "get", "/api/v1/dlp/policy", sec)
    policy = builtin["policy"]
    policy["rules"].insert(0, {"action": "block", "detectors": ["cn_mobile"], "channels": ["group"], "roles": ["employee"],
                               "unit_prefix": "总行/信息科技部", "min_confidence": 0.8})
    policy["thresholds"].append({"detectors": ["email"], "count": 20, "action": "warn", "channels": ["direct"]})
    a.call("policy.set", "put", "/api/v1/dlp/policy", sec, json={"policy": policy, "note": "信息科技部群内禁发手机号"})
    a.call("policy", "get", "/api/v1/dlp/policy", sec)

    a.call("terms.none", "get", "/api/v1/dlp/lexicons", sec)
    a.call("terms.add", "post", "/api/v1/dlp/lexicons", sec, json={"category": "gambling", "terms": ["百家乐代理", "网上赌场"]})
    a.call("terms.add.again", "post", "/api/v1/dlp/lexicons", sec, json={"category": "gambling", "terms": ["百家乐代理"]})
    a.call("terms", "get", "/api/v1/dlp/lexicons", sec)
    a.call("terms.page", "get", "/api/v1/dlp/lexicons", sec, params={"category": "gambling", "limit": 1})
    a.call("terms.remove", "post", "/api/v1/dlp/lexicons/remove", sec, json={"category": "gambling", "terms": ["网上赌场"]})
    env.rt.dlp_service.invalidate()

    a.call("scan.mask", "post", "/api/v1/dlp/scan", sec, json={"text": f"身份证 {ID_NUMBER}", "channel": "group"})
    a.call("scan.term", "post", "/api/v1/dlp/scan", sec, json={"text": "诚招百家乐代理，日结", "channel": "direct"})
    a.call("scan.bulk", "post", "/api/v1/dlp/scan", sec,
           json={"text": "客户名单：" + "；".join([ID_NUMBER] * 5), "channel": "file", "roles": ["employee"],
                 "unit_path": "总行/零售业务部"})
    a.call("scan.clean", "post", "/api/v1/dlp/scan", sec, json={"text": "明天上午开会"})

    assert send(env, zs_t, conv, f"身份证 {ID_NUMBER}").status_code == 201  # masked
    assert send(env, ls_t, conv, "机密★5年 关于授信额度的批复").status_code == 422  # blocked
    with env.rt.db.write() as s:
        s.merge(DlpSanction(user_id=ls, level="suspension", violations=3, suspended_until=datetime.now(UTC) + timedelta(days=1)))
    a.call("hits", "get", "/api/v1/dlp/hits", sec)
    a.call("hits.person", "get", "/api/v1/dlp/hits", sec, params={"user_id": zs, "limit": 1})
    assert env.client.post(f"/api/v1/dlp/sanctions/{ls}/lift", headers=env.h(sec)).status_code == 204
    return a


@pytest.fixture
def answers(env: Env) -> tuple[dict[str, Any], Answers]:
    return env.client.get("/api/v1/openapi.json").json(), scenario(env)


def test_every_dlp_answer_is_exactly_its_model(answers: tuple[dict[str, Any], Answers]) -> None:
    doc, a = answers
    check(doc, a, dlp.router)
    out = {name: value for name, (_m, _r, _s, value) in a.out.items()}
    assert out["policy.default"]["id"] is None and out["policy.default"]["default"] is True
    assert out["policy"]["id"] and out["policy.set"]["default"] is False
    rules = out["policy"]["policy"]["rules"]
    assert {"detectors", "channels", "roles", "unit_prefix", "min_confidence"} <= set(rules[0]) and rules[-1].keys() != rules[0].keys()
    thresholds = out["policy"]["policy"]["thresholds"]
    assert any("channels" in t for t in thresholds) and any("reason" in t for t in thresholds)
    assert any("channels" not in t for t in thresholds) and any("reason" not in t for t in thresholds)
    assert type(rules[0]["min_confidence"]) is float
    assert out["terms.none"]["terms"] == [] and out["terms.page"]["next_offset"] == 1 and out["terms"]["next_offset"] is None
    assert out["terms.add"] == {"added": 2} and out["terms.add.again"] == {"added": 0} and out["terms.remove"] == {"removed": 1}
    findings = [f for k in ("scan.mask", "scan.term", "scan.bulk") for f in out[k]["findings"]]
    assert {f["category"] is None for f in findings} == {True, False}
    assert out["scan.bulk"]["thresholds"] and out["scan.clean"]["findings"] == []
    assert len(out["hits.person"]["hits"]) == 1 and {h["user_id"] for h in out["hits"]["hits"]} == {
        p["user_id"] for p in out["hits"]["by_person"]}
    assert {p["suspended_until"] is None for p in out["hits"]["by_person"]} == {True, False}
