"""The personal drive (个人网盘, REQUIREMENTS M6) and each group's file space (群文件, M5): docs/drive.md.

Both hold folders and files in one table. A file arrives through a chunked, resumable upload whose size
is checked against the per-file limit, the non-work type list and (in a personal drive) the quota before
any byte is taken; each chunk is verified against its SHA-256 and sealed on arrival (files/segments.py),
so the server never holds more than one chunk of a file in memory. When the last chunk is in, the file
is streamed through ClamAV (and, in a group space, the DLP engine, as a sent file is) before anyone may
open it. Downloads stream with HTTP Range. Deleting from a personal drive moves to a recycle bin kept
``DRIVE_TRASH_DAYS``, then the file's blob and wrapped key are destroyed; a group's files are kept for
the archive.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from mixun.db.models import Attachment, Conversation, Message, Unit, User
from mixun.db.models_drive import DriveBlockedType, DriveItem, DriveQuota, DriveReport, DriveUpload
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.errors import MixunError
from mixun.files.antivirus import ScanResult
from mixun.files.segments import SEGMENT, SegmentReader, seal_chunk, segment_count
from mixun.sendpath.checks import sender_unit_path
from mixun.services import audit, events
from mixun.services.conversations import access_conversation
from mixun.services.runtime import Ctx, Runtime
from mixun.storage import conversations as conversation_store
from mixun.storage import users as user_store

log = logging.getLogger("mixun.drive")

GB = 1024**3
CHUNK = 4 * SEGMENT  # every chunk but the last is exactly this long
MAX_DEPTH = 20
STALE_UPLOAD = timedelta(days=7)
HOUSEKEEPING_SECONDS = 600
DOWNLOADABLE = ("clean", "unscanned")
MESSAGE_FILE_KINDS = ("file", "image", "secure_pack")
# Refusals at completion that no retry can change (a DLP warning, a busy scanner or a missing chunk can).
FINAL_REFUSALS = frozenset({"malware_detected", "scan_failed", "drive_type_not_allowed", "chunk_mismatch",
                            "unsupported_media", "dlp_blocked"})
_HEX64 = re.compile(r"[0-9a-f]{64}")

# Content signatures of common non-work types: a renamed video or program is still refused.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"MZ", "exe"), (0, b"\x7fELF", "exe"), (0, b"ID3", "mp3"), (0, b"fLaC", "flac"),
    (4, b"ftyp", "mp4"), (0, b"\x1aE\xdf\xa3", "mkv"), (8, b"AVI ", "avi"), (0, b"d8:announce", "torrent"),
)


def setting(rt: Runtime, name: str, default: float) -> float:
    raw = rt.settings.extra.get(f"MIXUN_{name}")
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def default_quota(rt: Runtime) -> int:
    return int(setting(rt, "DRIVE_QUOTA_BYTES", 10 * GB))


def file_limit(rt: Runtime) -> int:
    return int(setting(rt, "DRIVE_MAX_FILE_BYTES", 1 * GB))


def trash_days(rt: Runtime) -> float:
    return setting(rt, "DRIVE_TRASH_DAYS", 30)


def unused_days(rt: Runtime) -> float:
    return setting(rt, "DRIVE_UNUSED_DAYS", 180)


def blob_path(rt: Runtime, key: str) -> Path:
    return rt.settings.blob_dir / "drive" / key[:2] / key


def item_reader(rt: Runtime, item: DriveItem) -> SegmentReader:
    """A stored file's content, decrypted segment by segment (drive, group spaces, the archive, exports)."""
    assert item.blob_key is not None and item.data_key_wrapped is not None
    return SegmentReader(blob_path(rt, item.blob_key), rt.keys.unwrap(item.data_key_wrapped), item.size)

def _upload_dir(rt: Runtime, upload_id: str) -> Path:
    return rt.settings.data_dir / "uploads" / upload_id


def _now() -> datetime:
    return datetime.now(UTC)


def clean_name(name: str) -> str:
    """A display name: no path, no control characters, 1–255 characters, not "." or ".."."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name in (".", ".."):
        raise MixunError("validation_failed", ("请填写名称", "A name is required"), field="name")
    if len(name) > 255:
        raise MixunError("validation_failed", ("名称不能超过 255 个字符", "A name may have at most 255 characters"),
                         field="name")
    return name


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


# ---- where an item lives, and who may touch it ---------------------------------------------------------

@dataclass(frozen=True)
class Space:
    owner_id: int | None
    conversation_id: int | None
    role: str = "owner"  # owner (a personal drive) | owner / admin / member (of the group)

    def where(self) -> Any:
        if self.conversation_id is not None:
            return DriveItem.conversation_id == self.conversation_id
        return DriveItem.owner_id == self.owner_id

    def view(self) -> dict[str, Any]:
        return {"owner_id": self.owner_id, "conversation_id": self.conversation_id}


def _space(s: Session, ctx: Ctx, conversation_id: int | None) -> Space:
    if conversation_id is None:
        return Space(ctx.user_id, None)
    conv, member = access_conversation(s, ctx, conversation_id)
    if conv.kind != "group":
        raise MixunError("not_a_group")
    return Space(None, conv.id, member.role)


def _item(s: Session, ctx: Ctx, item_id: int, *, deleted: bool = False) -> tuple[DriveItem, Space]:
    """An item the caller can see: in their own drive, or in the space of a group they belong to now."""
    item = s.get(DriveItem, item_id)
    if item is None or item.removed_at is not None or (item.deleted_at is not None) != deleted:
        raise MixunError("not_found")
    if item.conversation_id is not None:
        space = _space(s, ctx, item.conversation_id)
    elif item.owner_id != ctx.user_id:
        raise MixunError("not_found")
    else:
        space = Space(ctx.user_id, None)
    if not deleted and _in_deleted_folder(s, item):
        raise MixunError("not_found")
    return item, space


def _in_deleted_folder(s: Session, item: DriveItem) -> bool:
    parent_id = item.parent_id
    for _ in range(MAX_DEPTH + 1):
        if parent_id is None:
            return False
        parent = s.get(DriveItem, parent_id)
        if parent is None:
            return False
        if parent.deleted_at is not None or parent.removed_at is not None:
            return True
        parent_id = parent.parent_id
    return False


def _may_change(ctx: Ctx, item: DriveItem, space: Space) -> None:
    """In a group space, what one uploaded or created is one's own to change; the owner and admins may
    tidy anything."""
    if space.conversation_id is not None and item.uploader_id != ctx.user_id and space.role not in ("owner", "admin"):
        raise MixunError("forbidden", ("只有上传者、群主或群管理员可以修改该文件", "Only its uploader, the group owner or an admin may change this"))


def _folder(s: Session, space: Space, folder_id: int | None) -> DriveItem | None:
    if folder_id is None:
        return None
    folder = s.get(DriveItem, folder_id)
    if (folder is None or folder.kind != "folder" or folder.deleted_at is not None or folder.removed_at is not None
            or folder.owner_id != space.owner_id or folder.conversation_id != space.conversation_id):
        raise MixunError("not_found", ("目标文件夹不存在", "The folder does not exist"), field="parent_id")
    return folder


def _path(s: Session, item: DriveItem | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while item is not None and len(out) <= MAX_DEPTH:
        out.append({"id": item.id, "name": item.name})
        item = s.get(DriveItem, item.parent_id) if item.parent_id else None
    return list(reversed(out))


def _unique_name(s: Session, space: Space, parent_id: int | None, name: str, exclude: int | None = None) -> str:
    """The name, or "name (2).ext" when the folder already holds it (ignoring case)."""
    taken = {n.lower() for n in s.execute(select(DriveItem.name).where(
        space.where(), DriveItem.parent_id.is_(None) if parent_id is None else DriveItem.parent_id == parent_id,
        DriveItem.deleted_at.is_(None), DriveItem.removed_at.is_(None),
        *([DriveItem.id != exclude] if exclude else []))).scalars()}
    if name.lower() not in taken:
        return name
    stem, dot, ext = name.rpartition(".") if "." in name.strip(".") else (name, "", "")
    for n in range(2, 10_000):
        candidate = f"{stem} ({n}){dot}{ext}"
        if candidate.lower() not in taken:
            return candidate[:255]
    raise MixunError("conflict", ("同名文件过多", "Too many items with this name"))


def _names(s: Session, ids: set[int]) -> dict[int, str]:
    return user_store.list_names(s, ids)


def item_view(item: DriveItem, names: dict[int, str] | None = None) -> dict[str, Any]:
    v: dict[str, Any] = {
        "id": item.id, "source": "drive", "kind": item.kind, "name": item.name, "parent_id": item.parent_id,
        "conversation_id": item.conversation_id, "size": item.size, "mime": item.mime, "sha256": item.sha256,
        "scan_status": item.scan_status if item.kind == "file" else None, "uploader_id": item.uploader_id,
        "uploader_name": (names or {}).get(item.uploader_id, ""), "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(), "last_opened_at": item.last_opened_at.isoformat(),
        "flagged_unused": item.flagged_at is not None,
        "deleted_at": item.deleted_at.isoformat() if item.deleted_at else None,
    }
    if item.handed_from is not None:
        v["handed_from"] = item.handed_from
        v["handed_from_name"] = (names or {}).get(item.handed_from, "")
    return v


# ---- listing and search ----------------------------------------------------------------------------------

def list_items(ctx: Ctx, parent_id: int | None = None, conversation_id: int | None = None,
               q: str | None = None) -> dict[str, Any]:
    """One folder of a drive or group space (the root when ``parent_id`` is none), or, with ``q``, every
    item whose name contains it. A group's root also lists the files sent in its chat that the caller's
    history shows (a file is as visible as its message)."""
    q = (q or "").strip()[:100]
    with ctx.rt.db.read() as s:
        space = _space(s, ctx, conversation_id)
        folder = _folder(s, space, parent_id)
        stmt = select(DriveItem).where(space.where(), DriveItem.deleted_at.is_(None), DriveItem.removed_at.is_(None))
        if q:
            stmt = stmt.where(func.lower(DriveItem.name).contains(q.lower(), autoescape=True))
        else:
            stmt = stmt.where(DriveItem.parent_id.is_(None) if parent_id is None else DriveItem.parent_id == parent_id)
        items = list(s.execute(stmt.order_by(DriveItem.kind.desc(), DriveItem.name).limit(2000)).scalars())
        if q:  # a search skips what lies inside a folder in the recycle bin
            items = _outside_deleted_folders(s, space, items)
        sent: list[dict[str, Any]] = []
        if space.conversation_id is not None and (q or parent_id is None):
            sent = _sent_files(s, ctx, space.conversation_id, q)
        names = _names(s, {i.uploader_id for i in items} | {i.handed_from for i in items if i.handed_from}
                       | {f["uploader_id"] for f in sent})
        for f in sent:
            f["uploader_name"] = names.get(f["uploader_id"], "")
        out: dict[str, Any] = {"space": space.view(), "parent_id": parent_id, "path": _path(s, folder),
                               "items": [item_view(i, names) for i in items], "sent_files": sent}
        if conversation_id is None:
            out["usage"] = _usage(s, ctx.rt, ctx.user_id)
        else:
            out["role"] = space.role
        return out


def _outside_deleted_folders(s: Session, space: Space, items: list[DriveItem]) -> list[DriveItem]:
    folders = {fid: (parent, deleted is not None or removed is not None) for fid, parent, deleted, removed in s.execute(
        select(DriveItem.id, DriveItem.parent_id, DriveItem.deleted_at, DriveItem.removed_at)
        .where(space.where(), DriveItem.kind == "folder")).all()}

    def hidden(parent: int | None) -> bool:
        for _ in range(MAX_DEPTH + 1):
            if parent is None or parent not in folders:
                return False
            parent, gone = folders[parent]
            if gone:
                return True
        return False

    return [i for i in items if not hidden(i.parent_id)]


def _sent_files(s: Session, ctx: Ctx, conversation_id: int, q: str) -> list[dict[str, Any]]:
    member = conversation_store.find_member(s, conversation_id, ctx.user_id)
    assert member is not None  # the caller checked access
    stmt = (select(Attachment, Message.sender_id).join(Message, Message.id == Attachment.message_id)
            .where(Attachment.conversation_id == conversation_id, Attachment.kind.in_(MESSAGE_FILE_KINDS),
                   Message.seq > member.joined_seq, Message.recalled_at.is_(None),
                   or_(Message.dlp_action.is_(None), Message.dlp_action != "hold", Message.sender_id == ctx.user_id)))
    if q:
        stmt = stmt.where(func.lower(Attachment.filename).contains(q.lower(), autoescape=True))
    rows = s.execute(stmt.order_by(Attachment.id.desc()).limit(500)).all()
    return [{"id": a.id, "source": "message", "kind": "file", "name": a.filename, "size": a.size, "mime": a.mime,
             "scan_status": a.scan_status, "uploader_id": sender, "message_id": a.message_id,
             "created_at": a.created_at.isoformat()} for a, sender in rows]


# ---- folders, rename, move, delete -------------------------------------------------------------------

def create_folder(ctx: Ctx, name: str, parent_id: int | None = None, conversation_id: int | None = None) -> dict[str, Any]:
    name = clean_name(name)
    with ctx.rt.db.write() as s:
        space = _space(s, ctx, conversation_id)
        parent = _folder(s, space, parent_id)
        if len(_path(s, parent)) >= MAX_DEPTH:
            raise MixunError("validation_failed", ("文件夹层级过深", "Folders are nested too deep"), field="parent_id")
        now = _now()
        item = DriveItem(owner_id=space.owner_id, conversation_id=space.conversation_id, parent_id=parent_id,
                         kind="folder", name=_unique_name(s, space, parent_id, name), uploader_id=ctx.user_id,
                         created_at=now, updated_at=now, last_opened_at=now)
        s.add(item)
        s.flush()
        if space.conversation_id is not None:
            audit.record(s, ctx, AuditAction.DRIVE_FOLDER_CREATED, target=f"drive_item:{item.id}",
                         conversation_id=space.conversation_id, name=item.name)
            _space_changed(s, ctx, space.conversation_id)
        return item_view(item, _names(s, {ctx.user_id}))


def rename(ctx: Ctx, item_id: int, name: str) -> dict[str, Any]:
    name = clean_name(name)
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id)
        _may_change(ctx, item, space)
        if item.kind == "file":
            _refuse_blocked_type(s, name)
        old = item.name
        item.name = _unique_name(s, space, item.parent_id, name, exclude=item.id)
        item.updated_at = _now()
        audit.record(s, ctx, AuditAction.DRIVE_RENAMED, target=f"drive_item:{item.id}", old=old[:120], new=item.name[:120],
                     **({"conversation_id": space.conversation_id} if space.conversation_id else {}))  # type: ignore[arg-type]
        _space_changed(s, ctx, space.conversation_id)
        return item_view(item, _names(s, {item.uploader_id}))


def move(ctx: Ctx, item_id: int, parent_id: int | None) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id)
        _may_change(ctx, item, space)
        target = _folder(s, space, parent_id)
        if target is not None and any(p["id"] == item.id for p in _path(s, target)):
            raise MixunError("validation_failed", ("不能把文件夹移到它自己里面", "A folder cannot go inside itself"),
                             field="parent_id")
        if target is not None and item.kind == "folder" and len(_path(s, target)) + _depth_below(s, item) >= MAX_DEPTH:
            raise MixunError("validation_failed", ("文件夹层级过深", "Folders are nested too deep"), field="parent_id")
        item.parent_id = parent_id
        item.name = _unique_name(s, space, parent_id, item.name, exclude=item.id)
        item.updated_at = _now()
        audit.record(s, ctx, AuditAction.DRIVE_MOVED, target=f"drive_item:{item.id}", parent_id=parent_id,
                     **({"conversation_id": space.conversation_id} if space.conversation_id else {}))  # type: ignore[arg-type]
        _space_changed(s, ctx, space.conversation_id)
        return item_view(item, _names(s, {item.uploader_id}))


def _space_changed(s: Session, ctx: Ctx, conversation_id: int | None) -> None:
    """Tell the group's members their file space changed (open 群文件 panels reload)."""
    if conversation_id is None:
        return
    members = conversation_store.list_member_ids(s, conversation_id)
    events.emit(s, ctx, members, EventType.DRIVE_SPACE_CHANGED, {"conversation_id": conversation_id})


def _descendants(s: Session, root: DriveItem) -> list[DriveItem]:
    out: list[DriveItem] = []
    frontier = [root.id]
    while frontier:
        children = list(s.execute(select(DriveItem).where(DriveItem.parent_id.in_(frontier))).scalars())
        out.extend(children)
        frontier = [c.id for c in children if c.kind == "folder"]
    return out


def _depth_below(s: Session, folder: DriveItem) -> int:
    depth, frontier = 0, [folder.id]
    while frontier and depth <= MAX_DEPTH:
        frontier = list(s.execute(select(DriveItem.id).where(DriveItem.parent_id.in_(frontier),
                                                             DriveItem.kind == "folder")).scalars())
        depth += 1
    return depth


def delete_item(ctx: Ctx, item_id: int) -> dict[str, Any]:
    """To the recycle bin (a personal drive: restorable for ``trash_days``, then destroyed). In a group
    space the item leaves the members' view; its bytes stay for the archive."""
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id)
        _may_change(ctx, item, space)
        now = _now()
        item.deleted_at = now
        item.updated_at = now
        audit.record(s, ctx, AuditAction.DRIVE_DELETED, target=f"drive_item:{item.id}", name=item.name[:120], kind=item.kind,
                     **({"conversation_id": space.conversation_id} if space.conversation_id else {}))  # type: ignore[arg-type]
        _space_changed(s, ctx, space.conversation_id)
        view = item_view(item)
        view["purge_at"] = (now + timedelta(days=trash_days(ctx.rt))).isoformat() if space.conversation_id is None else None
        return view


def trash(ctx: Ctx) -> dict[str, Any]:
    days = trash_days(ctx.rt)
    with ctx.rt.db.read() as s:
        items = list(s.execute(select(DriveItem).where(DriveItem.owner_id == ctx.user_id, DriveItem.deleted_at.is_not(None),
                                                       DriveItem.removed_at.is_(None))
                               .order_by(DriveItem.deleted_at.desc())).scalars())
        out = []
        for i in items:
            v = item_view(i)
            v["purge_at"] = (i.deleted_at + timedelta(days=days)).isoformat() if i.deleted_at else None
            out.append(v)
        return {"items": out, "days": days}


def restore(ctx: Ctx, item_id: int) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id, deleted=True)
        if space.conversation_id is not None:
            raise MixunError("not_found")
        parent = s.get(DriveItem, item.parent_id) if item.parent_id else None
        if parent is None or parent.deleted_at is not None or parent.removed_at is not None:
            item.parent_id = None  # its folder is gone: back to the root
        item.deleted_at = None
        item.name = _unique_name(s, space, item.parent_id, item.name, exclude=item.id)
        item.updated_at = _now()
        audit.record(s, ctx, AuditAction.DRIVE_RESTORED, target=f"drive_item:{item.id}")
        return item_view(item)


def purge(ctx: Ctx, item_id: int) -> None:
    """彻底删除 from the recycle bin now."""
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id, deleted=True)
        if space.conversation_id is not None:
            raise MixunError("not_found")
        keys = _destroy(s, item)
        audit.record(s, ctx, AuditAction.DRIVE_DESTROYED, target=f"drive_item:{item_id}", name=item.name[:120], files=len(keys))
    _unlink(ctx.rt, keys)


def _destroy(s: Session, item: DriveItem) -> list[str]:
    """Delete an item and everything under it (rows and wrapped keys); the blob keys to unlink after commit."""
    doomed = [item, *_descendants(s, item)]
    keys = [d.blob_key for d in doomed if d.blob_key]
    ids = [d.id for d in doomed]
    s.execute(delete(DriveReport).where(DriveReport.item_id.in_(ids), DriveReport.status == "open"))
    s.execute(delete(DriveItem).where(DriveItem.id.in_(ids)))
    return keys


def _unlink(rt: Runtime, keys: list[str]) -> None:
    for key in keys:
        blob_path(rt, key).unlink(missing_ok=True)


def purge_expired(rt: Runtime) -> int:
    """Destroy personal items that have been in the recycle bin longer than ``trash_days``."""
    cutoff = _now() - timedelta(days=trash_days(rt))
    ctx = Ctx(rt=rt, ip="", client="mixun drive")
    with rt.db.read() as s:
        ids = list(s.execute(select(DriveItem.id).where(DriveItem.owner_id.is_not(None), DriveItem.deleted_at.is_not(None),
                                                        DriveItem.deleted_at < cutoff).limit(500)).scalars())
    done = 0
    for item_id in ids:
        with rt.db.write() as s:
            item = s.get(DriveItem, item_id)
            if item is None or item.deleted_at is None:
                continue
            keys = _destroy(s, item)
            audit.record(s, ctx, AuditAction.DRIVE_DESTROYED, target=f"drive_item:{item_id}", name=item.name[:120],
                         files=len(keys), owner_id=item.owner_id, reason="recycle_bin_expired")
        _unlink(rt, keys)
        done += 1
    return done


# ---- quota -------------------------------------------------------------------------------------------

def quota_for(s: Session, rt: Runtime, user_id: int) -> tuple[int, str]:
    """(bytes, where it comes from): the person's own quota, else the nearest unit's, else the default."""
    own = s.execute(select(DriveQuota.quota_bytes).where(DriveQuota.user_id == user_id)).scalar()
    if own is not None:
        return own, "user"
    path = s.execute(select(Unit.path).join(User, User.unit_id == Unit.id).where(User.id == user_id)).scalar()
    if path:
        prefixes = ["/".join(path.split("/")[:n]) for n in range(len(path.split("/")), 0, -1)]
        rows = dict(s.execute(select(Unit.path, DriveQuota.quota_bytes).join(DriveQuota, DriveQuota.unit_id == Unit.id)
                              .where(Unit.path.in_(prefixes))).all())
        for p in prefixes:
            if p in rows:
                return rows[p], "unit"
    return default_quota(rt), "default"


def _used(s: Session, user_id: int) -> int:
    stored = s.execute(select(func.coalesce(func.sum(DriveItem.size), 0)).where(
        DriveItem.owner_id == user_id, DriveItem.kind == "file", DriveItem.removed_at.is_(None))).scalar_one()
    return int(stored)


def _reserved(s: Session, user_id: int, exclude: str | None = None) -> int:
    stmt = select(func.coalesce(func.sum(DriveUpload.size), 0)).where(DriveUpload.owner_id == user_id)
    if exclude:
        stmt = stmt.where(DriveUpload.id != exclude)
    return int(s.execute(stmt).scalar_one())


def _usage(s: Session, rt: Runtime, user_id: int) -> dict[str, Any]:
    quota, source = quota_for(s, rt, user_id)
    return {"used": _used(s, user_id), "reserved": _reserved(s, user_id), "quota": quota, "quota_source": source,
            "file_limit": file_limit(rt), "chunk_size": CHUNK}


def usage(ctx: Ctx) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        return _usage(s, ctx.rt, ctx.user_id)


def set_quota(ctx: Ctx, quota_bytes: int, user_id: int | None = None, unit_id: int | None = None) -> dict[str, Any]:
    if (user_id is None) == (unit_id is None):
        raise MixunError("validation_failed", ("请指定一个人员或一个单位", "Name one person or one unit"), field="user_id")
    with ctx.rt.db.write() as s:
        if user_id is not None:
            user = s.get(User, user_id)
            if user is None:
                raise MixunError("not_found", field="user_id")
            row = s.execute(select(DriveQuota).where(DriveQuota.user_id == user_id)).scalar_one_or_none()
        else:
            if s.get(Unit, unit_id) is None:
                raise MixunError("not_found", field="unit_id")
            row = s.execute(select(DriveQuota).where(DriveQuota.unit_id == unit_id)).scalar_one_or_none()
        old = row.quota_bytes if row else None
        if row is None:
            row = DriveQuota(user_id=user_id, unit_id=unit_id, quota_bytes=quota_bytes, set_by=ctx.user_id, set_at=_now())
            s.add(row)
        else:
            row.quota_bytes, row.set_by, row.set_at = quota_bytes, ctx.user_id, _now()
        s.flush()
        audit.record(s, ctx, AuditAction.DRIVE_QUOTA_SET, target=f"user:{user_id}" if user_id else f"unit:{unit_id}",
                     quota_bytes=quota_bytes, previous=old)
        return _quota_view(s, row)


def clear_quota(ctx: Ctx, quota_id: int) -> None:
    with ctx.rt.db.write() as s:
        row = s.get(DriveQuota, quota_id)
        if row is None:
            raise MixunError("not_found")
        audit.record(s, ctx, AuditAction.DRIVE_QUOTA_CLEARED, target=f"user:{row.user_id}" if row.user_id else f"unit:{row.unit_id}",
                     previous=row.quota_bytes)
        s.delete(row)


def _quota_view(s: Session, row: DriveQuota) -> dict[str, Any]:
    v: dict[str, Any] = {"id": row.id, "user_id": row.user_id, "unit_id": row.unit_id, "quota_bytes": row.quota_bytes,
                         "set_at": row.set_at.isoformat()}
    if row.user_id is not None:
        user = s.get(User, row.user_id)
        v["name"] = user.name if user else ""
        v["used"] = _used(s, row.user_id)
    else:
        v["name"] = s.execute(select(Unit.path).where(Unit.id == row.unit_id)).scalar() or ""
    return v


def list_quotas(ctx: Ctx) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        rows = list(s.execute(select(DriveQuota).order_by(DriveQuota.id)).scalars())
        return {"default_quota": default_quota(ctx.rt), "file_limit": file_limit(ctx.rt),
                "quotas": [_quota_view(s, r) for r in rows]}


# ---- non-work types ----------------------------------------------------------------------------------

def _blocked(s: Session) -> dict[str, str]:
    return dict(s.execute(select(DriveBlockedType.extension, DriveBlockedType.label)).all())


def _refuse_blocked_type(s: Session, name: str, sniffed: str | None = None) -> None:
    blocked = _blocked(s)
    for ext in (_extension(name), sniffed):
        if ext and ext in blocked:
            raise MixunError("drive_type_not_allowed", extension=ext, label=blocked[ext])


def sniff(head: bytes) -> str | None:
    for offset, magic, ext in _MAGIC:
        if head[offset: offset + len(magic)] == magic:
            return ext
    return None


def blocked_types(ctx: Ctx) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        rows = s.execute(select(DriveBlockedType).order_by(DriveBlockedType.extension)).scalars()
        return {"types": [{"extension": r.extension, "label": r.label, "added_at": r.added_at.isoformat()} for r in rows]}


def add_blocked_type(ctx: Ctx, extension: str, label: str) -> dict[str, Any]:
    ext = extension.strip().lstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9]{1,16}", ext):
        raise MixunError("validation_failed", ("扩展名只能包含字母和数字，最多 16 位", "An extension is 1–16 letters or digits"),
                         field="extension")
    with ctx.rt.db.write() as s:
        row = s.get(DriveBlockedType, ext)
        if row is None:
            s.add(DriveBlockedType(extension=ext, label=label.strip()[:100], added_by=ctx.user_id, added_at=_now()))
        else:
            row.label = label.strip()[:100]
        audit.record(s, ctx, AuditAction.DRIVE_TYPE_BLOCKED, target=f"drive_type:{ext}", label=label.strip()[:100])
    return blocked_types(ctx)


def remove_blocked_type(ctx: Ctx, extension: str) -> dict[str, Any]:
    ext = extension.strip().lstrip(".").lower()
    with ctx.rt.db.write() as s:
        row = s.get(DriveBlockedType, ext)
        if row is None:
            raise MixunError("not_found")
        s.delete(row)
        audit.record(s, ctx, AuditAction.DRIVE_TYPE_ALLOWED, target=f"drive_type:{ext}")
    return blocked_types(ctx)


# ---- chunked uploads ---------------------------------------------------------------------------------

def start_upload(ctx: Ctx, name: str, size: int, parent_id: int | None = None, conversation_id: int | None = None,
                 sha256: str | None = None) -> dict[str, Any]:
    """Check everything that can be known before the bytes (name, type, per-file limit, quota) and open
    an upload. Nothing is stored for a file that could not be kept."""
    name = clean_name(name)
    if sha256 is not None and not _HEX64.fullmatch(sha256.lower()):
        raise MixunError("validation_failed", ("sha256 须为 64 位十六进制", "sha256 must be 64 hex digits"), field="sha256")
    if size <= 0:
        raise MixunError("unsupported_media", ("文件为空", "The file is empty"), reason="empty_file")
    limit = file_limit(ctx.rt)
    if conversation_id is not None:  # a group's file is a file sent to the group: the send limit holds
        limit = min(limit, ctx.rt.settings.max_file_bytes)
    if size > limit:
        raise MixunError("file_too_large", limit=limit)
    upload_id = secrets.token_hex(16)
    dek, wrapped = ctx.rt.keys.new_data_key()
    with ctx.rt.db.write() as s:
        space = _space(s, ctx, conversation_id)
        _folder(s, space, parent_id)
        _refuse_blocked_type(s, name)
        if space.owner_id is not None:
            # Locked for the check: two uploads at once cannot both pass on the same free space.
            s.execute(select(User.id).where(User.id == ctx.user_id).with_for_update())
            quota, _src = quota_for(s, ctx.rt, ctx.user_id)
            used = _used(s, ctx.user_id) + _reserved(s, ctx.user_id)
            if used + size > quota:
                raise MixunError("drive_quota_exceeded", quota=quota, used=used, size=size)
        s.add(DriveUpload(id=upload_id, user_id=ctx.user_id, owner_id=space.owner_id, conversation_id=space.conversation_id,
                          parent_id=parent_id, name=name, size=size, chunk_size=CHUNK, sha256=(sha256 or "").lower(),
                          data_key_wrapped=wrapped, created_at=_now()))
    _upload_dir(ctx.rt, upload_id).mkdir(parents=True, exist_ok=True)
    del dek
    return {"id": upload_id, "name": name, "size": size, "chunk_size": CHUNK, "chunks": -(-size // CHUNK), "received": []}


def _upload(s: Session, ctx: Ctx, upload_id: str) -> DriveUpload:
    up = s.get(DriveUpload, upload_id) if re.fullmatch(r"[0-9a-f]{32}", upload_id) else None
    if up is None or up.user_id != ctx.user_id:
        raise MixunError("not_found")
    return up


def _received(rt: Runtime, upload_id: str) -> list[int]:
    d = _upload_dir(rt, upload_id)
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def upload_status(ctx: Ctx, upload_id: str) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        up = _upload(s, ctx, upload_id)
        return {"id": up.id, "name": up.name, "size": up.size, "chunk_size": up.chunk_size,
                "chunks": -(-up.size // up.chunk_size), "received": _received(ctx.rt, up.id),
                "conversation_id": up.conversation_id, "parent_id": up.parent_id}


def put_chunk(ctx: Ctx, upload_id: str, index: int, data: bytes, sha256: str | None) -> dict[str, Any]:
    """One chunk: its length must be what its place says and its SHA-256 what the client computed; it is
    sealed as the file's own segments at once. Sending a chunk again replaces it (a resumed upload)."""
    with ctx.rt.db.read() as s:
        up = _upload(s, ctx, upload_id)
        s.expunge(up)
    chunks = -(-up.size // up.chunk_size)
    if index >= chunks:
        raise MixunError("validation_failed", ("分片序号超出范围", "The chunk index is out of range"), field="index",
                         chunks=chunks)
    expected = up.chunk_size if index < chunks - 1 else up.size - up.chunk_size * (chunks - 1)
    if len(data) != expected:
        raise MixunError("chunk_mismatch", ("分片长度不正确", "The chunk has the wrong length"), expected=expected, got=len(data))
    if not sha256 or hashlib.sha256(data).hexdigest() != sha256.strip().lower():
        raise MixunError("chunk_mismatch", ("分片校验失败，请重新上传该分片", "The chunk failed its checksum; send it again"),
                         index=index)
    dek = ctx.rt.keys.unwrap(up.data_key_wrapped)
    sealed = seal_chunk(dek, data, index * (up.chunk_size // SEGMENT), segment_count(up.size))
    d = _upload_dir(ctx.rt, up.id)
    if not d.exists():  # the upload was completed or abandoned meanwhile
        raise MixunError("not_found")
    tmp = d / f"{index}.tmp-{secrets.token_hex(4)}"
    try:
        tmp.write_bytes(sealed)
        tmp.replace(d / str(index))
    except FileNotFoundError:
        raise MixunError("not_found") from None
    return {"index": index, "received": len(_received(ctx.rt, up.id)), "chunks": chunks}


def cancel_upload(ctx: Ctx, upload_id: str) -> None:
    with ctx.rt.db.write() as s:
        up = _upload(s, ctx, upload_id)
        s.delete(up)
    shutil.rmtree(_upload_dir(ctx.rt, upload_id), ignore_errors=True)


def complete_upload(ctx: Ctx, upload_id: str, confirm: bool = False) -> dict[str, Any]:
    """All chunks in: join them into the file's blob, stream it through the checks, then keep it."""
    with ctx.rt.db.read() as s:
        up = _upload(s, ctx, upload_id)
        s.expunge(up)
    chunks = -(-up.size // up.chunk_size)
    received = _received(ctx.rt, up.id)
    missing = sorted(set(range(chunks)) - set(received))
    if missing:
        raise MixunError("upload_incomplete", missing=missing[:100], received=len(received), chunks=chunks)
    key = secrets.token_hex(16)
    blob = blob_path(ctx.rt, key)
    blob.parent.mkdir(parents=True, exist_ok=True)
    d = _upload_dir(ctx.rt, up.id)
    tmp = blob.with_suffix(".tmp")
    try:
        with tmp.open("wb") as out:
            for i in range(chunks):
                with (d / str(i)).open("rb") as part:
                    shutil.copyfileobj(part, out, 1024 * 1024)
    except FileNotFoundError:  # completed or abandoned meanwhile by another request
        tmp.unlink(missing_ok=True)
        raise MixunError("not_found") from None
    try:
        tmp.replace(blob)
        item = _check_and_keep(ctx, up, key, confirm)
    except MixunError as exc:
        tmp.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        if exc.code in FINAL_REFUSALS:  # it can never be kept: the upload (and its reserved space) goes
            with ctx.rt.db.write() as s:
                s.execute(delete(DriveUpload).where(DriveUpload.id == up.id))
            shutil.rmtree(d, ignore_errors=True)
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise
    shutil.rmtree(d, ignore_errors=True)
    return item


def _stream_checks(ctx: Ctx, up: DriveUpload, reader: SegmentReader) -> tuple[str, ScanResult, bytes]:
    """(sha256, clamd's result, the first bytes) from one pass over the stored file."""
    from mixun.services.attachments import antivirus

    digest = hashlib.sha256()
    head = bytearray()

    def pieces() -> Iterator[bytes]:
        for piece in reader.iter_range():
            digest.update(piece)
            if len(head) < 64:
                head.extend(piece[:64])
            yield piece

    result = antivirus(ctx.rt).scanner.scan_stream(pieces())
    if result.status == "unavailable":  # clamd is away: still read it through for the checksum
        for _ in pieces():
            pass
    return digest.hexdigest(), result, bytes(head)


def _check_and_keep(ctx: Ctx, up: DriveUpload, key: str, confirm: bool) -> dict[str, Any]:
    from mixun.services.attachments import FILE_MIMES

    dek = ctx.rt.keys.unwrap(up.data_key_wrapped)
    reader = SegmentReader(blob_path(ctx.rt, key), dek, up.size)
    target = f"conversation:{up.conversation_id}" if up.conversation_id else f"drive:{up.user_id}"
    digest, result, head = _stream_checks(ctx, up, reader)
    if up.sha256 and digest != up.sha256:
        raise MixunError("chunk_mismatch", ("文件校验失败，请重新上传", "The file failed its checksum; upload it again"))
    with ctx.rt.db.read() as s:
        _refuse_blocked_type(s, up.name, sniff(head))
    scan = _scan_state(ctx, result, target, up.name)
    mime = "application/octet-stream"
    outcome = None
    if up.conversation_id is not None:
        # A group's file is seen by the whole group: the same DLP as a file sent there (it is at most
        # the send limit, so it is read whole, as a sent file is).
        from mixun.services.dlp import service as dlp_service

        data = b"".join(reader.iter_range())
        doc, outcome = dlp_service(ctx).check_file(ctx, data, up.name, confirm, lambda: sender_unit_path(ctx), target)
        if outcome.action == "hold":
            raise MixunError("dlp_blocked", ("该文件须经审核，不能放入群文件，请在聊天中发送",
                                             "This file needs review: send it in the chat instead of the group space"),
                             reason="hold")
        mime = FILE_MIMES.get(doc.kind, mime) if doc.kind is not None else mime
    now = _now()
    with ctx.rt.db.write() as s:
        live = s.get(DriveUpload, up.id)
        if live is None:
            raise MixunError("not_found")
        space = _space(s, ctx, up.conversation_id)
        parent_id = up.parent_id
        try:
            _folder(s, space, parent_id)
        except MixunError:
            parent_id = None  # its folder went meanwhile: the file lands in the root
        item = DriveItem(owner_id=up.owner_id, conversation_id=up.conversation_id, parent_id=parent_id, kind="file",
                         name=_unique_name(s, space, parent_id, up.name), size=up.size, mime=mime, sha256=digest,
                         blob_key=key, data_key_wrapped=up.data_key_wrapped, scan_status=scan, uploader_id=ctx.user_id,
                         created_at=now, updated_at=now, last_opened_at=now)
        s.add(item)
        s.delete(live)
        s.flush()
        audit.record(s, ctx, AuditAction.DRIVE_UPLOADED, target=f"drive_item:{item.id}", name=item.name[:120], size=item.size,
                     sha256=digest, scan_status=scan,
                     **({"conversation_id": up.conversation_id} if up.conversation_id else {}))  # type: ignore[arg-type]
        if outcome is not None and outcome.findings:  # a confirmed warning is recorded as a sent file's is
            from mixun.services.dlp import service as dlp_service

            dlp_service(ctx).record_allowed_hits(s, ctx, outcome, target)
        _space_changed(s, ctx, up.conversation_id)
        return item_view(item, _names(s, {ctx.user_id}))


def _scan_state(ctx: Ctx, result: ScanResult, target: str, name: str) -> str:
    if result.status == "clean":
        return "clean"
    if result.status in ("infected", "error"):
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.FILE_INFECTED if result.status == "infected" else AuditAction.FILE_SCAN_FAILED, target=target,
                         outcome="failure", filename=name[:120], signature=result.signature, detail=result.detail)
        if result.status == "infected":
            raise MixunError("malware_detected", signature=result.signature)
        raise MixunError("scan_failed")
    mode = ctx.rt.settings.files_without_scanner
    if mode == "refuse":
        raise MixunError("scanner_unavailable")
    return "pending" if mode == "wait" else "unscanned"


# ---- reading -----------------------------------------------------------------------------------------

@dataclass
class Download:
    chunks: Iterator[bytes]
    size: int
    start: int
    end: int  # exclusive
    name: str
    mime: str
    partial: bool


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` (one range) into [start, end); None for the whole file.
    A range that cannot be met is a 416."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if m is None or (not m.group(1) and not m.group(2)):
        return None  # not a form we serve (multiple ranges...): the whole file, as RFC 9110 allows
    if not m.group(1):
        n = int(m.group(2))
        if n == 0:
            raise MixunError("range_not_satisfiable", size=size)
        return max(size - n, 0), size
    start = int(m.group(1))
    end = int(m.group(2)) + 1 if m.group(2) else size
    if start >= size or end <= start:
        raise MixunError("range_not_satisfiable", size=size)
    return start, min(end, size)


def open_file(ctx: Ctx, item_id: int, range_header: str | None = None) -> Download:
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id)
        if item.kind != "file" or not item.blob_key or item.data_key_wrapped is None:
            raise MixunError("not_found")
        if item.scan_status == "pending":
            raise MixunError("file_not_ready")
        if item.scan_status not in DOWNLOADABLE:
            raise MixunError("file_blocked")
        span = parse_range(range_header, item.size)
        if span is None or span[0] == 0:  # one record per download, not per resumed range
            item.last_opened_at = _now()
            item.flagged_at = None
            audit.record(s, ctx, AuditAction.DRIVE_DOWNLOADED, target=f"drive_item:{item.id}", name=item.name[:120], size=item.size,
                         **({"conversation_id": space.conversation_id} if space.conversation_id else {}))  # type: ignore[arg-type]
        s.flush()
        s.expunge(item)
    start, end = span or (0, item.size)
    reader = item_reader(ctx.rt, item)
    return Download(reader.iter_range(start, end), item.size, start, end, item.name, item.mime or "application/octet-stream",
                    span is not None)


# ---- sharing into a conversation ----------------------------------------------------------------------

def share(ctx: Ctx, item_id: int, conversation_id: int, client_id: str | None = None, confirm: bool = False) -> dict[str, Any]:
    """Send a drive (or group space) file into a conversation: the same DLP (channel ``drive``), virus
    scan and size limit as a file sent from the computer."""
    from mixun.services.attachments import send_file

    with ctx.rt.db.read() as s:
        item, space = _item(s, ctx, item_id)
        if item.kind != "file" or not item.blob_key or item.data_key_wrapped is None:
            raise MixunError("not_found")
        s.expunge(item)
    if item.scan_status == "pending":
        raise MixunError("file_not_ready")
    if item.scan_status not in DOWNLOADABLE:
        raise MixunError("file_blocked")
    if item.size > ctx.rt.settings.max_file_bytes:
        raise MixunError("file_too_large", limit=ctx.rt.settings.max_file_bytes)
    reader = item_reader(ctx.rt, item)
    data = b"".join(reader.iter_range())
    view = send_file(ctx, conversation_id, data, item.name, client_id, confirm, channel="drive")
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.DRIVE_SHARED, target=f"drive_item:{item.id}", conversation_id=conversation_id,
                     message_id=view.get("id"), name=item.name[:120])
        live = s.get(DriveItem, item.id)
        if live is not None:
            live.last_opened_at = _now()
            live.flagged_at = None
    return view


# ---- unused files (item 4) ----------------------------------------------------------------------------

def flag_unused(rt: Runtime) -> int:
    """Flag personal files not opened for ``unused_days`` and remind their owners (one event each)."""
    cutoff = _now() - timedelta(days=unused_days(rt))
    ctx = Ctx(rt=rt, ip="", client="mixun drive")
    with rt.db.write() as s:
        rows = list(s.execute(select(DriveItem.id, DriveItem.owner_id).where(
            DriveItem.owner_id.is_not(None), DriveItem.kind == "file", DriveItem.deleted_at.is_(None),
            DriveItem.removed_at.is_(None), DriveItem.flagged_at.is_(None), DriveItem.last_opened_at < cutoff)
            .limit(5000)).all())
        if not rows:
            return 0
        now = _now()
        s.execute(update(DriveItem).where(DriveItem.id.in_([r[0] for r in rows])).values(flagged_at=now))
        per_owner: dict[int, int] = {}
        for _id, owner in rows:
            if owner is None:
                continue
            per_owner[owner] = per_owner.get(owner, 0) + 1
        events.emit_many(s, ctx, [([owner], EventType.DRIVE_UNUSED, {"count": n, "days": unused_days(rt)})
                                  for owner, n in per_owner.items()])
        audit.record(s, ctx, AuditAction.DRIVE_UNUSED_FLAGGED, target="drive", files=len(rows), owners=len(per_owner))
        return len(rows)


def unused(ctx: Ctx) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        items = list(s.execute(select(DriveItem).where(DriveItem.owner_id == ctx.user_id, DriveItem.flagged_at.is_not(None),
                                                       DriveItem.deleted_at.is_(None), DriveItem.removed_at.is_(None))
                               .order_by(DriveItem.last_opened_at)).scalars())
        return {"items": [item_view(i) for i in items], "days": unused_days(ctx.rt)}


def keep(ctx: Ctx, item_id: int) -> dict[str, Any]:
    """The owner keeps a flagged file: it counts as opened now."""
    with ctx.rt.db.write() as s:
        item, space = _item(s, ctx, item_id)
        if space.conversation_id is not None:
            raise MixunError("not_found")
        item.last_opened_at = _now()
        item.flagged_at = None
        audit.record(s, ctx, AuditAction.DRIVE_KEPT, target=f"drive_item:{item.id}")
        return item_view(item)


# ---- reports (item 5) ---------------------------------------------------------------------------------

def report(ctx: Ctx, item_id: int, reason: str) -> dict[str, Any]:
    reason = reason.strip()
    if len(reason) < 4:
        raise MixunError("validation_failed", ("请写明举报理由（至少 4 个字）", "Give a reason (4 characters or more)"),
                         field="reason")
    with ctx.rt.db.write() as s:
        item, _space_ = _item(s, ctx, item_id)
        if item.kind != "file":
            raise MixunError("validation_failed", ("只能举报文件", "Only files can be reported"), field="item_id")
        dup = s.execute(select(DriveReport.id).where(DriveReport.item_id == item.id, DriveReport.reporter_id == ctx.user_id,
                                                     DriveReport.status == "open")).scalar()
        if dup is not None:
            raise MixunError("conflict", ("您已举报该文件，正在处理中", "You have already reported this file"))
        r = DriveReport(item_id=item.id, reporter_id=ctx.user_id, reason=reason[:500], created_at=_now())
        s.add(r)
        s.flush()
        audit.record(s, ctx, AuditAction.DRIVE_REPORTED, target=f"drive_item:{item.id}", report_id=r.id)
        return {"id": r.id, "item_id": item.id, "status": r.status}


def reports(ctx: Ctx, status: str = "open") -> dict[str, Any]:
    """The reports for secadmin: the file's name, type, size, place and owner, never its content."""
    with ctx.rt.db.read() as s:
        stmt = select(DriveReport, DriveItem).join(DriveItem, DriveItem.id == DriveReport.item_id)
        if status != "all":
            stmt = stmt.where(DriveReport.status == status)
        rows = s.execute(stmt.order_by(DriveReport.id.desc()).limit(500)).all()
        names = _names(s, {r.reporter_id for r, _ in rows} | {i.uploader_id for _, i in rows}
                       | {i.owner_id for _, i in rows if i.owner_id})
        convs = dict(s.execute(select(Conversation.id, Conversation.name).where(
            Conversation.id.in_({i.conversation_id for _, i in rows if i.conversation_id}))).all())
        return {"reports": [{
            "id": r.id, "status": r.status, "reason": r.reason, "created_at": r.created_at.isoformat(),
            "reporter_id": r.reporter_id, "reporter_name": names.get(r.reporter_id, ""),
            "decision_reason": r.decision_reason, "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            "item": {"id": i.id, "name": i.name, "size": i.size, "mime": i.mime, "scan_status": i.scan_status,
                     "owner_id": i.owner_id, "owner_name": names.get(i.owner_id or 0, ""),
                     "uploader_id": i.uploader_id, "uploader_name": names.get(i.uploader_id, ""),
                     "conversation_id": i.conversation_id, "conversation_name": convs.get(i.conversation_id or 0, ""),
                     "removed": i.removed_at is not None}} for r, i in rows]}


def decide_report(ctx: Ctx, report_id: int, action: str, reason: str) -> dict[str, Any]:
    reason = reason.strip()
    if len(reason) < 4:
        raise MixunError("validation_failed", ("请写明处理理由（至少 4 个字）", "Give a reason (4 characters or more)"),
                         field="reason")
    keys: list[str] = []
    with ctx.rt.db.write() as s:
        r = s.get(DriveReport, report_id)
        if r is None:
            raise MixunError("not_found")
        if r.status != "open":
            raise MixunError("review_already_decided")
        item = s.get(DriveItem, r.item_id)
        if item is None:
            raise MixunError("not_found")
        now = _now()
        others = list(s.execute(select(DriveReport).where(DriveReport.item_id == item.id, DriveReport.status == "open")).scalars())
        for o in others:  # removing settles every open report of the file; dismissing only this one
            if action == "remove" or o.id == r.id:
                o.status = "removed" if action == "remove" else "dismissed"
                o.decided_by, o.decided_at, o.decision_reason = ctx.user_id, now, reason[:500]
        if action == "remove":
            item.removed_at = now
            item.removed_reason = reason[:500]
            if item.conversation_id is None and item.blob_key:
                keys = [item.blob_key]  # a personal file is destroyed; a group's stays for the archive
                item.blob_key = None
                item.data_key_wrapped = None
            owner = item.owner_id or item.uploader_id
            audit.record(s, ctx, AuditAction.DRIVE_REMOVED, target=f"drive_item:{item.id}", report_id=r.id, reason=reason[:500],
                         name=item.name[:120], owner_id=owner,
                         **({"conversation_id": item.conversation_id} if item.conversation_id else {}))  # type: ignore[arg-type]
            events.emit(s, ctx, [owner], EventType.DRIVE_REMOVED, {"item_id": item.id, "name": item.name, "reason": reason[:500]})
        else:
            audit.record(s, ctx, AuditAction.DRIVE_REPORT_DISMISSED, target=f"drive_item:{item.id}", report_id=r.id, reason=reason[:500])
        out = {"id": r.id, "status": r.status, "item_id": item.id}
    _unlink(ctx.rt, keys)
    return out


def removed_notices(ctx: Ctx) -> dict[str, Any]:
    """What secadmin removed from the caller's drive or uploads, and why (the owner is told)."""
    with ctx.rt.db.read() as s:
        items = s.execute(select(DriveItem).where(DriveItem.removed_at.is_not(None), or_(
            DriveItem.owner_id == ctx.user_id, (DriveItem.uploader_id == ctx.user_id) & DriveItem.conversation_id.is_not(None)))
            .order_by(DriveItem.removed_at.desc()).limit(200)).scalars()
        return {"items": [{"id": i.id, "name": i.name, "removed_at": i.removed_at.isoformat() if i.removed_at else None,
                           "reason": i.removed_reason, "conversation_id": i.conversation_id} for i in items]}


# ---- housekeeping -------------------------------------------------------------------------------------

def drop_stale_uploads(rt: Runtime) -> int:
    cutoff = _now() - STALE_UPLOAD
    with rt.db.write() as s:
        ids = list(s.execute(select(DriveUpload.id).where(DriveUpload.created_at < cutoff)).scalars())
        if ids:
            s.execute(delete(DriveUpload).where(DriveUpload.id.in_(ids)))
    for upload_id in ids:
        shutil.rmtree(_upload_dir(rt, upload_id), ignore_errors=True)
    return len(ids)


def rescan_pending(rt: Runtime, limit: int = 5) -> int:
    """Drive files that arrived while clamd was away are scanned once it is back."""
    from mixun.services.attachments import antivirus

    av = antivirus(rt)
    with rt.db.read() as s:
        waiting = list(s.execute(select(DriveItem).where(DriveItem.scan_status == "pending", DriveItem.kind == "file")
                                 .order_by(DriveItem.id).limit(limit)).scalars())
        for w in waiting:
            s.expunge(w)
    if not waiting or not av.available():
        return 0
    ctx = Ctx(rt=rt, ip="", client="mixun antivirus")
    done = 0
    for item in waiting:
        if not item.blob_key or item.data_key_wrapped is None:
            continue
        reader = item_reader(rt, item)
        try:
            result = av.scanner.scan_stream(reader.iter_range())
        except (OSError, ValueError) as exc:
            result = ScanResult("error", detail=type(exc).__name__)
        if result.status == "unavailable":
            break
        status = {"clean": "clean", "infected": "infected"}.get(result.status, "failed")
        with rt.db.write() as s:
            s.execute(update(DriveItem).where(DriveItem.id == item.id, DriveItem.scan_status == "pending")
                      .values(scan_status=status))
            if status != "clean":
                audit.record(s, ctx, AuditAction.FILE_INFECTED if status == "infected" else AuditAction.FILE_SCAN_FAILED,
                             target=f"drive_item:{item.id}", outcome="failure", filename=item.name[:120],
                             signature=result.signature, detail=result.detail)
        done += 1
    return done


def housekeeping(rt: Runtime, force: bool = False) -> None:
    """Every ``HOUSEKEEPING_SECONDS`` (the app's sweep calls it often): the recycle bin, stale uploads,
    unused-file reminders; waiting scans every time."""
    import time

    rescan_pending(rt)
    last = rt.drive_housekeeping
    if not force and time.monotonic() - last < HOUSEKEEPING_SECONDS:
        return
    rt.drive_housekeeping = time.monotonic()
    purge_expired(rt)
    drop_stale_uploads(rt)
    flag_unused(rt)
