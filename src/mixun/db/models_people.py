"""People's rules (issue 21 items 6-9): the usage and confidentiality rules and their acceptances,
announcements and their receipts, per-unit / per-person function switches, and account reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mixun.db.models import Base
from mixun.db.types import BigId, UTCDateTime, utcnow


class RulesVersion(Base):
    """One published version of the usage and confidentiality rules (保密承诺); never changed once out."""

    __tablename__ = "rules_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RulesAcceptance(Base):
    """A person accepted a version of the rules, at a time, from an address."""

    __tablename__ = "rules_acceptances"
    __table_args__ = (Index("ix_rules_acceptances_user_version", "user_id", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    client: Mapped[str] = mapped_column(String(300), default="")


class Announcement(Base):
    """A notice (公告) to the whole bank or to chosen units; its recipients are fixed when published."""

    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_all: Mapped[bool] = mapped_column(Boolean, default=False)
    must_confirm: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class AnnouncementUnit(Base):
    __tablename__ = "announcement_units"
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"),
                                                 primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class AnnouncementReceipt(Base):
    """One recipient of an announcement: when they read it, confirmed it, were last reminded."""

    __tablename__ = "announcement_receipts"
    __table_args__ = (Index("ix_announcement_receipts_user", "user_id", "announcement_id"),)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnnouncementFile(Base):
    """A file attached to an announcement: uploaded first (announcement_id empty), attached when the
    announcement is published; stored encrypted like a conversation's files, scanned the same way."""

    __tablename__ = "announcement_files"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(100))
    data_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    scan_status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FunctionRule(Base):
    """secadmin's switch of one function (or limit) for a unit (and its sub-units) or for one person."""

    __tablename__ = "function_rules"
    __table_args__ = (UniqueConstraint("scope", "target_id", "function", name="uq_function_rules_target"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # unit | user
    target_id: Mapped[int] = mapped_column(BigId)
    function: Mapped[str] = mapped_column(String(32))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    limit: Mapped[int | None] = mapped_column(Integer)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountReview(Base):
    """One run of the account review (scheduled or on demand) and what it found."""

    __tablename__ = "account_reviews"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # scheduled | manual
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
