"""Compliance dual control (双人原则): which heavy accesses need a second officer, and the requests.

Self-contained on purpose: the administrators' approvals (another table) cover account actions; these
cover a compliance officer's own access to content, approved by another compliance officer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mixun.db.models import Base
from mixun.db.types import BigId, UTCDateTime, utcnow


class ComplianceSetting(Base):
    """Small settings of the compliance console, set by secadmin (key -> JSON value)."""

    __tablename__ = "compliance_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessRequest(Base):
    """One heavy access asked for: pending until another officer approves or rejects it; an approved
    request is carried out once, by the officer who asked."""

    __tablename__ = "access_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # export_person, export_unit, originals
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    reason_category: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending approved rejected used
    requested_by: Mapped[int] = mapped_column(BigId)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(BigId)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_access_requests_status", AccessRequest.status, AccessRequest.id)
