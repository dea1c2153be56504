"""Units (the organisation tree): look-ups by id and path, a person's unit, and a subtree."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mixun.db.models import Unit, User


def find_unit(s: Session, unit_id: int | None) -> Unit | None:
    return s.get(Unit, unit_id) if unit_id is not None else None


def unit_path(s: Session, unit_id: int | None) -> str:
    """The unit's path ("总行/科技部"), or "" for no unit or an unknown one."""
    if unit_id is None:
        return ""
    return s.execute(select(Unit.path).where(Unit.id == unit_id)).scalar() or ""


def find_unit_id_by_path(s: Session, path: str, *, except_id: int | None = None,
                         open_only: bool = False) -> int | None:
    """The unit at ``path`` (other than ``except_id``; not closed when ``open_only``), if any."""
    stmt = select(Unit.id).where(Unit.path == path)
    if except_id is not None:
        stmt = stmt.where(Unit.id != except_id)
    if open_only:
        stmt = stmt.where(Unit.closed_at.is_(None))
    return s.execute(stmt).scalar()


def find_unit_by_path(s: Session, path: str) -> Unit | None:
    return s.execute(select(Unit).where(Unit.path == path)).scalar_one_or_none()


def user_unit_path(s: Session, user_id: int) -> str:
    """The path of ``user_id``'s unit, or "" for a person without one (or no such person)."""
    return s.execute(select(Unit.path).join(User, User.unit_id == Unit.id).where(User.id == user_id)).scalar() or ""


def list_paths(s: Session, unit_ids: Iterable[int]) -> dict[int, str]:
    """{unit id: path} for those of ``unit_ids`` that exist (no query for none)."""
    ids = list(unit_ids)
    if not ids:
        return {}
    return dict(s.execute(select(Unit.id, Unit.path).where(Unit.id.in_(ids))).all())


def list_units(s: Session, under: str | None = None) -> list[tuple[int, str]]:
    """(id, path) by path: every unit, or ``under`` and the units below it."""
    stmt = select(Unit.id, Unit.path)
    if under is not None:
        stmt = stmt.where(or_(Unit.path == under, Unit.path.startswith(under + "/")))
    return [(i, p) for i, p in s.execute(stmt.order_by(Unit.path)).all()]


def list_ids_by_path(s: Session, paths: Iterable[str]) -> dict[str, int]:
    """{path: unit id} for those of ``paths`` that exist (no query for none)."""
    wanted = list(paths)
    if not wanted:
        return {}
    return {p: i for p, i in s.execute(select(Unit.path, Unit.id).where(Unit.path.in_(wanted))).all()}


def list_tree(s: Session, *, open_only: bool = False) -> list[Unit]:
    """Every unit (only the open ones when ``open_only``) by path."""
    stmt = select(Unit)
    if open_only:
        stmt = stmt.where(Unit.closed_at.is_(None))
    return list(s.execute(stmt.order_by(Unit.path)).scalars().all())


def list_descendants(s: Session, unit: Unit) -> list[Unit]:
    """Every unit below ``unit`` (by path), closed ones included."""
    prefix = unit.path + "/"
    return list(s.execute(select(Unit).where(func.substr(Unit.path, 1, len(prefix)) == prefix)).scalars())


def list_children(s: Session, unit_id: int) -> list[Unit]:
    """The units directly below ``unit_id``, closed ones included."""
    return list(s.execute(select(Unit).where(Unit.parent_id == unit_id)).scalars())


def count_open_children(s: Session, unit_id: int) -> int:
    return s.execute(select(func.count()).select_from(Unit).where(
        Unit.parent_id == unit_id, Unit.closed_at.is_(None))).scalar_one()
