"""People: look-ups by id and username, and their names for views."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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


def find_user_id_by_employee_no(s: Session, employee_no: str) -> int | None:
    return s.execute(select(User.id).where(User.employee_no == employee_no)).scalar()


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
