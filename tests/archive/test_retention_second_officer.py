"""No single compliance officer destroys the archive: shortening retention and releasing a legal hold
need a second compliance officer's approval (dual control), then the asker carries it out once."""

from __future__ import annotations

from typing import Any

from tests.archive.conftest import officer
from tests.conftest import Env

PUT = "/api/v1/compliance/retention/policies"
REQ = "/api/v1/compliance/access-requests"


def _days(env: Env, tok: str, scope: str) -> int:
    policies = env.client.get(PUT, headers=env.h(tok)).json()["policies"]
    return int({p["scope"]: p for p in policies}[scope]["messages_days"])


def _approve_and_run(env: Env, asker: str, approver: str, request: dict[str, Any]) -> dict[str, Any]:
    own = env.client.post(f"{REQ}/{request['id']}/approve", headers=env.h(asker), json={})
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_request"
    early = env.client.post(f"{REQ}/{request['id']}/run", headers=env.h(asker), json={})
    assert early.status_code == 409
    assert env.client.post(f"{REQ}/{request['id']}/approve", headers=env.h(approver),
                           json={"note": "已核实"}).status_code == 200
    done = env.client.post(f"{REQ}/{request['id']}/run", headers=env.h(asker), json={})
    assert done.status_code == 200, done.text
    again = env.client.post(f"{REQ}/{request['id']}/run", headers=env.h(asker), json={})
    assert again.status_code == 409
    return dict(done.json())


def test_shortening_retention_waits_for_a_second_officer(env: Env) -> None:
    """One officer's "keep messages one day" changes nothing until another officer approves it."""
    _a, ta = officer(env)
    _b, tb = officer(env, "hegui2", "王合规")
    r = env.client.put(PUT, headers=env.h(ta), json={"scope": "default", "messages_days": 1, "files_days": 1})
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    assert _days(env, ta, "default") == 5 * 365
    new_unit = env.client.put(PUT, headers=env.h(ta), json={"scope": "unit:总行", "messages_days": 30,
                                                            "files_days": 30})
    assert new_unit.status_code == 202 and "unit:总行" not in [
        p["scope"] for p in env.client.get(PUT, headers=env.h(ta)).json()["policies"]]
    out = _approve_and_run(env, ta, tb, r.json()["request"])
    assert out["messages_days"] == 1 and _days(env, ta, "default") == 1
    longer = env.client.put(PUT, headers=env.h(ta), json={"scope": "default", "messages_days": 4000,
                                                          "files_days": 4000})
    assert longer.status_code == 200 and _days(env, ta, "default") == 4000


def test_releasing_a_legal_hold_waits_for_a_second_officer(env: Env) -> None:
    """One officer's release of a hold leaves it active until another officer approves and the asker runs it."""
    a, _ta = env.person("zhangsan", "张三")
    _o, to = officer(env)
    _p, tp = officer(env, "hegui2", "王合规")
    hold = env.client.post("/api/v1/compliance/holds", headers=env.h(to), json={"user_id": a, "reason": "诉讼保全"})
    assert hold.status_code == 201
    r = env.client.post(f"/api/v1/compliance/holds/{hold.json()['id']}/release", headers=env.h(to),
                        json={"reason": "结案"})
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    active = env.client.get("/api/v1/compliance/holds?active=true", headers=env.h(to)).json()["holds"]
    assert [h["id"] for h in active] == [hold.json()["id"]]
    out = _approve_and_run(env, to, tp, r.json()["request"])
    assert out["released_at"] and out["release_reason"] == "结案"
    assert env.client.get("/api/v1/compliance/holds?active=true", headers=env.h(to)).json()["holds"] == []
