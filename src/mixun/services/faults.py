"""Fault reports (issue 22 item 7, O1): any employee files one — what, where, a screenshot or file —
and sees its state and the answers; system administrators work a queue against a 24-hour clock
(``MIXUN_FAULT_SLA_HOURS``): assign, answer, resolve. A report still unresolved when its clock runs
out is escalated once: the configured supervisor (``MIXUN_ESCALATION_EMAIL`` / ``_PHONE``) and the
reporter are told through the notification gateways, and the report shows it.

Who may see a report: its reporter, and whoever holds ``faults.handle``; to anyone else it does not
exist (404, as for any object one may not see).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mixun.db.models_ops import FaultReply, FaultReport
from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import Perm, permissions_for
from mixun.errors import MixunError
from mixun.services import audit, notifications
from mixun.services.runtime import Ctx
from mixun.storage import Session
from mixun.storage import faults as fault_store
from mixun.storage import users as user_store

STATUSES = ("open", "in_progress", "resolved")
KEY_PURPOSE = "fault-report-file"
IMAGE_MIMES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def sla_hours(ctx: Ctx) -> float:
    return float(ctx.rt.settings.extra.get("MIXUN_FAULT_SLA_HOURS", "24"))


def _handler(ctx: Ctx) -> bool:
    return ctx.principal is not None and Perm.FAULTS_HANDLE in ctx.principal.perms


def _names(s: Session, ids: set[int | None]) -> dict[int, str]:
    return user_store.list_names(s, (i for i in ids if i))


def _view(r: FaultReport, names: dict[int, str], now: datetime, replies: list[FaultReply] | None = None
          ) -> dict[str, Any]:
    due = r.due_at
    stopped = r.resolved_at or now
    view: dict[str, Any] = {
        "id": r.id, "title": r.title, "location": r.location, "description": r.description,
        "status": r.status, "reporter": {"id": r.reporter_id, "name": names.get(r.reporter_id, "")},
        "assignee": {"id": r.assignee_id, "name": names.get(r.assignee_id, "")} if r.assignee_id else None,
        "resolution": r.resolution, "created_at": r.created_at.isoformat(), "due_at": due.isoformat(),
        "answered_at": r.answered_at.isoformat() if r.answered_at else None,
        "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
        "escalated_at": r.escalated_at.isoformat() if r.escalated_at else None,
        # The clock: seconds left before the deadline (negative: overdue by that much); it stops at resolution.
        "seconds_left": int((due - stopped).total_seconds()),
        "overdue": stopped > due,
        "file": {"name": r.file_name, "mime": r.file_mime, "size": r.file_size} if r.file_name else None,
    }
    if replies is not None:
        view["replies"] = [{"id": x.id, "author": {"id": x.author_id, "name": names.get(x.author_id, "")},
                            "text": x.text, "created_at": x.created_at.isoformat(),
                            "by_handler": x.author_id != r.reporter_id} for x in replies]
    return view


def _get(s: Session, ctx: Ctx, report_id: int, lock: bool = False) -> FaultReport:
    r = fault_store.find_report(s, report_id, lock=lock)
    if r is None or (r.reporter_id != ctx.user_id and not _handler(ctx)):
        raise MixunError("not_found")
    return r


def _clean(text: str, limit: int, field: str, required: bool = True) -> str:
    value = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()
    if required and not value:
        raise MixunError("validation_failed", fields=[{"field": field, "problem": "missing"}])
    return value[:limit]


def file_report(ctx: Ctx, title: str, location: str, description: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        r = FaultReport(reporter_id=ctx.user_id, title=_clean(title, 200, "title"),
                        location=_clean(location, 200, "location", required=False),
                        description=_clean(description, 4000, "description", required=False),
                        status="open", created_at=now, due_at=now + timedelta(hours=sla_hours(ctx)))
        s.add(r)
        s.flush()
        audit.record(s, ctx, AuditAction.FAULT_FILED, target=f"fault:{r.id}")
        return _view(r, _names(s, {r.reporter_id}), now, [])


def attach(ctx: Ctx, report_id: int, data: bytes, filename: str, mime: str | None) -> dict[str, Any]:
    """The screenshot or file of a report (one; a second replaces it), scanned and kept encrypted."""
    from mixun.services.attachments import antivirus

    limit = ctx.rt.settings.max_image_bytes
    if len(data) > limit:
        raise MixunError("file_too_large", limit=limit)
    if not data:
        raise MixunError("validation_failed", fields=[{"field": "file", "problem": "empty"}])
    with ctx.rt.db.read() as s:
        r = _get(s, ctx, report_id)
        if r.reporter_id != ctx.user_id:
            raise MixunError("forbidden")
        if r.status == "resolved":
            raise MixunError("fault_resolved")
    result = antivirus(ctx.rt).scanner.scan_bytes(data)
    if result.status == "infected":
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.FILE_INFECTED, target=f"fault:{report_id}", outcome="failure",
                         signature=result.signature)
        raise MixunError("malware_detected", signature=result.signature)
    # Only what the bytes are decides how it is served: an image by its signature, anything else as a
    # download (never rendered by the browser).
    kind = next((m for sig, m in IMAGE_MIMES.items() if data.startswith(sig)), "application/octet-stream")
    name = "".join(ch for ch in filename.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())[:255] or "file"
    sealed = ctx.rt.keys.encrypt_small(data, f"{KEY_PURPOSE}:{report_id}")
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        r = _get(s, ctx, report_id, lock=True)
        r.file_name, r.file_mime, r.file_size, r.file_enc = name, kind, len(data), sealed
        audit.record(s, ctx, AuditAction.FAULT_FILE_ATTACHED, target=f"fault:{r.id}", size=len(data),
                     scan=result.status)
        return _view(r, _names(s, {r.reporter_id, r.assignee_id}), now)


def read_file(ctx: Ctx, report_id: int) -> tuple[bytes, str, str]:
    with ctx.rt.db.read() as s:
        r = _get(s, ctx, report_id)
        if not r.file_enc:
            raise MixunError("not_found")
        data = ctx.rt.keys.decrypt_small(r.file_enc, f"{KEY_PURPOSE}:{r.id}")
        return data, r.file_mime or "application/octet-stream", r.file_name or "file"


def my_reports(ctx: Ctx) -> dict[str, Any]:
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        rows = fault_store.list_by_reporter(s, ctx.user_id, 200)
        names = _names(s, {r.assignee_id for r in rows} | {ctx.user_id})
        return {"reports": [_view(r, names, now) for r in rows]}


def get_report(ctx: Ctx, report_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        r = _get(s, ctx, report_id)
        replies = fault_store.list_replies(s, r.id)
        names = _names(s, {r.reporter_id, r.assignee_id} | {x.author_id for x in replies})
        return _view(r, names, now, replies)


def queue(ctx: Ctx, status: str = "active", limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The handlers' queue, the most urgent deadline first; ``status``: active (not resolved), overdue,
    resolved or all. Counts of each come with it (the console's tabs)."""
    if not _handler(ctx):
        raise MixunError("forbidden")
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        rows = fault_store.list_reports(s, status, now, limit, offset)
        wanted: set[int | None] = {r.assignee_id for r in rows}
        wanted.update(r.reporter_id for r in rows)
        names = _names(s, wanted)
        counts = counts_of(s, now)
        return {"reports": [_view(r, names, now) for r in rows], "counts": counts,
                "sla_hours": sla_hours(ctx)}


def counts_of(s: Session, now: datetime) -> dict[str, int]:
    return fault_store.count_reports(s, now)


def assign(ctx: Ctx, report_id: int, assignee_id: int | None) -> dict[str, Any]:
    """Take a report (``assignee_id`` None: oneself) or hand it to another handler."""
    if not _handler(ctx):
        raise MixunError("forbidden")
    target = assignee_id or ctx.user_id
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        r = _get(s, ctx, report_id, lock=True)
        if r.status == "resolved":
            raise MixunError("fault_resolved")
        who = user_store.find_user(s, target)
        if who is None or who.disabled or Perm.FAULTS_HANDLE not in permissions_for(who.roles):
            raise MixunError("validation_failed", fields=[{"field": "user_id", "problem": "not_a_handler"}])
        r.assignee_id, r.status = target, "in_progress"
        audit.record(s, ctx, AuditAction.FAULT_ASSIGNED, target=f"fault:{r.id}", assignee=f"user:{target}")
        return _view(r, _names(s, {r.reporter_id, r.assignee_id}), now)


def reply(ctx: Ctx, report_id: int, text: str) -> dict[str, Any]:
    body = _clean(text, 4000, "text")
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        r = _get(s, ctx, report_id, lock=True)
        if r.status == "resolved":
            raise MixunError("fault_resolved")
        s.add(FaultReply(report_id=r.id, author_id=ctx.user_id, text=body, created_at=now))
        if ctx.user_id != r.reporter_id:
            if r.answered_at is None:
                r.answered_at = now
            if r.status == "open":
                r.status, r.assignee_id = "in_progress", r.assignee_id or ctx.user_id
            notifications.notify_users(s, ctx, [r.reporter_id], f"【密讯】您的故障报告“{r.title[:30]}”有新的答复,请登录密讯查看。",
                                       "密讯故障报告答复 Reply to your fault report")
        audit.record(s, ctx, AuditAction.FAULT_REPLIED, target=f"fault:{r.id}")
    return get_report(ctx, report_id)


def resolve(ctx: Ctx, report_id: int, resolution: str) -> dict[str, Any]:
    if not _handler(ctx):
        raise MixunError("forbidden")
    text = _clean(resolution, 4000, "resolution")
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        r = _get(s, ctx, report_id, lock=True)
        if r.status == "resolved":
            raise MixunError("fault_resolved")
        r.status, r.resolution, r.resolved_at = "resolved", text, now
        r.answered_at = r.answered_at or now
        r.assignee_id = r.assignee_id or ctx.user_id
        notifications.notify_users(s, ctx, [r.reporter_id], f"【密讯】您的故障报告“{r.title[:30]}”已处理完毕。",
                                   "密讯故障报告已解决 Your fault report is resolved")
        audit.record(s, ctx, AuditAction.FAULT_RESOLVED, target=f"fault:{r.id}", overdue=now > r.due_at)
    return get_report(ctx, report_id)


def escalate_overdue(ctx: Ctx, now: datetime | None = None) -> int:
    """Reports unresolved past their deadline and not escalated yet: each is claimed by one process (a
    conditional update), then the supervisor and the reporter are told. Returns how many."""
    now = now or datetime.now(UTC)
    with ctx.rt.db.write() as s:
        due = fault_store.list_overdue_unescalated(s, now, 100)
        claimed = []
        for rid, reporter, title in due:
            if fault_store.update_escalated(s, rid, now):
                claimed.append((rid, reporter, title))
                audit.record(s, ctx, AuditAction.FAULT_ESCALATED, target=f"fault:{rid}", hours=sla_hours(ctx))
                notifications.notify_users(
                    s, ctx, [reporter], f"【密讯】您的故障报告“{title[:30]}”超过{sla_hours(ctx):g}小时未解决,已上报主管。",
                    "密讯故障报告已升级 Your fault report was escalated")
    for rid, _reporter, title in claimed:
        notifications.notify_supervisor(
            ctx, f"【密讯】故障报告 #{rid}“{title[:30]}”超过{sla_hours(ctx):g}小时未解决,请督办。",
            "密讯故障报告超时 Fault report overdue")
    return len(claimed)


def open_counts(ctx: Ctx) -> tuple[int, int]:
    """(unresolved, overdue): the /metrics gauges."""
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        c = counts_of(s, now)
    return c["active"], c["overdue"]


def handlers(ctx: Ctx) -> list[dict[str, Any]]:
    """Who a report can be handed to."""
    if not _handler(ctx):
        raise MixunError("forbidden")
    with ctx.rt.db.read() as s:
        rows = user_store.list_enabled_accounts(s)
    return [{"id": uid, "name": name, "username": username} for uid, name, username, roles in rows
            if Perm.FAULTS_HANDLE in permissions_for(roles)]
