"""DLP administration: policy versions, lexicon terms kept by secadmin, hits, and sanctions (C7)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mixun.db.models import Base
from mixun.db.sealed import SealedText
from mixun.db.types import BigId, UTCDateTime, utcnow


class DlpPolicyVersion(Base):
    """Every policy ever in force; the highest id is the current one. Never updated."""

    __tablename__ = "dlp_policy_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(BigId)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DlpLexiconTerm(Base):
    __tablename__ = "dlp_lexicon_terms"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    term: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("category", "term"),)


class DlpHit(Base):
    """One finding acted upon (never the raw value: the masked form only). The masked excerpt is sealed at
    rest under its conversation's data key (else the ``dlp`` scope's), opened on read (db/sealed.py)."""

    __tablename__ = "dlp_hits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, index=True)
    detector: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(100), default="")
    masked: Mapped[str] = mapped_column(SealedText, default="")  # sealed; at most 200 characters when opened
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DlpSanction(Base):
    """Escalation state per person: warning → notice to the unit head → sending suspended."""

    __tablename__ = "dlp_sanctions"
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    level: Mapped[str] = mapped_column(String(16), default="none")  # none | warning | unit_notice | suspended
    violations: Mapped[int] = mapped_column(Integer, default=0)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
