"""Fault reports (issue 22 item 7): any employee files one with a screenshot; sysadmin's queue with the
24-hour clock, assign, answer, resolve; escalation after the clock runs out (supervisor and reporter
told); the reporter sees state and answers; nobody else sees the report."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import update

from mixun.services import notifications
from tests.conftest import Env
from tests.helpers import staff


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_fault_report_life(env: Env) -> None:
    c = env.client
    me, tok = env.person("zhangsan", "张三", phone="13800000001")
    _o, other = env.person("lisi", "李四")
    sys_id, sys_tok = staff(env, "sys1", "系统管理员甲", "sysadmin")
    _sec, sec_tok = staff(env, "sec1", "安全员", "secadmin")
    r = c.post("/api/v1/faults", headers=env.h(tok),
               json={"title": "无法发送文件", "location": "总行 3 楼 / 网页版", "description": "上传后一直转圈"})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert r.json()["status"] == "open" and not r.json()["overdue"]
    assert 23 * 3600 < r.json()["seconds_left"] <= 24 * 3600
    shot = png()
    r = c.post(f"/api/v1/faults/{fid}/files", headers=env.h(tok), files={"file": ("屏幕截图.png", shot, "image/png")})
    assert r.status_code == 201, r.text
    assert r.json()["file"] == {"name": "屏幕截图.png", "mime": "image/png", "size": len(shot)}
    # Others: not there at all; a secadmin has no queue.
    assert c.get(f"/api/v1/faults/{fid}", headers=env.h(other)).status_code == 404
    assert c.get(f"/api/v1/faults/{fid}/file", headers=env.h(other)).status_code == 404
    assert c.post(f"/api/v1/faults/{fid}/replies", headers=env.h(other), json={"text": "x"}).status_code == 404
    r = c.get("/api/v1/admin/faults", headers=env.h(sec_tok))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert c.get("/api/v1/admin/faults", headers=env.h(tok)).status_code == 403
    # The queue.
    q = c.get("/api/v1/admin/faults", headers=env.h(sys_tok)).json()
    assert [x["id"] for x in q["reports"]] == [fid] and q["counts"] == {"active": 1, "overdue": 0, "resolved": 0}
    assert q["sla_hours"] == 24
    got = c.get(f"/api/v1/faults/{fid}/file", headers=env.h(sys_tok))
    assert got.status_code == 200 and got.content == shot and got.headers["content-type"] == "image/png"
    # Assign to oneself, answer, the reporter answers back, resolve.
    r = c.post(f"/api/v1/admin/faults/{fid}/assign", headers=env.h(sys_tok), json={})
    assert r.status_code == 200 and r.json()["status"] == "in_progress" and r.json()["assignee"]["id"] == sys_id
    r = c.post(f"/api/v1/admin/faults/{fid}/assign", headers=env.h(sys_tok), json={"user_id": me})
    assert r.status_code == 422  # not a handler
    r = c.post(f"/api/v1/faults/{fid}/replies", headers=env.h(sys_tok), json={"text": "请清除浏览器缓存后重试"})
    assert r.status_code == 200 and r.json()["answered_at"] and r.json()["replies"][0]["by_handler"] is True
    r = c.post(f"/api/v1/faults/{fid}/replies", headers=env.h(tok), json={"text": "还是不行"})
    assert r.status_code == 200 and [x["by_handler"] for x in r.json()["replies"]] == [True, False]
    mine = c.get("/api/v1/faults", headers=env.h(tok)).json()["reports"]
    assert mine[0]["status"] == "in_progress" and mine[0]["assignee"]["name"] == "系统管理员甲"
    r = c.post(f"/api/v1/admin/faults/{fid}/resolve", headers=env.h(sys_tok), json={"resolution": "已修复网关配置"})
    assert r.status_code == 200 and r.json()["status"] == "resolved" and r.json()["resolution"] == "已修复网关配置"
    assert c.post(f"/api/v1/faults/{fid}/replies", headers=env.h(tok), json={"text": "谢谢"}).json()["error"]["code"] \
        == "fault_resolved"
    r = c.post(f"/api/v1/admin/faults/{fid}/resolve", headers=env.h(sys_tok), json={"resolution": "again"})
    assert r.status_code == 409
    detail = c.get(f"/api/v1/faults/{fid}", headers=env.h(tok)).json()
    assert detail["status"] == "resolved" and len(detail["replies"]) == 2 and not detail["overdue"]
    # The reporter was told of the answer and of the resolution (the outbox keeps every notification).
    lines = [json.loads(x) for x in (env.settings.data_dir / "outbox" / "sms.jsonl").read_text().splitlines()]
    assert [x["user_id"] for x in lines].count(me) == 2
    # Bad input: a clear 4xx.
    assert c.post("/api/v1/faults", headers=env.h(tok), json={"title": ""}).status_code == 422
    assert c.post("/api/v1/faults", headers=env.h(tok), json={"title": "   "}).status_code == 422
    assert c.get("/api/v1/admin/faults?status=bogus", headers=env.h(sys_tok)).status_code == 422
    assert c.get("/api/v1/faults/999999", headers=env.h(tok)).status_code == 404


def test_overdue_reports_escalate_once(env: Env) -> None:
    from mixun.db.models_ops import FaultReport
    from mixun.services import faults
    from mixun.services.runtime import Ctx

    c = env.client
    env.rt.settings.extra["MIXUN_ESCALATION_PHONE"] = "13999999999"
    me, tok = env.person("zhangsan", "张三", phone="13800000001")
    _s, sys_tok = staff(env, "sys1", "系统员", "sysadmin")
    late = c.post("/api/v1/faults", headers=env.h(tok), json={"title": "打印机不通"}).json()["id"]
    fresh = c.post("/api/v1/faults", headers=env.h(tok), json={"title": "新问题"}).json()["id"]
    with env.rt.db.write() as s:
        s.execute(update(FaultReport).where(FaultReport.id == late).values(
            created_at=datetime.now(UTC) - timedelta(hours=25), due_at=datetime.now(UTC) - timedelta(hours=1)))
    q = c.get("/api/v1/admin/faults", headers=env.h(sys_tok)).json()
    assert [x["id"] for x in q["reports"]] == [late, fresh]  # the most urgent first
    assert q["reports"][0]["overdue"] is True and q["reports"][0]["seconds_left"] < 0
    assert q["counts"]["overdue"] == 1
    assert [x["id"] for x in c.get("/api/v1/admin/faults?status=overdue", headers=env.h(sys_tok)).json()["reports"]] == [late]
    ctx = Ctx(rt=env.rt, ip="127.0.0.1", client="tests")
    assert faults.escalate_overdue(ctx) == 1
    assert faults.escalate_overdue(ctx) == 0  # once only
    lines = notifications.outbox(env.rt)  # the texts opened (sealed at rest)
    assert any(x["phone"] == "13999999999" and "打印机不通" in x["text"] for x in lines)  # the supervisor
    assert any(x["user_id"] == me and "上报" in x["text"] for x in lines)  # and the reporter
    assert c.get(f"/api/v1/faults/{late}", headers=env.h(tok)).json()["escalated_at"]
    metrics = c.get("/metrics").text
    assert "mixun_fault_reports_overdue 1.0" in metrics and "mixun_fault_reports_open 2.0" in metrics
