"""Units (the organisation tree): look-ups by id and path."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import Unit


def unit_path(s: Session, unit_id: int | None) -> str:
    """The unit's path ("总行/科技部"), or "" for no unit or an unknown one."""
    if unit_id is None:
        return ""
    return s.execute(select(Unit.path).where(Unit.id == unit_id)).scalar() or ""


def find_unit_id_by_path(s: Session, path: str) -> int | None:
    return s.execute(select(Unit.id).where(Unit.path == path)).scalar()
