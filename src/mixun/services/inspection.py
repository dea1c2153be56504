"""The security inspection report (issue 22 item 8, O5): `mixun report inspection --from --to --out FILE`
and the same download in the consoles.

What it holds, for the days from ``start`` to ``end`` (inclusive, in the bank's time zone): DLP hits by
unit, detector and action, and per day; violations and escalations (sanctions, review decisions);
account checks (dormant accounts, expired passwords, no two-factor); drive usage (no drive in this
edition: said so); fault reports and their 24-hour SLA; the audit trail's verification. Charts are SVG
drawn here (no chart library), inline in one self-contained HTML page; the PDF is that page printed by
headless Chromium (Debian's ``chromium``; Chinese text needs a CJK font such as fonts-noto-cjk).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mixun.db.models import Unit, User
from mixun.db.models_archive import ReviewItem, Violation
from mixun.db.models_dlp import DlpHit, DlpSanction
from mixun.db.models_ops import FaultReport
from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import ADMIN_ROLES
from mixun.errors import MixunError
from mixun.services.runtime import Ctx

Progress = Callable[[int, int], None]
DORMANT_DAYS = 90
MAX_DAYS = 366
SECTIONS = 6
PALETTE = ("#2563eb", "#dc2626", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")
ACTION_ZH = {"block": "拦截", "warn": "警告", "mask": "脱敏", "hold": "待审", "allow": "放行", "audit": "记录"}


def period(ctx: Ctx, start: date, end: date) -> tuple[datetime, datetime, timezone]:
    """The report's instants [from, to) for whole days in the bank's time zone."""
    if end < start:
        raise MixunError("validation_failed", fields=[{"field": "to", "problem": "before_from"}])
    if (end - start).days + 1 > MAX_DAYS:
        raise MixunError("validation_failed", fields=[{"field": "to", "problem": "longer_than_a_year"}])
    tz = timezone(timedelta(hours=ctx.rt.settings.work_timezone_offset_hours))
    begin = datetime(start.year, start.month, start.day, tzinfo=tz)
    finish = datetime(end.year, end.month, end.day, tzinfo=tz) + timedelta(days=1)
    return begin.astimezone(UTC), finish.astimezone(UTC), tz


def collect(ctx: Ctx, start: date, end: date, progress: Progress | None = None) -> dict[str, Any]:
    """Every figure of the report (the page is drawn from this alone)."""
    step = progress or (lambda _d, _t: None)
    t0, t1, tz = period(ctx, start, end)
    now = datetime.now(UTC)
    settings = ctx.rt.settings
    out: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(), "generated_at": now.isoformat(),
                           "tz_hours": settings.work_timezone_offset_hours}
    step(0, SECTIONS)
    with ctx.rt.db.read() as s:
        units: dict[int | None, str] = dict(s.execute(select(Unit.id, Unit.path)).all())
        people = {uid: (name, units.get(unit_id, "—")) for uid, name, unit_id in
                  s.execute(select(User.id, User.name, User.unit_id)).all()}
        hits = s.execute(select(DlpHit.user_id, DlpHit.detector, DlpHit.action, DlpHit.created_at).where(
            DlpHit.created_at >= t0, DlpHit.created_at < t1)).all()
        by_unit: Counter[str] = Counter()
        by_detector: Counter[str] = Counter()
        by_action: Counter[str] = Counter()
        by_day: dict[str, Counter[str]] = defaultdict(Counter)
        for uid, detector, action, at in hits:
            by_unit[people.get(uid, ("", "—"))[1]] += 1
            by_detector[detector] += 1
            by_action[action] += 1
            by_day[at.astimezone(tz).date().isoformat()][action] += 1
        days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        out["dlp"] = {"total": len(hits), "by_unit": by_unit.most_common(), "by_detector": by_detector.most_common(),
                      "by_action": by_action.most_common(),
                      "by_day": [{"day": d, **dict(by_day.get(d, {}))} for d in days]}
        step(1, SECTIONS)
        violations = s.execute(select(Violation.level, func.count()).where(
            Violation.created_at >= t0, Violation.created_at < t1).group_by(Violation.level)).all()
        decisions = s.execute(select(ReviewItem.status, func.count()).where(
            ReviewItem.created_at >= t0, ReviewItem.created_at < t1).group_by(ReviewItem.status)).all()
        sanctions = s.execute(select(DlpSanction.user_id, DlpSanction.level, DlpSanction.violations,
                                     DlpSanction.updated_at).where(DlpSanction.level != "none")).all()
        out["violations"] = {"by_level": sorted(violations), "review": sorted(decisions),
                             "sanctioned": [{"name": people.get(u, ("?", ""))[0], "unit": people.get(u, ("", "—"))[1],
                                             "level": lvl, "violations": n, "updated_at": at.isoformat()}
                                            for u, lvl, n, at in sanctions]}
        step(2, SECTIONS)
        accounts = s.execute(select(User.id, User.username, User.name, User.unit_id, User.roles, User.last_login_at,
                                    User.password_changed_at, User.totp_enabled, User.disabled, User.created_at)
                             .order_by(User.id)).all()
        dormant, expired, no_2fa = [], [], []
        active = 0
        max_age = timedelta(days=settings.password_max_age_days)
        for _uid, username, name, unit_id, roles, last, changed, totp, disabled, created in accounts:
            if disabled:
                continue
            active += 1
            row = {"username": username, "name": name, "unit": units.get(unit_id, "—")}
            if (last or created) < now - timedelta(days=DORMANT_DAYS):
                dormant.append({**row, "last_login_at": last.isoformat() if last else None})
            if settings.password_max_age_days and changed < now - max_age:
                expired.append({**row, "password_changed_at": changed.isoformat()})
            if not totp:
                no_2fa.append({**row, "administrator": any(r in ADMIN_ROLES for r in roles)})
        out["accounts"] = {"active": active, "dormant": dormant, "expired_passwords": expired, "no_two_factor": no_2fa,
                           "dormant_days": DORMANT_DAYS, "password_max_age_days": settings.password_max_age_days}
        step(3, SECTIONS)
        reports = s.execute(select(FaultReport.status, FaultReport.created_at, FaultReport.due_at,
                                   FaultReport.answered_at, FaultReport.resolved_at, FaultReport.escalated_at)
                            .where(FaultReport.created_at >= t0, FaultReport.created_at < t1)).all()
        resolved = [r for r in reports if r.resolved_at is not None]
        in_time = [r for r in resolved if r.resolved_at <= r.due_at]
        hours = sorted((r.resolved_at - r.created_at).total_seconds() / 3600 for r in resolved)
        out["faults"] = {"filed": len(reports), "resolved": len(resolved), "resolved_in_time": len(in_time),
                         "open": sum(1 for r in reports if r.resolved_at is None),
                         "open_overdue": sum(1 for r in reports if r.resolved_at is None and r.due_at < now),
                         "escalated": sum(1 for r in reports if r.escalated_at is not None),
                         "sla_percent": round(100 * len(in_time) / len(resolved), 1) if resolved else None,
                         "median_hours": round(hours[len(hours) // 2], 1) if hours else None}
    step(4, SECTIONS)
    out["drive"] = {"enabled": False}
    from mixun.services import audit_checkpoints

    try:
        report = audit_checkpoints.verify(ctx)
        out["audit"] = {"ok": report.ok, "count": report.count, "last_id": report.last_id,
                        "first_bad_id": report.first_bad_id, "reason": report.reason,
                        "head_checked": report.head_checked}
    except Exception as exc:  # noqa: BLE001 - a verification that cannot run is itself a finding
        out["audit"] = {"ok": False, "count": 0, "last_id": None, "first_bad_id": None,
                        "reason": f"verification could not run: {type(exc).__name__}", "head_checked": False}
    step(SECTIONS, SECTIONS)
    return out


# ---- charts (SVG) -------------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(items: list[tuple[str, int]], title: str, width: int = 640) -> str:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return f'<p class="empty">{_e(title)}：无数据</p>'
    items = items[:15]
    row, label_w, top = 24, 200, 28
    height = top + row * len(items) + 10
    peak = max(v for _l, v in items) or 1
    span = width - label_w - 60
    parts = [f'<svg class="chart" role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="0" y="16" class="t">{_e(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(1, round(span * value / peak))
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(label[-18:])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}" fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{label_w + w + 6}" y="{y + 15}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(days: list[dict[str, Any]], series: list[str], title: str, width: int = 640, height: int = 220) -> str:
    """One line per series over the days (DLP hits per day by action)."""
    if not days:
        return f'<p class="empty">{_e(title)}：无数据</p>'
    left, right, top, bottom = 40, 110, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(int(d.get(k, 0)) for d in days for k in series)])
    n = len(days)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [f'<svg class="chart" role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="0" y="16" class="t">{_e(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
             f'<text x="{left}" y="{height - 8}">{_e(days[0]["day"][5:])}</text>',
             f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">{_e(days[-1]["day"][5:])}</text>']
    for k, name in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(int(d.get(name, 0))):.1f}" for i, d in enumerate(days))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'
                     f'<rect x="{left + plot_w + 12}" y="{top + 18 * k}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{left + plot_w + 30}" y="{top + 18 * k + 11}">{_e(ACTION_ZH.get(name, name))}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---- the page ------------------------------------------------------------------------------------------

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Serif CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
margin:32px;color:#111;font-size:14px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:2px solid #2563eb;
padding-bottom:4px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left}th{background:#f1f5f9}.ok{color:#059669;font-weight:bold}.bad{color:#dc2626;font-weight:bold}
.meta{color:#555}.chart{display:block;margin:10px 0}.kpis{margin:8px 0}.chart text{font-size:12px;fill:#222}.chart .t{font-size:13px;font-weight:bold}.empty{color:#777}
.kpi{display:inline-block;border:1px solid #ddd;border-radius:6px;padding:8px 14px;margin:4px 8px 4px 0}
.kpi b{display:block;font-size:20px}@page{size:A4;margin:14mm}
"""


def _table(headers: list[str], rows: list[list[Any]], limit: int = 50) -> str:
    if not rows:
        return '<p class="empty">无</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows[:limit])
    more = f'<p class="meta">另有 {len(rows) - limit} 项未列出。</p>' if len(rows) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _kpi(label: str, value: Any) -> str:
    return f'<span class="kpi"><b>{_e(value)}</b>{_e(label)}</span>'


def _kpis(inner: str) -> str:
    return f'<div class="kpis">{inner}</div>'


def render_html(data: dict[str, Any], org: str = "") -> str:
    dlp, acc, flt, aud, vio = data["dlp"], data["accounts"], data["faults"], data["audit"], data["violations"]
    actions = [a for a, _n in dlp["by_action"]] or ["block"]
    level_zh = {"warning": "警告", "unit_notice": "通报部门负责人", "suspension": "暂停发送", "suspended": "暂停发送"}
    status_zh = {"open": "待处理", "escalated": "已上报", "approved": "通过", "rejected": "驳回", "violation": "违规"}
    audit_line = (f'<p class="ok">审计日志校验通过：{aud["count"]} 条记录，最后编号 {aud["last_id"]}。</p>' if aud["ok"] else
                  f'<p class="bad">审计日志校验失败：记录 {_e(aud["first_bad_id"])}，{_e(aud["reason"])}</p>')
    sla = "—" if flt["sla_percent"] is None else f'{flt["sla_percent"]}%'
    sections = [
        f"<h1>密讯安全巡检报告</h1><p class=\"meta\">{_e(org)} 巡检期间 {_e(data['from'])} 至 {_e(data['to'])}"
        f"（UTC+{data['tz_hours']}）· 生成于 {_e(data['generated_at'][:19].replace('T', ' '))} UTC</p>",
        "<h2>一、数据防泄漏（DLP）命中</h2>",
        _kpis(_kpi("命中总数", dlp["total"]) + "".join(_kpi(ACTION_ZH.get(a, a), n) for a, n in dlp["by_action"])),
        line_chart(dlp["by_day"], actions, "每日命中（按处置）"),
        bar_chart(dlp["by_unit"], "按部门"),
        bar_chart(dlp["by_detector"], "按检测器"),
        "<h2>二、违规与处置升级</h2>",
        "<h3>违规记录（按等级）</h3>", _table(["等级", "次数"], [[level_zh.get(lvl, lvl), n] for lvl, n in vio["by_level"]]),
        "<h3>审查结果</h3>", _table(["审查状态", "条数"], [[status_zh.get(st, st), n] for st, n in vio["review"]]),
        "<h3>当前处置中的人员</h3>", _table(["姓名", "部门", "当前处置", "违规次数"], [[x["name"], x["unit"], level_zh.get(x["level"], x["level"]),
                                                   x["violations"]] for x in vio["sanctioned"]]),
        "<h2>三、账号检查</h2>",
        _kpis(_kpi("在用账号", acc["active"]) + _kpi(f"{acc['dormant_days']} 天未登录", len(acc["dormant"]))
              + _kpi("密码已过期", len(acc["expired_passwords"])) + _kpi("未启用双因素", len(acc["no_two_factor"]))),
        bar_chart([("长期未登录", len(acc["dormant"])), ("密码过期", len(acc["expired_passwords"])),
                   ("未启用双因素", len(acc["no_two_factor"]))], "账号风险"),
        "<h3>长期未登录</h3>", _table(["用户名", "姓名", "部门", "最后登录"],
                                  [[x["username"], x["name"], x["unit"], (x["last_login_at"] or "从未")[:10]] for x in acc["dormant"]]),
        "<h3>密码已过期</h3>", _table(["用户名", "姓名", "部门", "密码修改于"],
                                  [[x["username"], x["name"], x["unit"], x["password_changed_at"][:10]] for x in acc["expired_passwords"]]),
        "<h3>未启用双因素</h3>", _table(["用户名", "姓名", "部门", "管理员"],
                                   [[x["username"], x["name"], x["unit"], "是" if x["administrator"] else ""] for x in acc["no_two_factor"]]),
        "<h2>四、网盘用量</h2><p class=\"meta\">本版本未启用网盘，无用量数据。</p>",
        "<h2>五、故障报告与时限（24 小时）</h2>",
        _kpis(_kpi("报告数", flt["filed"]) + _kpi("已解决", flt["resolved"]) + _kpi("按时解决率", sla)
              + _kpi("未解决", flt["open"]) + _kpi("超时未解决", flt["open_overdue"]) + _kpi("已上报主管", flt["escalated"])
              + _kpi("解决用时中位数（小时）", "—" if flt["median_hours"] is None else flt["median_hours"])),
        bar_chart([("按时解决", flt["resolved_in_time"]), ("超时解决", flt["resolved"] - flt["resolved_in_time"]),
                   ("未解决", flt["open"])], "故障报告处理"),
        "<h2>六、审计日志完整性</h2>", audit_line,
    ]
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>密讯安全巡检报告 "
            f"{_e(data['from'])}–{_e(data['to'])}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


_PRINTING = threading.Semaphore(1)  # one Chromium at a time per process: a few hundred MB each


def to_pdf(page: str, timeout: float = 120.0) -> bytes:
    """The page printed to PDF by headless Chromium."""
    browser = chromium()
    if browser is None:
        raise MixunError("pdf_unavailable")
    with _PRINTING:
        return _print(browser, page, timeout)


def _print(browser: str, page: str, timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mixun-report-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(page, encoding="utf-8")
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", src.as_uri()]
        env = {**os.environ, "HOME": tmp}
        try:
            subprocess.run(cmd, check=False, capture_output=True, timeout=timeout, env=env)  # noqa: S603
        except subprocess.TimeoutExpired as exc:
            raise MixunError("pdf_unavailable") from exc
        if not out.is_file() or not out.read_bytes().startswith(b"%PDF"):
            raise MixunError("pdf_unavailable")
        return out.read_bytes()


def build(ctx: Ctx, start: date, end: date, fmt: str, progress: Progress | None = None) -> bytes:
    """The report as ``fmt`` (html or pdf), recorded in the audit trail."""
    from mixun.services import audit

    data = collect(ctx, start, end, progress)
    page = render_html(data, ctx.rt.settings.extra.get("MIXUN_ORG_NAME", ""))
    body = to_pdf(page) if fmt == "pdf" else page.encode("utf-8")
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.REPORT_INSPECTION, target=f"{start.isoformat()}..{end.isoformat()}", format=fmt,
                     size=len(body))
    return body
