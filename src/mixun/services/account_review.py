"""The account review (A7): on a schedule (daily, from the server's sweep) and on demand, every account
is checked for dormancy, an expired password, missing two-factor where it is required, administrators
who have not logged in lately, accounts HR has not verified, and the current rules not accepted. Each
run is kept with its findings; sysadmin and secadmin read it and export it as CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mixun.db.models import Unit, User
from mixun.db.models_people import AccountReview, RulesAcceptance, RulesVersion
from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import is_privileged, needs_totp
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.rules_gate import VALID_FOR
from mixun.services.runtime import Ctx, Runtime

KINDS = ("dormant", "password_expired", "no_two_factor", "admin_inactive", "not_hr_verified", "rules_not_accepted")
LABELS = {
    "dormant": ("长期未登录", "dormant"),
    "password_expired": ("密码已过期", "password expired"),
    "no_two_factor": ("未启用双因素认证", "no two-factor"),
    "admin_inactive": ("管理员近期未登录", "administrator not logged in lately"),
    "not_hr_verified": ("人力资源未核实", "not verified by HR"),
    "rules_not_accepted": ("未接受使用与保密规定", "rules not accepted"),
}


def _days(rt: Runtime, name: str, default: int) -> int:
    try:
        return int(rt.settings.extra.get(f"MIXUN_{name}", default))
    except ValueError:
        return default


def thresholds(rt: Runtime) -> dict[str, int]:
    return {"dormant_days": _days(rt, "REVIEW_DORMANT_DAYS", 90),
            "admin_days": _days(rt, "REVIEW_ADMIN_DAYS", 30),
            "interval_hours": _days(rt, "REVIEW_INTERVAL_HOURS", 24),
            "password_max_age_days": rt.settings.password_max_age_days}


def _findings(s: Session, rt: Runtime, now: datetime) -> list[dict[str, Any]]:
    th = thresholds(rt)
    dormant = now - timedelta(days=th["dormant_days"])
    admin_cut = now - timedelta(days=th["admin_days"])
    pw_cut = now - timedelta(days=th["password_max_age_days"])
    version = s.execute(select(func.max(RulesVersion.version))).scalar()
    accepted: dict[int, datetime] = {}
    if version is not None:
        accepted = dict(s.execute(select(RulesAcceptance.user_id, func.max(RulesAcceptance.accepted_at))
                                  .where(RulesAcceptance.version == version).group_by(RulesAcceptance.user_id)).all())
    out: list[dict[str, Any]] = []
    rows = s.execute(select(User.id, User.username, User.name, User.roles, User.last_login_at, User.created_at,
                            User.password_changed_at, User.totp_enabled, User.hr_verified, Unit.path)
                     .outerjoin(Unit, Unit.id == User.unit_id).where(User.disabled.is_(False)).order_by(User.id))
    for r in rows:
        roles = list(r.roles or [])
        seen = r.last_login_at or r.created_at

        def add(kind: str, detail: str, r: Any = r, roles: list[str] = roles) -> None:
            out.append({"kind": kind, "user_id": r.id, "username": r.username, "name": r.name,
                        "unit": r.path or "", "roles": roles, "detail": detail,
                        "last_login_at": r.last_login_at.isoformat() if r.last_login_at else None})

        if seen < dormant:
            add("dormant", f"{(now - seen).days}")
        if r.password_changed_at < pw_cut:
            add("password_expired", r.password_changed_at.isoformat())
        if needs_totp(roles, rt.settings.totp_required_for_all) and not r.totp_enabled:
            add("no_two_factor", "")
        if is_privileged(roles) and seen < admin_cut:
            add("admin_inactive", f"{(now - seen).days}")
        if not r.hr_verified:
            add("not_hr_verified", "")
        if version is not None:
            at = accepted.get(r.id)
            if at is None or (at if at.tzinfo else at.replace(tzinfo=UTC)) + VALID_FOR <= now:
                add("rules_not_accepted", f"v{version}")
    return out


def run(rt: Runtime, ctx: Ctx | None, trigger: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    actx = ctx or Ctx(rt=rt, ip="", client="mixun scheduler")
    with rt.db.write() as s:
        findings = _findings(s, rt, now)
        counts = dict(Counter(f["kind"] for f in findings))
        row = AccountReview(created_at=now, trigger=trigger, by_id=ctx.user_id if ctx and ctx.principal else None,
                            counts={k: counts.get(k, 0) for k in KINDS}, findings=findings)
        s.add(row)
        s.flush()
        audit.record(s, actx, AuditAction.ACCOUNT_REVIEW_RUN, target=f"review:{row.id}", trigger=trigger, **row.counts)
        return _view(row, with_findings=True)


def run_if_due(rt: Runtime) -> bool:
    """The scheduled review: once per interval (MIXUN_REVIEW_INTERVAL_HOURS, default 24), whichever
    server gets there first (a second one within the hour sees the first's row and does nothing)."""
    hours = thresholds(rt)["interval_hours"]
    if hours <= 0:
        return False
    with rt.db.read() as s:
        last = s.execute(select(func.max(AccountReview.created_at))).scalar()
    if last is not None and (last if last.tzinfo else last.replace(tzinfo=UTC)) > datetime.now(UTC) - timedelta(hours=hours):
        return False
    run(rt, None, "scheduled")
    return True


def _view(r: AccountReview, with_findings: bool = False) -> dict[str, Any]:
    v: dict[str, Any] = {"id": r.id, "created_at": r.created_at.isoformat(), "trigger": r.trigger,
                         "counts": r.counts, "total": sum(int(x) for x in r.counts.values())}
    if with_findings:
        v["findings"] = r.findings
    return v


def list_reviews(ctx: Ctx, limit: int, offset: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        rows = s.execute(select(AccountReview).order_by(AccountReview.id.desc()).offset(offset).limit(limit + 1)).scalars().all()
    return {"reviews": [_view(r) for r in rows[:limit]], "next_offset": offset + limit if len(rows) > limit else None,
            "thresholds": thresholds(ctx.rt), "kinds": list(KINDS)}


def get_review(ctx: Ctx, review_id: int, kind: str | None) -> dict[str, Any]:
    if kind is not None and kind not in KINDS:
        raise MixunError("validation_failed", (f"kind 只能是 {'、'.join(KINDS)}", f"kind must be one of {', '.join(KINDS)}"), field="kind")
    with ctx.rt.db.read() as s:
        r = s.get(AccountReview, review_id)
        if r is None:
            raise MixunError("not_found")
        v = _view(r, with_findings=True)
    if kind:
        v["findings"] = [f for f in v["findings"] if f["kind"] == kind]
    return v


def review_csv(ctx: Ctx, review_id: int) -> str:
    v = get_review(ctx, review_id, None)
    zh = not ctx.locale.startswith("en")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["kind", "finding", "username", "name", "unit", "roles", "detail", "last_login_at"])
    for f in v["findings"]:
        w.writerow([f["kind"], LABELS[f["kind"]][0 if zh else 1], f["username"], f["name"], f["unit"],
                    " ".join(f["roles"]), f["detail"], f["last_login_at"] or ""])
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ACCOUNT_REVIEW_EXPORTED, target=f"review:{review_id}", rows=len(v["findings"]))
    return out.getvalue()
