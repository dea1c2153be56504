"""routes/ops.py's response models tell the truth, every JSON route of it: the system administrator's
alerts (an overdue fault report, the scanner away, failed notifications), the security administrator's
risks (lockouts, unusual logins), the notification dead letters (a gateway that failed, one refused
without a recipient's number), and the fault reports (filed, a file attached, assigned, answered,
resolved, the queue). Every answer conforms to the OpenAPI document with extra keys refused, on SQLite
and PostgreSQL, the nullable parts reached; a JSON route of the router not called here fails the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from mixun import notify
from mixun.api.routes import ops
from mixun.db.models import LoginAlert
from mixun.db.models_ops import FaultReport
from mixun.services import keys, notifications
from mixun.services.attachments import Antivirus
from mixun.services.runtime import Ctx
from tests.api.response_checks import Answers, check
from tests.api.test_response_models import png
from tests.conftest import Env
from tests.helpers import staff


class Gateway:
    """A gateway that is down (``error``) or refuses the notification (``refused``)."""

    def __init__(self, name: str, refuse: bool) -> None:
        self.name, self.refuse = name, refuse

    def wants(self, n: notify.Notification) -> bool:
        return True

    def deliver(self, n: notify.Notification) -> None:
        if self.refuse:
            raise notify.Refused("no number on file")
        raise ConnectionError("gateway unreachable")


def scenario(env: Env) -> Answers:
    a = Answers(env)
    sys_id, sys = staff(env, "sys1", "系统管理员", "sysadmin")
    _sec, sec = staff(env, "sec1", "安全员", "secadmin")
    zs, zs_t = env.person("zhangsan", "张三", phone="13800000001")

    # Fault reports, through to resolution; one left open and overdue.
    path = "/api/v1/faults/{report_id}"
    fid = a.call("fault.file", "post", "/api/v1/faults", zs_t, 201,
                 json={"title": "打印机无法连接", "location": "三楼", "description": "点打印无反应"})["id"]
    a.call("fault.attach", "post", path + "/files", zs_t, 201, url=f"/api/v1/faults/{fid}/files",
           files={"file": ("屏幕截图.png", png(), "image/png")})
    a.call("fault.assign", "post", "/api/v1/admin/faults/{report_id}/assign", sys,
           url=f"/api/v1/admin/faults/{fid}/assign", json={"user_id": sys_id})
    a.call("fault.reply", "post", path + "/replies", sys, url=f"/api/v1/faults/{fid}/replies", json={"text": "请重启后再试"})
    a.call("fault.resolve", "post", "/api/v1/admin/faults/{report_id}/resolve", sys,
           url=f"/api/v1/admin/faults/{fid}/resolve", json={"resolution": "已更换驱动"})
    late = a.call("fault.file.late", "post", "/api/v1/faults", zs_t, 201, json={"title": "网页打不开"})["id"]
    with env.rt.db.write() as s:
        s.execute(update(FaultReport).where(FaultReport.id == late).values(due_at=datetime.now(UTC) - timedelta(minutes=5)))
    a.call("faults.mine", "get", "/api/v1/faults", zs_t)
    a.call("fault", "get", path, zs_t, url=f"/api/v1/faults/{fid}")
    a.call("faults.queue", "get", "/api/v1/admin/faults", sys, params={"status": "all"})
    a.call("faults.handlers", "get", "/api/v1/admin/faults/handlers", sys)

    # Notifications that failed: a gateway down (retried, then given up) and one that refused.
    a.call("dead.none", "get", "/api/v1/admin/ops/dead-letters", sys)
    dispatcher = notify.Dispatcher(env.settings.data_dir, [Gateway("sms", False), Gateway("email", True)], retries=1,
                                   retry_seconds=0.0, seal=notifications.sealer(env.rt))
    dispatcher.send(zs, "13800000001", "【密讯】您有一条紧急消息", email=None)
    assert dispatcher.idle(10)
    a.call("dead", "get", "/api/v1/admin/ops/dead-letters", sys)
    a.call("dead.page", "get", "/api/v1/admin/ops/dead-letters", sys, params={"limit": 1})

    # Alerts: the overdue report, the failed notifications, the scanner away.
    env.rt.antivirus = Antivirus(str(env.settings.data_dir / "no-such-clamd.sock"))
    a.call("alerts", "get", "/api/v1/admin/ops/alerts", sys)
    a.call("alerts.en", "get", "/api/v1/admin/ops/alerts", sys, headers={**env.h(sys), "Accept-Language": "en"})

    # Security risks: none, then three lockouts and an unusual login.
    a.call("risks.none", "get", "/api/v1/admin/security/risks", sec)
    with env.rt.db.write() as s:
        for _ in range(3):
            s.add(LoginAlert(user_id=zs, ip="10.0.0.9", reasons=["locked_out"]))
        s.add(LoginAlert(user_id=zs, ip="10.0.0.9", reasons=["new_address"]))
    a.call("risks", "get", "/api/v1/admin/security/risks", sec)

    # The key management status (secadmin, auditor): a retired KEK, a destroyed month's period key, the
    # last rotation and destruction (no escrow export yet: null).
    _aud, aud = staff(env, "aud1", "审计员", "auditor")
    ctx = Ctx(rt=env.rt, ip="127.0.0.1", client="tests")
    env.rt.keys.data_keys.keys_for([("c:900002", 201901)])
    keys.shred_spent(ctx)
    keys.rotate(ctx)
    a.call("keys", "get", "/api/v1/security/keys", sec)
    a.call("keys.auditor", "get", "/api/v1/security/keys", aud)
    return a


@pytest.fixture
def answers(env: Env) -> tuple[dict[str, Any], Answers]:
    return env.client.get("/api/v1/openapi.json").json(), scenario(env)


def test_every_ops_answer_is_exactly_its_model(answers: tuple[dict[str, Any], Answers]) -> None:
    doc, a = answers
    check(doc, a, ops.router)
    out = {name: value for name, (_m, _r, _s, value) in a.out.items()}
    assert out["dead.none"] == {"dead_letters": [], "total": 0}
    dead = out["dead"]["dead_letters"]
    assert out["dead"]["total"] == 2 and len(out["dead.page"]["dead_letters"]) == 1
    assert {d["to"] is None for d in dead} == {True, False} and {d["attempts"] for d in dead} == {1, 2}
    assert all(d["text"] == "【密讯】您有一条紧急消息" for d in dead)  # opened, not the sealed form
    codes = {x["code"] for x in out["alerts"]["alerts"]}
    assert {"fault_reports_overdue", "notifications_failed", "scanner_down"} <= codes
    assert all(type(x["value"]) is int for x in out["alerts"]["alerts"])  # counts stay integers on the wire
    assert out["risks.none"]["alerts"] == [] and {x["code"] for x in out["risks"]["alerts"]} == {"lockout_burst", "unusual_logins"}
    st = out["keys"]
    assert st == out["keys.auditor"] and st["last"]["period_keys_exported"] is None and st["last"]["rotated"]
    assert {p["state"] for p in st["periods"]} >= {"destroyed"} and {v["present"] for v in st["versions"]} == {True}
    reports = out["faults.queue"]["reports"]
    assert {r["assignee"] is None for r in reports} == {True, False} and {r["file"] is None for r in reports} == {True, False}
