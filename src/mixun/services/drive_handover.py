"""On departure a person's drive goes, whole, to their manager or to a person HR names (issue 20 item 6).

Kept apart from services/drive.py so that the departure (services/users.py) can call it inside its own
transaction without importing the conversation and attachment services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mixun.db.models import User
from mixun.db.models_drive import DriveItem
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.roles import is_administrator
from mixun.errors import MixunError
from mixun.services import audit, events
from mixun.services.runtime import Ctx
from mixun.storage.units import unit_path


def manager_of(s: Session, user: User) -> int | None:
    """The head of the person's unit (an active account holding unit_head in the same unit)."""
    if user.unit_id is None:
        return None
    rows = s.execute(select(User.id, User.roles).where(User.unit_id == user.unit_id, User.id != user.id,
                                                       User.disabled.is_(False)).order_by(User.id)).all()
    return next((uid for uid, roles in rows if "unit_head" in (roles or [])), None)


def hand_over_txn(s: Session, ctx: Ctx, user: User, to_user_id: int | None = None) -> dict[str, Any]:
    """Everything in ``user``'s drive (folders, files, the recycle bin) moves into one folder of the
    recipient's drive, unchanged: the same files under the same keys; nothing is copied or dropped. A
    drive already handed to someone (the manager, at departure) is handed on whole when HR names another
    person. Without a recipient the drive stays where it is and the audit says so."""
    recipient_id = to_user_id if to_user_id is not None else manager_of(s, user)
    items = list(s.execute(select(DriveItem).where(or_(DriveItem.owner_id == user.id, DriveItem.handed_from == user.id),
                                                   DriveItem.conversation_id.is_(None))).scalars())
    files = [i for i in items if i.kind == "file" and i.removed_at is None]
    size = sum(i.size for i in files)
    if recipient_id is None:
        audit.record(s, ctx, AuditAction.DRIVE_HANDOVER_PENDING, target=f"user:{user.id}", files=len(files), bytes=size)
        return {"handed_to": None, "files": len(files), "bytes": size}
    recipient = s.get(User, recipient_id)
    if (recipient is None or recipient.disabled or recipient.id == user.id
            or is_administrator(recipient.roles or [])):
        # Administrators' accounts have no drive (docs/separation-of-duties.md): never a recipient.
        raise MixunError("validation_failed", ("交接人须为在职员工", "The recipient must be an active colleague"),
                         field="to_user_id")
    now = datetime.now(UTC)
    root = next((i for i in items if i.kind == "folder" and i.handed_from == user.id and i.parent_id is None
                 and i.owner_id != user.id), None)
    if root is None:
        root = DriveItem(owner_id=recipient.id, kind="folder", name=f"{user.name}的网盘（交接）"[:255],
                         uploader_id=user.id, created_at=now, updated_at=now, last_opened_at=now, handed_from=user.id)
        s.add(root)
        s.flush()
    previous = root.owner_id
    root.owner_id = recipient.id
    for i in items:
        if i.id == root.id:
            continue
        if i.parent_id is None:
            i.parent_id = root.id
        i.owner_id = recipient.id
        i.handed_from = user.id
    audit.record(s, ctx, AuditAction.DRIVE_HANDED_OVER, target=f"user:{user.id}", to_user_id=recipient.id,
                 previous_holder=previous if previous != recipient.id else None, files=len(files), bytes=size,
                 items=len(items), by="hr" if to_user_id is not None else "manager")
    events.emit(s, ctx, [recipient.id], EventType.DRIVE_HANDED_OVER, {"from_user_id": user.id, "from_name": user.name,
                                                              "folder_id": root.id, "files": len(files)})
    return {"handed_to": recipient.id, "folder_id": root.id, "files": len(files), "bytes": size}


def hand_over(ctx: Ctx, user_id: int, to_user_id: int) -> dict[str, Any]:
    """HR names who receives a departed person's drive (or passes it on from the manager)."""
    with ctx.rt.db.write() as s:
        user = s.get(User, user_id)
        if user is None:
            raise MixunError("not_found")
        if user.departed_at is None:
            raise MixunError("conflict", ("该人员未办理离职", "This person has not departed"))
        return hand_over_txn(s, ctx, user, to_user_id)


def handovers(ctx: Ctx) -> dict[str, Any]:
    """Departed people who had a drive: where it is now (still theirs = waiting for HR, or its holder)."""
    from sqlalchemy import func

    with ctx.rt.db.read() as s:
        departed = list(s.execute(select(User).where(User.departed_at.is_not(None)).order_by(User.departed_at.desc())
                                  .limit(500)).scalars())
        out = []
        for u in departed:
            rows = s.execute(select(DriveItem.owner_id, func.count(), func.coalesce(func.sum(DriveItem.size), 0))
                             .where(or_(DriveItem.owner_id == u.id, DriveItem.handed_from == u.id),
                                    DriveItem.conversation_id.is_(None), DriveItem.kind == "file",
                                    DriveItem.removed_at.is_(None)).group_by(DriveItem.owner_id)).all()
            if not rows:
                continue
            holder = rows[0][0]
            holder_name = s.execute(select(User.name).where(User.id == holder)).scalar() if holder != u.id else None
            manager = manager_of(s, u)
            out.append({"user_id": u.id, "name": u.name, "username": u.username, "unit": unit_path(s, u.unit_id),
                        "departed_at": u.departed_at.isoformat() if u.departed_at else None,
                        "files": sum(r[1] for r in rows), "bytes": int(sum(r[2] for r in rows)),
                        "holder_id": holder if holder != u.id else None, "holder_name": holder_name,
                        "manager_id": manager,
                        "manager_name": s.execute(select(User.name).where(User.id == manager)).scalar() if manager else None})
        return {"handovers": out}
