"""Sign-in sessions and the revocation epoch (services/auth.py opens, checks, locks and ends sessions and
decides when the epoch moves)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mixun.db import bulk
from mixun.db.models import AuthEpoch, User
from mixun.db.models import Session as DbSession


def find_session(s: Session, session_id: int) -> DbSession | None:
    return s.get(DbSession, session_id)


def find_with_user(s: Session, token_hash: str) -> tuple[DbSession, User] | None:
    """The session whose token hashes to ``token_hash``, with its account, if any."""
    row = s.execute(select(DbSession, User).join(User, User.id == DbSession.user_id)
                    .where(DbSession.token_hash == token_hash)).first()
    return None if row is None else (row[0], row[1])


def count_active(s: Session, user_id: int) -> int:
    """The person's sessions not revoked."""
    return s.execute(select(func.count()).select_from(DbSession)
                     .where(DbSession.user_id == user_id, DbSession.revoked_at.is_(None))).scalar_one()


def list_active_ids(s: Session, user_id: int) -> list[int]:
    """The person's sessions not revoked."""
    return list(s.execute(select(DbSession.id).where(DbSession.user_id == user_id,
                                                     DbSession.revoked_at.is_(None))).scalars())


def list_live_places(s: Session, user_id: int, now: datetime, seen_after: datetime) -> list[tuple[str, str]]:
    """(ip, user agent) of the person's sessions not revoked, not expired at ``now`` and used after
    ``seen_after``."""
    return [(ip, ua) for ip, ua in s.execute(select(DbSession.ip, DbSession.user_agent).where(
        DbSession.user_id == user_id, DbSession.revoked_at.is_(None), DbSession.expires_at > now,
        DbSession.last_seen_at > seen_after)).all()]


def list_live_states(s: Session, session_ids: list[int], now: datetime) -> list[tuple[int, datetime | None]]:
    """(id, locked_at) of those of ``session_ids`` not revoked nor expired at ``now`` (one statement)."""
    return [(sid, locked_at) for sid, locked_at in s.execute(select(DbSession.id, DbSession.locked_at).where(
        DbSession.id.in_(session_ids), DbSession.revoked_at.is_(None), DbSession.expires_at > now)).all()]


def list_live_ids(s: Session, session_ids: list[int], now: datetime) -> list[int]:
    """Those of ``session_ids`` not revoked nor expired at ``now`` (one statement)."""
    return list(s.execute(select(DbSession.id).where(
        DbSession.id.in_(session_ids), DbSession.revoked_at.is_(None), DbSession.expires_at > now)).scalars())


def list_unrevoked_seen(s: Session, session_ids: list[int]) -> list[tuple[int, int, datetime]]:
    """(id, user id, last seen) of those of ``session_ids`` not revoked."""
    return [(sid, uid, seen) for sid, uid, seen in s.execute(
        select(DbSession.id, DbSession.user_id, DbSession.last_seen_at).where(
            DbSession.id.in_(session_ids), DbSession.revoked_at.is_(None))).all()]


def list_live_with_names(s: Session, now: datetime, seen_after: datetime, user_id: int | None, limit: int
                         ) -> list[tuple[DbSession, str, str]]:
    """(session, username, name), newest first, of sessions not revoked, not expired at ``now`` and used
    after ``seen_after``: everyone's or ``user_id``'s."""
    stmt = select(DbSession, User.username, User.name).join(User, User.id == DbSession.user_id).where(
        DbSession.revoked_at.is_(None), DbSession.expires_at > now, DbSession.last_seen_at > seen_after)
    if user_id is not None:
        stmt = stmt.where(DbSession.user_id == user_id)
    return [(sess, username, name) for sess, username, name in
            s.execute(stmt.order_by(DbSession.id.desc()).limit(limit)).all()]


def update_revoked(s: Session, session_ids: Iterable[int], now: datetime) -> list[int]:
    """Revoke those of ``session_ids`` not revoked yet; returns the ones this statement revoked."""
    return list(s.execute(update(DbSession).where(DbSession.id.in_(list(session_ids)), DbSession.revoked_at.is_(None))
                          .values(revoked_at=now).returning(DbSession.id)).scalars())


def update_revoked_one(s: Session, session_id: int, now: datetime) -> None:
    """Revoke the session unless it already is (no RETURNING: the caller does not ask)."""
    s.execute(update(DbSession).where(DbSession.id == session_id, DbSession.revoked_at.is_(None))
              .values(revoked_at=now))


def update_locked(s: Session, session_id: int, locked_at: datetime | None) -> None:
    s.execute(update(DbSession).where(DbSession.id == session_id).values(locked_at=locked_at))


def update_last_seen(s: Session, seen: dict[int, datetime]) -> None:
    """Every session's last-seen time in one statement, whatever their number."""
    rows: list[dict[str, Any]] = [{"id": sid, "last_seen_at": at} for sid, at in seen.items()]
    bulk.update_rows(s.connection(), DbSession.__table__, ("id",), rows)


def bump_epoch(s: Session) -> None:
    """The revocation epoch moves by one in the caller's transaction."""
    s.execute(update(AuthEpoch).where(AuthEpoch.id == 1).values(value=AuthEpoch.value + 1)
              .execution_options(synchronize_session=False))  # no session scan (bulk callers hold many objects)


def find_epoch(s: Session) -> int | None:
    return s.execute(select(AuthEpoch.value).where(AuthEpoch.id == 1)).scalar_one_or_none()
