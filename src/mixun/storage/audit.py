"""The audit trail, read only here (records are appended by ``services/audit.py`` and never changed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import AuditLog


def find_record_id(s: Session, *, actor_id: int, target: str, actions: Sequence[str], since: datetime) -> int | None:
    """A record of one of ``actions`` by ``actor_id`` on ``target`` at or after ``since``, if any."""
    return s.execute(select(AuditLog.id).where(
        AuditLog.actor_id == actor_id, AuditLog.target == target, AuditLog.action.in_(actions),
        AuditLog.at >= since.isoformat()).limit(1)).scalars().first()
