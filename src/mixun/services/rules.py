"""The usage and confidentiality rules (A8, 保密承诺): secadmin publishes versions; every person accepts
the current one at first login, again when it changes and again a year after accepting, before
anything else works (the gate's ``must_accept_rules``); compliance lists who has not accepted."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from mixun.db.models import Unit, User
from mixun.db.models_people import RulesAcceptance, RulesVersion
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.rules_gate import VALID_FOR, current_version, last_acceptance
from mixun.services.runtime import Ctx

MAX_BODY = 100_000


def _view(v: RulesVersion) -> dict[str, Any]:
    return {"version": v.version, "title": v.title, "body": v.body, "published_at": v.published_at.isoformat()}


def get_current(ctx: Ctx) -> dict[str, Any]:
    """The current rules and the caller's standing with them."""
    with ctx.rt.db.read() as s:
        v = current_version(s)
        if v is None:
            return {"rules": None, "accepted_at": None, "must_accept": False}
        at = last_acceptance(s, ctx.user_id, v.version)
    now = datetime.now(UTC)
    return {"rules": _view(v), "accepted_at": at.isoformat() if at else None,
            "must_accept": at is None or at + VALID_FOR <= now,
            "due_at": (at + VALID_FOR).isoformat() if at else None}


def accept(ctx: Ctx, version: int) -> dict[str, Any]:
    """Record the caller's acceptance of ``version`` (the current one: an older one is a 409)."""
    from mixun.services.auth import account_changed

    with ctx.rt.db.write() as s:
        v = current_version(s)
        if v is None:
            raise MixunError("rules_not_published")
        if v.version != version:
            raise MixunError("rules_version_stale", current=v.version)
        now = datetime.now(UTC)
        s.add(RulesAcceptance(user_id=ctx.user_id, version=v.version, accepted_at=now, ip=ctx.ip[:64],
                              client=ctx.client[:300]))
        audit.record(s, ctx, AuditAction.RULES_ACCEPTED, target=f"user:{ctx.user_id}", version=v.version)
        account_changed(s, ctx, ctx.user_id)  # the session's cached "must accept" goes
    return {"version": v.version, "accepted_at": now.isoformat()}


def publish(ctx: Ctx, title: str, body: str) -> dict[str, Any]:
    """A new version; everyone (the publisher too) accepts it before going on."""
    from mixun.db.engine import on_commit
    from mixun.services.auth import bump_epoch, principal_cache

    title, body = title.strip(), body.strip()
    if not title or len(title) > 200:
        raise MixunError("validation_failed", ("标题为 1–200 个字符", "The title must be 1–200 characters"), field="title")
    if not body or len(body) > MAX_BODY:
        raise MixunError("validation_failed", ("正文为 1–100000 个字符", "The text must be 1–100,000 characters"), field="body")
    with ctx.rt.db.write() as s:
        latest = s.execute(select(func.max(RulesVersion.version))).scalar() or 0
        v = RulesVersion(version=latest + 1, title=title, body=body, published_by=ctx.user_id,
                         published_at=datetime.now(UTC))
        s.add(v)
        s.flush()
        audit.record(s, ctx, AuditAction.RULES_PUBLISHED, target=f"rules:{v.version}", version=v.version, title=title)
        # Every server drops its cached sessions (the epoch, within half a second; this one at once):
        # each session looks at the new version on its next request.
        bump_epoch(s)
        cache = principal_cache(ctx.rt)
        on_commit(s, cache.clear)
        return _view(v)


def list_versions(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        rows = s.execute(select(RulesVersion).order_by(RulesVersion.version.desc())).scalars().all()
        counts = dict(s.execute(select(RulesAcceptance.version, func.count(func.distinct(RulesAcceptance.user_id)))
                                .group_by(RulesAcceptance.version)).all())
        return [{**_view(v), "accepted": int(counts.get(v.version, 0))} for v in rows]


def compliance(ctx: Ctx, status: str, limit: int, offset: int) -> dict[str, Any]:
    """Active staff and administrators with their standing on the current version: ``pending`` (not
    accepted, or accepted more than a year ago), ``accepted`` or ``all``."""
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        v = current_version(s)
        if v is None:
            return {"version": None, "total": 0, "pending": 0, "accepted": 0, "people": []}  # api/models_people order
        last = (select(RulesAcceptance.user_id, func.max(RulesAcceptance.accepted_at).label("at"))
                .where(RulesAcceptance.version == v.version).group_by(RulesAcceptance.user_id).subquery())
        rows = s.execute(select(User.id, User.username, User.name, User.employee_no, Unit.path, last.c.at)
                         .outerjoin(Unit, Unit.id == User.unit_id).outerjoin(last, last.c.user_id == User.id)
                         .where(User.disabled.is_(False)).order_by(User.id)).all()
    people = []
    for r in rows:
        ok = r.at is not None and _aware(r.at) + VALID_FOR > now
        people.append({"user_id": r.id, "username": r.username, "name": r.name, "employee_no": r.employee_no,
                       "unit": r.path or "", "accepted_at": _aware(r.at).isoformat() if r.at else None,
                       "accepted": ok})
    pending = sum(1 for p in people if not p["accepted"])
    chosen = [p for p in people if status == "all" or (p["accepted"] == (status == "accepted"))]
    return {"version": v.version, "total": len(people), "pending": pending, "accepted": len(people) - pending,
            "people": chosen[offset:offset + limit], "next_offset": offset + limit if len(chosen) > offset + limit else None}


def compliance_csv(ctx: Ctx, status: str) -> str:
    data = compliance(ctx, status, 10_000_000, 0)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["username", "name", "employee_no", "unit", "version", "accepted", "accepted_at"])
    for p in data["people"]:
        w.writerow([p["username"], p["name"], p["employee_no"] or "", p["unit"], data["version"],
                    "yes" if p["accepted"] else "no", p["accepted_at"] or ""])
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.RULES_REPORT_EXPORTED, status=status, rows=len(data["people"]))
    return out.getvalue()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)
