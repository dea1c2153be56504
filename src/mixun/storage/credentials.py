"""What proves a person beside the account row: one-time codes, recovery codes, password history and the
clients they have signed in from (services/auth.py and services/users.py decide when each is used or
cleared)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mixun.db.engine import affected
from mixun.db.models import KnownClient, PasswordHistory, RecoveryCode, User


def update_totp_last_step(s: Session, user_id: int, step: int) -> None:
    """The last one-time-code step used (a code is good once)."""
    s.execute(update(User).where(User.id == user_id).values(totp_last_step=step))


def update_failed_login(s: Session, user_id: int, threshold: int, now: datetime) -> bool:
    """One more failed attempt, in one statement, unless the account is locked at ``now`` or has
    ``threshold`` failures already; True when it was counted."""
    return affected(s.execute(update(User).where(
        User.id == user_id, User.failed_logins < threshold,
        (User.locked_until.is_(None)) | (User.locked_until <= now))
        .values(failed_logins=User.failed_logins + 1))) != 0


def find_unused_recovery_code(s: Session, user_id: int, code_hash: str) -> RecoveryCode | None:
    return s.execute(select(RecoveryCode).where(RecoveryCode.user_id == user_id,
                                                RecoveryCode.code_hash == code_hash,
                                                RecoveryCode.used_at.is_(None))).scalar_one_or_none()


def list_recovery_codes(s: Session, user_id: int) -> list[RecoveryCode]:
    return list(s.execute(select(RecoveryCode).where(RecoveryCode.user_id == user_id)).scalars())


def delete_recovery_codes(s: Session, user_id: int) -> None:
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


def list_password_hashes(s: Session, user_id: int, limit: int) -> list[str]:
    """The person's latest ``limit`` password hashes, newest first."""
    return list(s.execute(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user_id)
                          .order_by(PasswordHistory.id.desc()).limit(limit)).scalars().all())


def list_known_clients(s: Session, user_id: int) -> list[str]:
    """The fingerprints of the clients the person has signed in from."""
    return list(s.execute(select(KnownClient.fingerprint).where(KnownClient.user_id == user_id)).scalars().all())
