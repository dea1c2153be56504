"""Whether a person must accept the usage and confidentiality rules before going on: read by
authentication (the gate's ``must_accept_rules``) and by the rules service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mixun.db.models_people import RulesAcceptance, RulesVersion

# An acceptance holds for a year; then the person accepts the current version again.
VALID_FOR = timedelta(days=365)


def current_version(s: Session) -> RulesVersion | None:
    return s.execute(select(RulesVersion).order_by(RulesVersion.version.desc()).limit(1)).scalar_one_or_none()


def last_acceptance(s: Session, user_id: int, version: int) -> datetime | None:
    return s.execute(select(func.max(RulesAcceptance.accepted_at))
                     .where(RulesAcceptance.user_id == user_id, RulesAcceptance.version == version)).scalar()


def needs_acceptance(s: Session, user_id: int, now: datetime | None = None) -> bool:
    """True when rules are published and this person has not accepted the current version within a year."""
    version = s.execute(select(func.max(RulesVersion.version))).scalar()
    if version is None:
        return False
    at = last_acceptance(s, user_id, version)
    return at is None or at + VALID_FOR <= (now or datetime.now(UTC))
