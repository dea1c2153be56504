"""SCIM's own records (its bearer tokens, the client's externalIds, the users it deleted) and its filtered
listings of users and groups (services/scim.py decides who is staff and what a client may change)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mixun.db.models import ScimDeletion, ScimExternalId, ScimToken, Unit, User


def _as_id(value: str | None) -> int:
    """A filter's id as a number; anything else matches no row."""
    text = value or ""
    return int(text) if text.isdigit() and len(text) < 16 else -1


def update_tokens_revoked(s: Session, now: datetime) -> None:
    """Every token still live is revoked at ``now``."""
    s.execute(update(ScimToken).where(ScimToken.revoked_at.is_(None)).values(revoked_at=now))


def list_live_token_hashes(s: Session) -> list[str]:
    return list(s.execute(select(ScimToken.token_hash).where(ScimToken.revoked_at.is_(None))).scalars().all())


def find_external(s: Session, kind: str, resource_id: int) -> ScimExternalId | None:
    return s.get(ScimExternalId, (kind, resource_id))


def list_with_external(s: Session, kind: str, value: str | None) -> list[int]:
    """The ids of ``kind`` (user, group) the client gave this externalId."""
    return list(s.execute(select(ScimExternalId.resource_id).where(
        ScimExternalId.kind == kind, ScimExternalId.external_id == value)).scalars())


def list_deleted_ids(s: Session) -> set[int]:
    """Users the client deleted who are still departed (not reinstated since)."""
    return set(s.execute(select(ScimDeletion.user_id).join(User, User.id == ScimDeletion.user_id)
                         .where(User.departed_at.is_not(None))).scalars())


def find_deletion(s: Session, user_id: int) -> ScimDeletion | None:
    return s.get(ScimDeletion, user_id)


def list_users(s: Session, attr: str | None, value: str | None) -> list[User]:
    """Every account by id, or those where ``attr`` (id, username without regard to case, employee_no,
    external_id: the client's externalId or else the employee number, name) equals ``value``."""
    stmt = select(User).order_by(User.id)
    if attr == "id":
        stmt = stmt.where(User.id == _as_id(value))
    elif attr == "username":
        stmt = stmt.where(func.lower(User.username) == (value or "").lower())
    elif attr == "employee_no":
        stmt = stmt.where(User.employee_no == value)
    elif attr == "external_id":
        stmt = stmt.where(User.id.in_(list_with_external(s, "user", value)) | (User.employee_no == value))
    elif attr == "name":
        stmt = stmt.where(User.name == value)
    return list(s.execute(stmt).scalars())


def list_groups(s: Session, attr: str | None, value: str | None) -> list[Unit]:
    """Open units by id, or those where ``attr`` (id; name: the path or the unit's own name; external_id)
    equals ``value``."""
    stmt = select(Unit).where(Unit.closed_at.is_(None)).order_by(Unit.id)
    if attr == "id":
        stmt = stmt.where(Unit.id == _as_id(value))
    elif attr == "name":
        stmt = stmt.where((Unit.path == value) | (Unit.name == value))
    elif attr == "external_id":
        stmt = stmt.where(Unit.id.in_(list_with_external(s, "group", value)))
    return list(s.execute(stmt).scalars())
