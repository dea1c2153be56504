"""Alerts raised inside Mixun (issue 22 item 5): the conditions of ops/prometheus/mixun-alerts.yml that a
server can see for itself, for the consoles — faults to the system administrator, security risks to
the security administrator — and, when a fault alert is newly raised, to the configured supervisor
through the notification gateways (once per raising, across processes: services/ops_alerts.py keeps
what it told in ``<data dir>/run/alerts-notified.json`` under a file lock).
"""

from __future__ import annotations

import fcntl
import json
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from mixun.db.models import LoginAlert
from mixun.db.models_dlp import DlpHit
from mixun.domain.roles import Perm
from mixun.services import access, notifications
from mixun.services.runtime import Ctx, Runtime

# Thresholds (the rules file uses the same figures).
DISK_FREE_RATIO = 0.10
DLP_BURST_BLOCKS = 20  # blocked sends within DLP_BURST_MINUTES
DLP_BURST_MINUTES = 10
LOCKOUT_BURST = 3  # accounts locked within LOCKOUT_MINUTES
LOCKOUT_MINUTES = 15

TITLES = {
    "database_down": ("数据库不可用", "The database does not answer"),
    "bus_down": ("进程间消息总线断开", "The bus between server processes is down"),
    "scanner_down": ("病毒扫描服务不可用", "The virus scanner (clamd) is unavailable"),
    "fault_reports_overdue": ("故障报告超过时限未解决", "Fault reports are past their deadline"),
    "notifications_failed": ("通知发送失败（死信）", "Notifications failed (dead letters)"),
    "disk_low": ("数据目录磁盘空间不足", "The data directory's disk is nearly full"),
    "dlp_block_burst": ("DLP 拦截激增", "A burst of DLP blocks"),
    "lockout_burst": ("账号锁定激增", "A burst of account lockouts"),
    "unusual_logins": ("异常登录", "Logins flagged as unusual"),
}


def _alert(code: str, severity: str, value: float, detail: str, locale: str) -> dict[str, Any]:
    zh, en = TITLES[code]
    return {"code": code, "severity": severity, "title": en if locale.startswith("en") else zh,
            "value": value, "detail": detail}


def fault_conditions(rt: Runtime, locale: str = "zh-CN") -> list[dict[str, Any]]:
    """What is wrong with the service now (the system administrator's alerts)."""
    from mixun import notify
    from mixun.services.attachments import antivirus
    from mixun.services.faults import open_counts

    out: list[dict[str, Any]] = []
    ctx = Ctx(rt=rt)
    try:
        with rt.db.read() as s:
            s.execute(text("SELECT 1"))
        _active, overdue = open_counts(ctx)
        if overdue:
            out.append(_alert("fault_reports_overdue", "critical", overdue, f"{overdue}", locale))
    except Exception as exc:  # noqa: BLE001 - that is the alert
        out.append(_alert("database_down", "critical", 1, type(exc).__name__, locale))
    if rt.bus_up is False:
        out.append(_alert("bus_down", "critical", 1, rt.settings.bus_url.split("@")[-1], locale))
    if not antivirus(rt).available():
        out.append(_alert("scanner_down", "warning", 1, rt.settings.clamd_socket, locale))
    since = datetime.now(UTC) - timedelta(hours=24)
    recent = [d for d in notify.read_dead_letters(rt.settings.data_dir, 500) if d.get("at", "") >= since.isoformat()]
    if recent:
        out.append(_alert("notifications_failed", "warning", len(recent), recent[0].get("error", ""), locale))
    try:
        usage = shutil.disk_usage(rt.settings.data_dir)
        free = usage.free / usage.total if usage.total else 1.0
        if free < DISK_FREE_RATIO:
            out.append(_alert("disk_low", "critical", round(free * 100, 1), f"{usage.free // 2**20} MiB", locale))
    except OSError:
        pass
    return out


def security_conditions(rt: Runtime, locale: str = "zh-CN") -> list[dict[str, Any]]:
    """Security risks now (the security administrator's alerts)."""
    now = datetime.now(UTC)
    out: list[dict[str, Any]] = []
    with rt.db.read() as s:
        blocks = s.execute(select(func.count(func.distinct(DlpHit.created_at))).where(
            DlpHit.action == "block", DlpHit.created_at > now - timedelta(minutes=DLP_BURST_MINUTES))).scalar_one()
        alerts = list(s.execute(select(LoginAlert.reasons).where(
            LoginAlert.created_at > now - timedelta(minutes=max(LOCKOUT_MINUTES, 60)))).scalars())
    if blocks >= DLP_BURST_BLOCKS:
        out.append(_alert("dlp_block_burst", "warning", blocks, f"{DLP_BURST_MINUTES} min", locale))
    locked = sum(1 for reasons in alerts if "locked_out" in (reasons or []))
    if locked >= LOCKOUT_BURST:
        out.append(_alert("lockout_burst", "warning", locked, f"{LOCKOUT_MINUTES} min", locale))
    unusual = sum(1 for reasons in alerts if any(r != "locked_out" for r in (reasons or [])))
    if unusual:
        out.append(_alert("unusual_logins", "info", unusual, "60 min", locale))
    return out


def alerts(ctx: Ctx, kind: str) -> dict[str, Any]:
    """``faults`` (ops.monitor) or ``security`` (security.alerts) alerts, as they stand now."""
    if kind == "faults":
        access.require(ctx.principal, Perm.OPS_MONITOR)
        found = fault_conditions(ctx.rt, ctx.locale)
    else:
        access.require(ctx.principal, Perm.SECURITY_ALERTS)
        found = security_conditions(ctx.rt, ctx.locale)
    return {"checked_at": datetime.now(UTC).isoformat(), "alerts": found}


def notify_new(rt: Runtime) -> list[str]:
    """Tell the supervisor of fault alerts raised since the last round (any process's); returns their codes."""
    current = {a["code"]: a for a in fault_conditions(rt)}
    path = rt.settings.data_dir / "run" / "alerts-notified.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            told = set(json.loads(path.read_text())) if path.is_file() else set()
        except (OSError, ValueError):
            told = set()
        new = [code for code in current if code not in told]
        path.write_text(json.dumps(sorted(current)))
    ctx = Ctx(rt=rt, ip="127.0.0.1", client="mixun-server")
    for code in new:
        a = current[code]
        notifications.notify_supervisor(ctx, f"【密讯告警】{a['title']}（{a['detail']}）", "密讯告警 Mixun alert")
    return new
