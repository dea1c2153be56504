"""Look-ups on people and units that login and account management share (``get_`` raises 404,
``find_`` returns None). No use case lives here: services/auth.py reads people through it, so
services/users.py, which ends sessions through auth, sits above both (users re-exports these names)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mixun.db.models import Unit, User
from mixun.errors import MixunError


def unit_path(session: Session, unit_id: int | None) -> str:
    if unit_id is None:
        return ""
    return session.execute(select(Unit.path).where(Unit.id == unit_id)).scalar() or ""


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise MixunError("not_found")
    return user


def find_user_by_username(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(func.lower(User.username) == username.strip().lower())
                           ).scalar_one_or_none()
