"""Group file spaces (群文件) in the compliance archive: the files and folders members put straight into
a group's space (not sent as messages: those are message attachments, archived with their messages),
found by name, person, group and time, opened and exported with a stated reason; every access audited.

What members delete or move stays here: a member's delete only hides an item from the group
(services/drive.py keeps its row, blob and wrapped key), and each result says what members did to it,
from the item itself (``deleted_at``, ``removed_at``) and from the audit trail (who renamed, moved or
deleted it, when). docs/drive.md, docs/compliance-consoles.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mixun.db.models import AuditLog, Conversation, Unit, User
from mixun.db.models_drive import DriveItem
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit, drive
from mixun.services.archive import check_range
from mixun.services.audit_read import resolve_people
from mixun.services.dual_control import Reason
from mixun.services.runtime import Ctx

MAX_LIMIT = 200
# What members (and secadmin) did to an item, as the audit trail recorded it.
HISTORY_ACTIONS = ("drive.uploaded", "drive.folder_created", "drive.renamed", "drive.moved", "drive.deleted",
                   "drive.removed")
OPENABLE = ("clean", "unscanned")


def _like(text: str) -> str:
    return text.strip().lower()[:100]


def _groups_named(s: Session, name: str) -> list[int]:
    """Groups whose name contains ``name`` (case-blind); [] when none."""
    return list(s.execute(select(Conversation.id).where(
        Conversation.kind == "group",
        func.lower(Conversation.name).contains(_like(name), autoescape=True))).scalars())


def _folders(s: Session, conversation_ids: set[int]) -> dict[int, tuple[int | None, str, bool]]:
    """Every folder of these groups' spaces: id -> (parent, name, deleted or removed)."""
    if not conversation_ids:
        return {}
    return {fid: (parent, name, deleted is not None or removed is not None)
            for fid, parent, name, deleted, removed in s.execute(
                select(DriveItem.id, DriveItem.parent_id, DriveItem.name, DriveItem.deleted_at, DriveItem.removed_at)
                .where(DriveItem.conversation_id.in_(conversation_ids), DriveItem.kind == "folder")).all()}


def _place(folders: dict[int, tuple[int | None, str, bool]], parent: int | None) -> tuple[list[str], bool]:
    """The folder names from the space's root down to ``parent``, and whether one of them was deleted."""
    names: list[str] = []
    gone = False
    for _ in range(drive.MAX_DEPTH + 1):
        if parent is None or parent not in folders:
            break
        parent, name, deleted = folders[parent]
        names.append(name)
        gone = gone or deleted
    return list(reversed(names)), gone


def _history(s: Session, ids: list[int]) -> dict[int, list[AuditLog]]:
    out: dict[int, list[AuditLog]] = {}
    targets = [f"drive_item:{i}" for i in ids]
    for i in range(0, len(targets), 500):
        for rec in s.execute(select(AuditLog).where(AuditLog.action.in_(HISTORY_ACTIONS),
                                                     AuditLog.target.in_(targets[i:i + 500]))
                             .order_by(AuditLog.id)).scalars():
            out.setdefault(int(rec.target.split(":", 1)[1]), []).append(rec)
    return out


def _people(s: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    return {uid: {"id": uid, "name": name, "username": username, "unit": unit or ""}
            for uid, name, username, unit in s.execute(
                select(User.id, User.name, User.username, Unit.path).join(Unit, Unit.id == User.unit_id, isouter=True)
                .where(User.id.in_(ids))).all()}


def views(s: Session, items: list[DriveItem]) -> list[dict[str, Any]]:
    """Each item as the archive shows and exports it: uploader and group by name, the folder path, size,
    scan state, and what members did to it (deleted, moved, renamed: by whom and when)."""
    if not items:
        return []
    convs = {i.conversation_id for i in items if i.conversation_id is not None}
    folders = _folders(s, convs)
    history = _history(s, [i.id for i in items])
    groups = dict(s.execute(select(Conversation.id, Conversation.name).where(Conversation.id.in_(convs))).all())
    who = {i.uploader_id for i in items} | {r.actor_id for recs in history.values() for r in recs if r.actor_id}
    people = _people(s, who)
    out = []
    for i in items:
        path, in_deleted_folder = _place(folders, i.parent_id)
        events = []
        for r in history.get(i.id, []):
            d = r.details if isinstance(r.details, dict) else {}
            e: dict[str, Any] = {"action": r.action.split(".", 1)[1], "at": r.at,
                                 "by": people.get(r.actor_id or 0, {}).get("name", "") if r.actor_id else "",
                                 "by_role": r.actor_role}
            if r.action == "drive.renamed":
                e["old"], e["new"] = d.get("old", ""), d.get("new", "")
            elif r.action == "drive.moved":
                parent = d.get("parent_id")
                e["to"] = "/".join(_place(folders, parent if isinstance(parent, int) else None)[0])
            elif r.action == "drive.removed":
                e["reason"] = d.get("reason", "")
            events.append(e)
        deleted = next((e for e in reversed(events) if e["action"] == "deleted"), None)
        state = ("removed" if i.removed_at is not None else "deleted" if i.deleted_at is not None
                 else "in_deleted_folder" if in_deleted_folder else "present")
        out.append({
            "id": i.id, "kind": i.kind, "name": i.name, "size": i.size if i.kind == "file" else None,
            "mime": i.mime, "sha256": i.sha256 or None,
            "scan_status": i.scan_status if i.kind == "file" else None,
            "conversation": {"id": i.conversation_id, "name": groups.get(i.conversation_id or 0, "")},
            "folder_path": "/".join(path), "folder_id": i.parent_id,
            "uploader": people.get(i.uploader_id, {"id": i.uploader_id, "name": "", "username": "", "unit": ""}),
            "created_at": i.created_at.isoformat(), "updated_at": i.updated_at.isoformat(),
            "state": state,
            "deleted_at": i.deleted_at.isoformat() if i.deleted_at else None,
            "deleted_by": deleted["by"] if deleted and i.deleted_at else None,
            "removed_at": i.removed_at.isoformat() if i.removed_at else None,
            "removed_reason": i.removed_reason or None if i.removed_at else None,
            "moved": any(e["action"] == "moved" for e in events),
            "renamed": any(e["action"] == "renamed" for e in events),
            "history": events,
            "content_kept": i.kind == "file" and bool(i.blob_key) and i.data_key_wrapped is not None,
        })
    return out


def search(ctx: Ctx, *, reason: Reason, q: str = "", person_q: str | None = None, group_q: str | None = None,
           conversation_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
           limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """Files and folders of every group's space, newest first, whatever members did to them since: by
    name (a part of it), uploader (name, username or employee number: an unknown person finds nothing),
    group (a part of its name, or its id) and upload time. Audited with the reason, as a search of the
    messages is."""
    check_range(since, until)
    limit = max(1, min(limit, MAX_LIMIT))
    with ctx.rt.db.read() as s:
        stmt = select(DriveItem).where(DriveItem.conversation_id.is_not(None))
        if q.strip():
            stmt = stmt.where(func.lower(DriveItem.name).contains(_like(q), autoescape=True))
        if person_q is not None and person_q.strip():
            stmt = stmt.where(DriveItem.uploader_id.in_([p["id"] for p in resolve_people(s, person_q)] or [-1]))
        if group_q is not None and group_q.strip():
            stmt = stmt.where(DriveItem.conversation_id.in_(_groups_named(s, group_q) or [-1]))
        stmt = _scoped(stmt, conversation_id, since, until)
        if cursor is not None:
            stmt = stmt.where(DriveItem.id < cursor)
        items = list(s.execute(stmt.order_by(DriveItem.id.desc()).limit(limit + 1)).scalars())
        more = len(items) > limit
        items = items[:limit]
        results = views(s, items)
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ARCHIVE_GROUP_FILES_SEARCHED, target="archive", **reason.audit(),
                     query_length=len(q), person_q=(person_q or "")[:64] or None, group_q=(group_q or "")[:64] or None,
                     conversation_id=conversation_id, since=since.isoformat() if since else None,
                     until=until.isoformat() if until else None, results=len(results))
    return {"results": results, "next_cursor": items[-1].id if more and items else None}


@dataclass
class Opened:
    chunks: Iterator[bytes]
    size: int
    name: str
    mime: str


def _kept_file(s: Session, item_id: int) -> DriveItem:
    item = s.get(DriveItem, item_id)
    if item is None or item.conversation_id is None or item.kind != "file":
        raise MixunError("not_found")
    if not item.blob_key or item.data_key_wrapped is None:
        raise MixunError("not_found", ("该文件内容已不在归档中", "This file's content is no longer in the archive"))
    return item


def open_file(ctx: Ctx, item_id: int, reason: Reason) -> Opened:
    """One group-space file's content for a compliance officer, deleted by members or not; never one that
    failed its virus scan, none before it is scanned. Audited with the reason before a byte is read."""
    with ctx.rt.db.read() as s:
        item = _kept_file(s, item_id)
        s.expunge(item)
    if item.scan_status == "pending":
        raise MixunError("file_not_ready")
    if item.scan_status not in OPENABLE:
        raise MixunError("file_blocked")
    assert item.blob_key is not None
    if not drive.blob_path(ctx.rt, item.blob_key).is_file():  # checked before the headers are sent
        raise MixunError("not_found", ("该文件内容已不在归档中", "This file's content is no longer in the archive"))
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ARCHIVE_GROUP_FILE_VIEWED, target=f"drive_item:{item.id}", **reason.audit(),
                     filename=item.name[:120], conversation_id=item.conversation_id, size=item.size)
    return Opened(drive.item_reader(ctx.rt, item).iter_range(), item.size, item.name, item.mime or "application/octet-stream")


def in_scope(s: Session, conversations: list[int] | None, conversation_id: int | None, since: datetime | None,
             until: datetime | None, after: int = 0, batch: int = 500) -> list[DriveItem]:
    """A batch of group-space items for an export (id order, after ``after``): in the export's groups
    (None: every group) and upload time."""
    stmt = select(DriveItem).where(DriveItem.conversation_id.is_not(None), DriveItem.id > after)
    if conversations is not None:
        stmt = stmt.where(DriveItem.conversation_id.in_(conversations or [-1]))
    stmt = _scoped(stmt, conversation_id, since, until)
    return list(s.execute(stmt.order_by(DriveItem.id).limit(batch)).scalars())


def _scoped(stmt: Select[DriveItem], conversation_id: int | None, since: datetime | None,
            until: datetime | None) -> Select[DriveItem]:
    """``stmt`` narrowed to one group and an upload-time range (each when given)."""
    if conversation_id is not None:
        stmt = stmt.where(DriveItem.conversation_id == conversation_id)
    if since is not None:
        stmt = stmt.where(DriveItem.created_at >= since)
    if until is not None:
        stmt = stmt.where(DriveItem.created_at <= until)
    return stmt

