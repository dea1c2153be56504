"""Announcements (公告, M8): sysadmin and HR publish to the whole bank or to chosen units, unit heads to
their own units. The recipients are fixed when it is published (one receipt row each); recipients read
and, when asked, confirm; publishers see read and confirmed counts, who has not read, and can remind
them. The text passes DLP on the ``announcement`` channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from mixun.db.models_people import Announcement, AnnouncementFile, AnnouncementReceipt
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.roles import Perm, Role, is_administrator
from mixun.errors import MixunError
from mixun.services import audit, events
from mixun.services.runtime import Ctx
from mixun.storage import announcements as stored
from mixun.storage import units as stored_units
from mixun.storage.users import find_user_by_username

MAX_BODY = 20_000
MAX_UNITS = 200
MAX_FILES = 10
# Who publishes to anyone; everyone else holding the permission (unit heads) to their own units only.
BANK_WIDE = frozenset({Role.SYSADMIN.value, Role.HR.value})


def _bank_wide(ctx: Ctx) -> bool:
    return ctx.principal is not None and any(r in BANK_WIDE for r in ctx.principal.roles)


def _own_unit_path(s: Session, user_id: int) -> str:
    return stored_units.user_unit_path(s, user_id)


def _within(path: str, root: str) -> bool:
    return bool(root) and (path == root or path.startswith(root + "/"))


def _dlp_text(ctx: Ctx, text: str, confirm: bool, unit_path: str) -> str:
    """The announcement's text as DLP lets it out ('hold' refuses it: nobody reviews an announcement
    after it went to everyone)."""
    hook = ctx.rt.dlp
    if hook is None or not text:
        return text
    outcome = hook(ctx, text, lambda: "announcement", confirm, lambda: unit_path, "announcement")
    if outcome.action == "hold":
        raise MixunError("dlp_blocked", findings=outcome.audit_summary)
    if outcome.action != "allow" and outcome.audit_summary:
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.DLP_HIT, target="announcement", dlp_action=outcome.action,
                         findings=outcome.audit_summary)
    return outcome.deliver_text


def upload_file(ctx: Ctx, data: bytes, filename: str, confirm: bool = False) -> dict[str, Any]:
    """A file for an announcement still to be published: DLP on its type, text and name, the virus scan,
    stored encrypted (the conversation files' own steps, services/attachments.py)."""
    import hashlib

    from mixun.services.attachments import _Blobs, _clean_name, _mime, _virus_check
    from mixun.services.dlp import service as dlp_service

    if len(data) > ctx.rt.settings.max_file_bytes:
        raise MixunError("file_too_large", limit=ctx.rt.settings.max_file_bytes)
    if not data:
        raise MixunError("unsupported_media", ("文件为空", "The file is empty"))
    name = _clean_name(filename, "file")
    with ctx.rt.db.read() as s:
        own = _own_unit_path(s, ctx.user_id)
    doc, outcome = dlp_service(ctx).check_file(ctx, data, name, confirm, lambda: own, "announcement")
    if outcome.action == "hold":
        raise MixunError("dlp_blocked", findings=outcome.audit_summary)
    scan = _virus_check(ctx, data, "announcement", name)
    blobs = _Blobs(ctx)
    key = blobs.put(data, "blob")
    try:
        with ctx.rt.db.write() as s:
            f = AnnouncementFile(uploader_id=ctx.user_id, filename=name, mime=_mime(doc.kind), size=len(data),
                                 sha256=hashlib.sha256(data).hexdigest(), blob_key=key,
                                 data_key_wrapped=blobs.wrapped, scan_status=scan, created_at=datetime.now(UTC))
            s.add(f)
            s.flush()
            audit.record(s, ctx, AuditAction.ANNOUNCEMENT_FILE_UPLOADED, target=f"announcement_file:{f.id}", filename=name,
                         size=len(data))
            return _file_view(f)
    except BaseException:
        blobs.discard()
        raise


def _file_view(f: AnnouncementFile) -> dict[str, Any]:
    return {"id": f.id, "filename": f.filename, "mime": f.mime, "size": f.size, "scan_status": f.scan_status}


def _files_of(s: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return {aid: [_file_view(f) for f in files] for aid, files in stored.list_files(s, ids).items()}


def read_file(ctx: Ctx, announcement_id: int, file_id: int) -> tuple[bytes, str, str]:
    """A recipient's (or a publisher's) download; audited; refused while waiting for or failing its scan."""
    from mixun.services.attachments import DOWNLOADABLE, _load

    with ctx.rt.db.read() as s:
        try:
            _receipt(s, ctx, announcement_id)
        except MixunError:
            if not ctx.principal or Perm.ANNOUNCE not in ctx.principal.perms:
                raise
            _manageable(s, ctx, announcement_id)
        f = stored.get_file(s, announcement_id, file_id)
        s.expunge(f)
    if f.scan_status == "pending":
        raise MixunError("file_not_ready")
    if f.scan_status not in DOWNLOADABLE:
        raise MixunError("file_blocked")
    data = _load(ctx, ctx.rt.keys.unwrap(f.data_key_wrapped), f.blob_key, "blob")
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ANNOUNCEMENT_FILE_DOWNLOADED, target=f"announcement_file:{f.id}",
                     announcement_id=announcement_id, filename=f.filename)
    return data, f.mime, f.filename


def publish(ctx: Ctx, *, title: str, body: str, unit_ids: list[int], must_confirm: bool, pinned: bool,
            expires_at: datetime | None, confirm: bool = False, file_ids: list[int] | None = None) -> dict[str, Any]:
    title, body = title.strip(), body.strip()
    if not title or len(title) > 200:
        raise MixunError("validation_failed", ("标题为 1–200 个字符", "The title must be 1–200 characters"), field="title")
    if not body or len(body) > MAX_BODY:
        raise MixunError("validation_failed", ("正文为 1–20000 个字符", "The text must be 1–20,000 characters"), field="body")
    if len(unit_ids) > MAX_UNITS:
        raise MixunError("validation_failed", (f"一次最多选择 {MAX_UNITS} 个单位", f"At most {MAX_UNITS} units"), field="unit_ids")
    now = datetime.now(UTC)
    if expires_at is not None and expires_at <= now:
        raise MixunError("validation_failed", ("到期时间须晚于现在", "The expiry must be in the future"), field="expires_at")
    unit_ids = list(dict.fromkeys(unit_ids))
    file_ids = list(dict.fromkeys(file_ids or []))
    if len(file_ids) > MAX_FILES:
        raise MixunError("validation_failed", (f"一条公告最多 {MAX_FILES} 个附件", f"At most {MAX_FILES} files per announcement"),
                         field="file_ids")
    with ctx.rt.db.read() as s:
        own = _own_unit_path(s, ctx.user_id)
        paths = stored_units.list_paths(s, unit_ids)
    missing = [u for u in unit_ids if u not in paths]
    if missing:
        raise MixunError("unit_not_found", unit_ids=missing)
    if not _bank_wide(ctx) and (not unit_ids or not all(_within(p, own) for p in paths.values())):
        raise MixunError("announcement_scope_forbidden", own_unit=own or None)
    body = _dlp_text(ctx, body, confirm, own)
    title = _dlp_text(ctx, title, confirm, own)
    with ctx.rt.db.write() as s:
        a = Announcement(title=title, body=body, author_id=ctx.user_id, to_all=not unit_ids,
                         must_confirm=must_confirm, pinned=pinned, expires_at=expires_at, created_at=now)
        s.add(a)
        s.flush()
        stored.add_units(s, a.id, unit_ids)
        if file_ids:
            files = stored.list_unattached_files(s, file_ids, ctx.user_id)
            if len(files) != len(file_ids):  # not the caller's, already used, or no such file
                raise MixunError("not_found", file_ids=sorted(set(file_ids) - {f.id for f in files}))
            for f in files:
                f.announcement_id = a.id
        roots = [paths[u] for u in unit_ids]
        recipients = [uid for uid, roles in stored.list_audience(s, roots) if not is_administrator(roles)]
        stored.add_receipts(s, a.id, recipients)
        a.recipients = len(recipients)
        audit.record(s, ctx, AuditAction.ANNOUNCEMENT_PUBLISHED, target=f"announcement:{a.id}", title=title,
                     units=[paths[u] for u in unit_ids] or ["*"], recipients=len(recipients),
                     must_confirm=must_confirm)
        if recipients:
            events.emit(s, ctx, recipients, EventType.ANNOUNCEMENT_PUBLISHED, {"announcement": _brief(a)})
        return _brief(a)


def _brief(a: Announcement) -> dict[str, Any]:
    return {"id": a.id, "title": a.title, "must_confirm": a.must_confirm, "pinned": a.pinned,
            "created_at": a.created_at.isoformat(), "expires_at": a.expires_at.isoformat() if a.expires_at else None}


def list_mine(ctx: Ctx, limit: int, offset: int) -> dict[str, Any]:
    """The caller's announcements, pinned first then newest; ``banner``: those still to read or confirm."""
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        rows = stored.list_received(s, ctx.user_id, now, limit + 1, offset)
        pending = stored.list_pending(s, ctx.user_id, now, 20)
        files = _files_of(s, [a.id for a, *_rest in rows[:limit]])
    items = [{**_brief(a), "body": a.body, "author": author or "", "read_at": _iso(r), "confirmed_at": _iso(c),
              "files": files.get(a.id, [])} for a, r, c, author in rows[:limit]]
    return {"announcements": items, "next_offset": offset + limit if len(rows) > limit else None,
            "banner": [{"id": i, "title": t, "must_confirm": m} for i, t, m in pending],
            "unread": len(pending)}


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _receipt(s: Session, ctx: Ctx, announcement_id: int) -> tuple[Announcement, AnnouncementReceipt]:
    return stored.get_receipt(s, announcement_id, ctx.user_id)


def mark_read(ctx: Ctx, announcement_id: int, confirm: bool) -> dict[str, Any]:
    """Read (opening it) or confirm ("I have read and will comply") one announcement."""
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        a, r = _receipt(s, ctx, announcement_id)
        if confirm and not a.must_confirm:
            raise MixunError("validation_failed", ("该公告无需确认", "This announcement needs no confirmation"), field="confirm")
        if r.read_at is None:
            r.read_at = now
        if confirm and r.confirmed_at is None:
            r.confirmed_at = now
            audit.record(s, ctx, AuditAction.ANNOUNCEMENT_CONFIRMED, target=f"announcement:{a.id}")
        return {"id": a.id, "read_at": _iso(r.read_at), "confirmed_at": _iso(r.confirmed_at)}


def _manageable(s: Session, ctx: Ctx, announcement_id: int) -> Announcement:
    """An announcement the caller may see the receipts of: their own, or any for sysadmin and HR."""
    a = stored.find_announcement(s, announcement_id)
    if a is None or (a.author_id != ctx.user_id and not _bank_wide(ctx)):
        raise MixunError("not_found")
    return a


def list_published(ctx: Ctx, limit: int, offset: int) -> dict[str, Any]:
    """What the caller published (sysadmin and HR: everything), with read and confirmed counts."""
    with ctx.rt.db.read() as s:
        rows = stored.list_published(s, None if _bank_wide(ctx) else ctx.user_id, limit + 1, offset)
        counts = stored.list_counts(s, [a.id for a, _n in rows[:limit]])
        files = _files_of(s, [a.id for a, _n in rows[:limit]])
        units = stored.list_unit_paths(s, [a.id for a, _n in rows[:limit]])
    out = []
    for a, author in rows[:limit]:
        read, confirmed = counts.get(a.id, (0, 0))
        out.append({**_brief(a), "body": a.body, "author": author or "", "to_all": a.to_all,
                    "units": units.get(a.id, []), "recipients": a.recipients, "read": read, "confirmed": confirmed,
                    "withdrawn_at": _iso(a.withdrawn_at), "files": files.get(a.id, [])})
    return {"announcements": out, "next_offset": offset + limit if len(rows) > limit else None}


def receipts(ctx: Ctx, announcement_id: int, status: str, limit: int, offset: int) -> dict[str, Any]:
    """Who has (not) read or confirmed: ``unread``, ``unconfirmed``, ``read`` or ``all``."""
    if status not in stored.RECEIPT_STATUSES:
        raise MixunError("validation_failed", ("status 只能是 unread、unconfirmed、read 或 all",
                                               "status must be unread, unconfirmed, read or all"), field="status")
    with ctx.rt.db.read() as s:
        a = _manageable(s, ctx, announcement_id)
        rows = stored.list_receipt_people(s, a.id, status, limit + 1, offset)
        read, confirmed = stored.list_counts(s, [a.id]).get(a.id, (0, 0))
    return {"announcement": {**_brief(a), "recipients": a.recipients, "read": read, "confirmed": confirmed},
            "people": [{"user_id": r.id, "name": r.name, "username": r.username, "unit": r.path or "",
                        "read_at": _iso(r.read_at), "confirmed_at": _iso(r.confirmed_at),
                        "reminded_at": _iso(r.reminded_at)} for r in rows[:limit]],
            "next_offset": offset + limit if len(rows) > limit else None}


def remind(ctx: Ctx, announcement_id: int) -> dict[str, Any]:
    """Remind everyone who has not read it (or, when it must be confirmed, not confirmed it)."""
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        a = _manageable(s, ctx, announcement_id)
        if a.withdrawn_at is not None:
            raise MixunError("conflict", ("公告已撤回", "The announcement was withdrawn"))
        ids = stored.list_outstanding(s, a)
        if ids:
            stored.mark_outstanding_reminded(s, a, now)
            events.emit(s, ctx, ids, EventType.ANNOUNCEMENT_REMINDER, {"announcement": _brief(a)})
        audit.record(s, ctx, AuditAction.ANNOUNCEMENT_REMINDED, target=f"announcement:{a.id}", people=len(ids))
    return {"reminded": len(ids)}


def withdraw(ctx: Ctx, announcement_id: int) -> None:
    with ctx.rt.db.write() as s:
        a = _manageable(s, ctx, announcement_id)
        if a.withdrawn_at is None:
            a.withdrawn_at = datetime.now(UTC)
            audit.record(s, ctx, AuditAction.ANNOUNCEMENT_WITHDRAWN, target=f"announcement:{a.id}")


def publish_scope(ctx: Ctx) -> dict[str, Any]:
    """What the caller may publish to: everything, or their own unit and its sub-units."""
    with ctx.rt.db.read() as s:
        if _bank_wide(ctx):
            units = stored_units.list_units(s)
            return {"bank_wide": True, "units": [{"id": i, "path": p} for i, p in units]}
        own = _own_unit_path(s, ctx.user_id)
        units = stored_units.list_units(s, own) if own else []
        return {"bank_wide": False, "units": [{"id": i, "path": p} for i, p in units]}


# ---- the outage notice (issue 21 item 7) ----------------------------------------------------------------

SMS_TEXT_LIMIT = 300


def outage_notice(ctx: Ctx, author: str, *, title: str, body: str, must_confirm: bool,
                  gateway: Any | None, progress: Any | None = None) -> dict[str, Any]:
    """`mixun announce --all`: in a long outage the system administrator sends one notice to everyone,
    from the server's shell with the web tier down. It is published as any bank-wide announcement
    (stored, DLP-checked, audited; people read it in 公告 when the service is back), and each recipient
    is also sent it at once through the configured notification channels (``gateway``: the outbox always,
    SMS and e-mail when configured) — the notice itself, never message content. ``author`` is the
    username of a system administrator, who appears as its publisher."""
    from dataclasses import replace

    from mixun.domain.roles import permissions_for
    from mixun.services.runtime import Principal

    with ctx.rt.db.read() as s:
        user = find_user_by_username(s, author)
        if user is None or user.disabled or Role.SYSADMIN.value not in (user.roles or []):
            raise MixunError("validation_failed", ("发布人须是在用的系统管理员账号", "The author must be an active system administrator account"),
                             field="author")
        roles = tuple(user.roles or ())
        as_author = replace(ctx, principal=Principal(user_id=user.id, username=user.username, name=user.name,
                                                     roles=roles, perms=permissions_for(roles), session_id=None))
    brief = publish(as_author, title=title, body=body, unit_ids=[], must_confirm=must_confirm, pinned=True,
                    expires_at=None, confirm=True)
    with ctx.rt.db.read() as s:
        people = stored.list_recipient_contacts(s, brief["id"])
    text = f"【密讯公告】{brief['title']}：{body.strip()}"
    if len(text) > SMS_TEXT_LIMIT:
        text = text[:SMS_TEXT_LIMIT - 1] + "…"
    from mixun.services.notifications import email_of

    sent = with_phone = with_email = 0
    total = len(people)
    for i, (uid, phone, username) in enumerate(people, start=1):
        if gateway is not None:
            email = email_of(ctx.rt.settings, username)
            gateway.send(uid, phone, text, email=email, subject=f"【密讯公告】{brief['title']}")
            sent += 1
            with_phone += 1 if phone else 0
            with_email += 1 if email else 0
        if progress is not None and (i % 200 == 0 or i == total):
            progress(i, total)
    with ctx.rt.db.write() as s:
        audit.record(s, as_author, AuditAction.ANNOUNCEMENT_BROADCAST, target=f"announcement:{brief['id']}",
                     recipients=total, notified=sent, with_phone=with_phone, with_email=with_email, actor="cli")
    return {"announcement": brief, "recipients": total, "notified": sent, "with_phone": with_phone,
            "with_email": with_email}
