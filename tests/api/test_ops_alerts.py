"""Alerts (issue 22 item 5): the Prometheus rules file and the Grafana dashboard in the repository name
only metrics Mixun defines; the same conditions are raised inside Mixun for the system administrator
(faults) and the security administrator (security risks), and a newly raised fault alert reaches the
configured supervisor once."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import update

from mixun import metrics
from mixun.services import notifications
from tests.conftest import Env
from tests.helpers import staff

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "mixun-alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "mixun-dashboard.json"
NAME = re.compile(r"\b(mixun_[a-z0-9_]+)\b")


def _named(expr: str) -> set[str]:
    return set(NAME.findall(expr))


def test_rules_file_and_dashboard_name_only_defined_metrics() -> None:
    defined = metrics.defined_names()
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    seen: set[str] = set()
    alerts = []
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["alert"].startswith("Mixun") and rule["labels"]["severity"] in ("critical", "warning", "info")
            assert rule["annotations"]["summary"]
            assert rule["expr"].count("(") == rule["expr"].count(")"), rule["expr"]
            alerts.append(rule["alert"])
            seen |= _named(rule["expr"])
    assert len(alerts) == len(set(alerts)) >= 10
    assert seen and seen <= defined, seen - defined
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dash["uid"] and dash["panels"]
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert all(p["datasource"]["type"] == "prometheus" for p in dash["panels"])
    named = set().union(*(_named(e) for e in exprs))
    assert named <= defined, named - defined
    # The dashboard shows what the issue lists: connections, sends, deliveries, latency, DLP, queues, logins.
    for must in ("mixun_websocket_connections", "mixun_messages_sent_total", "mixun_deliveries_total",
                 "mixun_delivery_latency_seconds_bucket", "mixun_dlp_findings_total", "mixun_send_queue_depth",
                 "mixun_writer_batches_total", "mixun_database_up", "mixun_bus_up", "mixun_scanner_up",
                 "mixun_login_failures_total", "mixun_lockouts_total"):
        assert must in named, must


def test_every_defined_metric_is_exposed(env: Env) -> None:
    """What the rules name is really served: every family defined appears in a scrape (labelled counters
    once used), so a rule can never watch a name the server does not write."""
    text = env.client.get("/metrics").text
    families = {m.split("{")[0].split(" ")[0] for m in text.splitlines() if m.startswith("mixun_")}
    for name in ("mixun_messages_sent_total", "mixun_send_seconds_bucket", "mixun_deliveries_total",
                 "mixun_delivery_latency_seconds_bucket", "mixun_websocket_connections", "mixun_send_queue_depth",
                 "mixun_writer_batches_total", "mixun_lockouts_total", "mixun_server_errors_total",
                 *metrics.HEALTH_GAUGES):
        assert name in families, name


def test_console_alerts_for_sysadmin_and_secadmin(env: Env) -> None:
    from mixun.db.models import LoginAlert
    from mixun.db.models_ops import FaultReport
    from mixun.services import ops_alerts

    c = env.client
    env.rt.settings.extra["MIXUN_ESCALATION_EMAIL"] = "boss@bank.test"
    uid, emp = env.person("zhangsan", "张三")
    _s, sys_tok = staff(env, "sys1", "系统员", "sysadmin")
    _c, sec_tok = staff(env, "sec1", "安全员", "secadmin")
    assert c.get("/api/v1/admin/ops/alerts", headers=env.h(emp)).status_code == 403
    assert c.get("/api/v1/admin/ops/alerts", headers=env.h(sec_tok)).status_code == 403
    assert c.get("/api/v1/admin/security/risks", headers=env.h(sys_tok)).status_code == 403
    before = {a["code"] for a in c.get("/api/v1/admin/ops/alerts", headers=env.h(sys_tok)).json()["alerts"]}
    assert "fault_reports_overdue" not in before and "database_down" not in before
    fid = c.post("/api/v1/faults", headers=env.h(emp), json={"title": "网页打不开"}).json()["id"]
    with env.rt.db.write() as s:
        s.execute(update(FaultReport).where(FaultReport.id == fid).values(due_at=datetime.now(UTC) - timedelta(minutes=5)))
    r = c.get("/api/v1/admin/ops/alerts", headers=env.h(sys_tok))
    got = {a["code"]: a for a in r.json()["alerts"]}
    assert got["fault_reports_overdue"]["severity"] == "critical" and got["fault_reports_overdue"]["value"] == 1
    assert got["fault_reports_overdue"]["title"] == "故障报告超过时限未解决"
    en = c.get("/api/v1/admin/ops/alerts", headers={**env.h(sys_tok), "Accept-Language": "en"}).json()["alerts"]
    assert any(a["title"] == "Fault reports are past their deadline" for a in en)
    # The supervisor is told of a newly raised alert once, not at every round.
    assert "fault_reports_overdue" in ops_alerts.notify_new(env.rt)
    assert ops_alerts.notify_new(env.rt) == []
    lines = notifications.outbox(env.rt)  # the texts opened (sealed at rest)
    assert [x["email"] for x in lines if "告警" in x["text"] and "故障报告" in x["text"]] == ["boss@bank.test"]
    # Security risks: three lockouts within the quarter hour.
    quiet = {a["code"]: a["value"] for a in c.get("/api/v1/admin/security/risks", headers=env.h(sec_tok)).json()["alerts"]}
    assert "lockout_burst" not in quiet and "dlp_block_burst" not in quiet
    with env.rt.db.write() as s:
        for _ in range(3):
            s.add(LoginAlert(user_id=uid, ip="10.0.0.9", reasons=["locked_out"]))
        s.add(LoginAlert(user_id=uid, ip="10.0.0.9", reasons=["new_address"]))
    risks = {a["code"]: a for a in c.get("/api/v1/admin/security/risks", headers=env.h(sec_tok)).json()["alerts"]}
    assert risks["lockout_burst"]["value"] == 3
    assert risks["unusual_logins"]["value"] == quiet.get("unusual_logins", 0) + 1
