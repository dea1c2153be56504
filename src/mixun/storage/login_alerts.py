"""Login alerts (an unusual sign-in, flagged for the person and for secadmin)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import LoginAlert, User


def list_alerts(s: Session, user_id: int | None, limit: int) -> list[tuple[LoginAlert, str, str]]:
    """(alert, username, name), newest first: everyone's or ``user_id``'s."""
    stmt = select(LoginAlert, User.username, User.name).join(User, User.id == LoginAlert.user_id)
    if user_id is not None:
        stmt = stmt.where(LoginAlert.user_id == user_id)
    return [(a, un, nm) for a, un, nm in s.execute(stmt.order_by(LoginAlert.id.desc()).limit(limit)).all()]
