"""People: look-ups by id and username, and their names for views."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from mixun.db.engine import affected
from mixun.db.models import Unit, User
from mixun.errors import MixunError


def get_user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise MixunError("not_found")
    return user


def find_user(s: Session, user_id: int) -> User | None:
    return s.get(User, user_id)


def find_user_by_username(s: Session, username: str) -> User | None:
    """Usernames are matched without regard to case or surrounding spaces."""
    return s.execute(select(User).where(func.lower(User.username) == username.strip().lower())
                     ).scalar_one_or_none()


def list_names(s: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """{user id: name} for those of ``user_ids`` that exist (no query for none)."""
    ids = set(user_ids)
    if not ids:
        return {}
    return dict(s.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def list_names_and_usernames(s: Session, user_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """{user id: (name, username)} for those of ``user_ids`` that exist (no query for none)."""
    ids = set(user_ids)
    if not ids:
        return {}
    return {uid: (name, username) for uid, name, username in s.execute(
        select(User.id, User.name, User.username).where(User.id.in_(ids))).all()}


def list_enabled_roles(s: Session, user_ids: Iterable[int]) -> dict[int, list[str]]:
    """{user id: roles} for those of ``user_ids`` whose account is enabled."""
    ids = set(user_ids)
    if not ids:
        return {}
    return {uid: list(roles or []) for uid, roles in s.execute(
        select(User.id, User.roles).where(User.id.in_(ids), User.disabled.is_(False))).all()}


def find_user_id_by_username(s: Session, username: str) -> int | None:
    """Any account whose username is ``username`` without regard to case (the first, should the
    directory hold two)."""
    return s.execute(select(User.id).where(func.lower(User.username) == username.strip().lower())).scalars().first()


def find_user_id_by_employee_no(s: Session, employee_no: str, *, except_id: int | None = None) -> int | None:
    """The account holding ``employee_no`` (other than ``except_id``), if any."""
    stmt = select(User.id).where(User.employee_no == employee_no)
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    return s.execute(stmt).scalar()


def list_enabled_with_roles(s: Session, unit_path: str | None = None) -> list[tuple[int, list[str]]]:
    """(user id, roles) of every enabled account, or of those in the unit at ``unit_path`` (not below it)."""
    stmt = select(User.id, User.roles).where(User.disabled.is_(False))
    if unit_path is not None:
        stmt = stmt.join(Unit, Unit.id == User.unit_id).where(Unit.path == unit_path)
    return [(uid, roles) for uid, roles in s.execute(stmt).all()]


def list_enabled_ids(s: Session, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` whose account exists and is enabled (no query for none)."""
    ids = list(user_ids)
    if not ids:
        return set()
    return set(s.execute(select(User.id).where(User.id.in_(ids), User.disabled.is_(False))).scalars())


def list_names_and_unit_paths(s: Session, user_ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """{user id: (name, their unit's path or None)} for those of ``user_ids`` that exist (no query for none)."""
    ids = list(user_ids)
    if not ids:
        return {}
    return {uid: (name, path) for uid, name, path in s.execute(
        select(User.id, User.name, Unit.path).outerjoin(Unit, Unit.id == User.unit_id).where(User.id.in_(ids))).all()}


def list_enabled_accounts(s: Session) -> list[tuple[int, str, str, list[str]]]:
    """(id, name, username, roles) of every enabled account."""
    return [(uid, name, username, roles) for uid, name, username, roles in s.execute(
        select(User.id, User.name, User.username, User.roles).where(User.disabled.is_(False))).all()]


def list_unit_paths(s: Session, user_ids: Iterable[int]) -> dict[int, str | None]:
    """{user id: their unit's path, or None} for those of ``user_ids`` that exist (no query for none)."""
    ids = list(user_ids)
    if not ids:
        return {}
    return {uid: path for uid, path in s.execute(
        select(User.id, Unit.path).outerjoin(Unit, Unit.id == User.unit_id).where(User.id.in_(ids))).all()}


def count_by_unit(s: Session) -> dict[int | None, int]:
    """{unit id: how many people, departed ones not counted}."""
    return {unit_id: n for unit_id, n in s.execute(select(User.unit_id, func.count()).where(
        User.departed_at.is_(None)).group_by(User.unit_id)).all()}


def count_in_unit(s: Session, unit_id: int) -> int:
    """How many people (departed ones not counted) are directly in the unit."""
    return s.execute(select(func.count()).select_from(User).where(
        User.unit_id == unit_id, User.departed_at.is_(None))).scalar_one()


def update_unit_id(s: Session, from_unit_id: int, to_unit_id: int) -> int:
    """Everyone in ``from_unit_id`` moves to ``to_unit_id``; returns how many."""
    return affected(s.execute(update(User).where(User.unit_id == from_unit_id).values(unit_id=to_unit_id)))


def list_for_hr(s: Session, q: str, unit_id: int | None, offset: int, limit: int) -> list[User]:
    """HR's people list by id: everyone, or those in ``unit_id`` and/or matching ``q`` (stripped) in
    username or employee number (without regard to case) or name."""
    stmt = select(User).order_by(User.id)
    if unit_id is not None:
        stmt = stmt.where(User.unit_id == unit_id)
    if q.strip():
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(User.username).like(like), User.name.like(f"%{q.strip()}%"),
                              func.lower(User.employee_no).like(like)))
    return list(s.execute(stmt.offset(offset).limit(limit)).scalars())


def list_for_admin(s: Session, q: str, offset: int, limit: int) -> list[User]:
    """sysadmin's account list by id: everyone, or those matching ``q`` in username (without regard to
    case), name or employee number."""
    stmt = select(User).order_by(User.id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.username).like(like), User.name.like(f"%{q}%"),
                              User.employee_no.like(like)))
    return list(s.execute(stmt.offset(offset).limit(limit)).scalars().all())


def list_enabled_roles_except(s: Session, user_id: int) -> list[list[str]]:
    """The roles of every enabled account but ``user_id``'s."""
    return list(s.execute(select(User.roles).where(User.id != user_id, User.disabled.is_(False))).scalars())


def list_in_unit(s: Session, unit_id: int) -> list[tuple[int, str, list[str]]]:
    """(id, name, roles) by id of the people (departed ones not) directly in the unit."""
    return [(uid, name, roles) for uid, name, roles in s.execute(select(User.id, User.name, User.roles).where(
        User.unit_id == unit_id, User.departed_at.is_(None)).order_by(User.id))]


def find_username(s: Session, username: str) -> str | None:
    """``username`` as stored when an account has exactly that name (case and all)."""
    return s.execute(select(User.username).where(User.username == username)).scalar()


def list_all_roles(s: Session) -> list[tuple[int, list[str]]]:
    """(id, roles) of every account, disabled ones included."""
    return [(uid, roles) for uid, roles in s.execute(select(User.id, User.roles)).all()]
