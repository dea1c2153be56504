"""Console APIs: the export list, audit search by person and time, the DLP detector names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Env
from tests.helpers import staff


def test_exports_are_listed_for_compliance(env: Env) -> None:
    """An export made by compliance appears in the export list with its counts and who made it."""
    _c, tc = staff(env, "hegui", "何规", "compliance")
    r = env.client.post("/api/v1/compliance/exports", headers=env.h(tc),
                        json={"category": "regulatory_inspection", "reason": "监管检查：调阅本季度全部往来",
                              "formats": ["jsonl"]})
    assert r.status_code in (200, 201), r.text
    listed = env.client.get("/api/v1/compliance/exports", headers=env.h(tc))
    assert listed.status_code == 200
    assert listed.json()["exports"][0]["actor_name"] == "何规"
    _e, te = env.person("zhangsan", "张三")
    assert env.client.get("/api/v1/compliance/exports", headers=env.h(te)).status_code == 403


def test_audit_search_by_username_and_time(env: Env) -> None:
    """The auditor filters the trail by a person's username and a time window."""
    _a, ta = staff(env, "aud1", "审计员", "auditor")
    env.person("zhangsan", "张三")
    now = datetime.now(UTC)
    r = env.client.get("/api/v1/admin/audit", headers=env.h(ta),
                       params={"actor_username": "zhangsan", "since": (now - timedelta(minutes=5)).isoformat()})
    assert r.status_code == 200
    records = r.json()["records"]
    assert records and all(x["actor_username"] == "zhangsan" for x in records)
    future = env.client.get("/api/v1/admin/audit", headers=env.h(ta),
                            params={"since": (now + timedelta(days=1)).isoformat()})
    assert future.json()["records"] == []
    bad = env.client.get("/api/v1/admin/audit", headers=env.h(ta), params={"since": "yesterday"})
    assert bad.status_code == 422


def test_policy_lists_detector_names(env: Env) -> None:
    """secadmin's policy editor gets the detector names from the server."""
    _s, ts = staff(env, "sec1", "安全员", "secadmin")
    body = env.client.get("/api/v1/dlp/policy", headers=env.h(ts)).json()
    assert {"cn_id_card", "bank_card", "cn_mobile", "uscc", "email", "credential", "secret_key",
            "classified_marking", "prohibited"} <= set(body["detectors"])
