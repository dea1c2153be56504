"""Approval requests (dual control over privileged accounts): filed, then approved or rejected once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mixun.db.models import Approval
from mixun.errors import MixunError


def get_approval(s: Session, approval_id: int, *, lock: bool = False) -> Approval:
    row = s.get(Approval, approval_id, with_for_update=lock)
    if row is None:
        raise MixunError("not_found")
    return row


def find_pending_id(s: Session, target_user_id: int, kind: str) -> int | None:
    """The pending request of ``kind`` about ``target_user_id``, if one is open."""
    return s.execute(select(Approval.id).where(Approval.target_user_id == target_user_id, Approval.kind == kind,
                                               Approval.status == "pending")).scalars().first()


def find_approved_id(s: Session, *, decided_by: int, target_user_id: int, kind: str, since: datetime) -> int | None:
    """A request of ``kind`` about ``target_user_id`` that ``decided_by`` approved at or after ``since``."""
    return s.execute(select(Approval.id).where(
        Approval.decided_by == decided_by, Approval.target_user_id == target_user_id,
        Approval.kind == kind, Approval.status == "approved", Approval.decided_at >= since).limit(1)).scalars().first()


def list_approvals(s: Session, status: str, limit: int, offset: int) -> Sequence[Approval]:
    """Newest first: ``pending``, ``decided`` (approved or rejected) or ``all``."""
    stmt = select(Approval)
    if status == "pending":
        stmt = stmt.where(Approval.status == "pending")
    elif status == "decided":
        stmt = stmt.where(Approval.status != "pending")
    return s.execute(stmt.order_by(Approval.id.desc()).offset(offset).limit(limit)).scalars().all()


def count_pending(s: Session) -> int:
    return int(s.execute(select(func.count()).select_from(Approval).where(Approval.status == "pending")).scalar_one())


def list_pending_kinds(s: Session, user_ids: Iterable[int]) -> list[tuple[int, str]]:
    """(target user id, kind) of every pending request on one of ``user_ids`` (no query for none)."""
    ids = list(user_ids)
    if not ids:
        return []
    return [(uid, kind) for uid, kind in s.execute(select(Approval.target_user_id, Approval.kind).where(
        Approval.status == "pending", Approval.target_user_id.in_(ids)))]
