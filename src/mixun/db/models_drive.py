"""The personal drive (个人网盘) and each group's file space (群文件): folders and files, chunked uploads
in progress, quotas, reports and the non-work type list (docs/drive.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mixun.db.models import Base
from mixun.db.types import BigId, UTCDateTime, utcnow


class DriveItem(Base):
    """A folder or a file, in one person's drive (owner_id) or in one group's space (conversation_id).

    A file's bytes are one blob of AES-256-GCM segments under its own data key (wrapped by the master
    key); destroying the row's wrapped key and the blob destroys the file."""

    __tablename__ = "drive_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(BigId, index=True)
    conversation_id: Mapped[int | None] = mapped_column(BigId, index=True)
    parent_id: Mapped[int | None] = mapped_column(BigId, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # folder | file
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mime: Mapped[str] = mapped_column(String(100), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    blob_key: Mapped[str | None] = mapped_column(String(100))
    data_key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    scan_status: Mapped[str] = mapped_column(String(16), default="clean")
    uploader_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not opened for the configured time
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # in the recycle bin since
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # taken down by secadmin
    removed_reason: Mapped[str] = mapped_column(String(500), default="")
    handed_from: Mapped[int | None] = mapped_column(BigId)  # a departed colleague's drive, handed over


class DriveUpload(Base):
    """A chunked upload in progress: its size was checked against the quota and the per-file limit
    before any chunk was taken; the chunks (encrypted) wait in var/uploads/<id>/."""

    __tablename__ = "drive_uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, index=True)
    owner_id: Mapped[int | None] = mapped_column(BigId)
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    parent_id: Mapped[int | None] = mapped_column(BigId)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    data_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriveQuota(Base):
    """A quota set by sysadmin for one person or one unit (and everything under it)."""

    __tablename__ = "drive_quotas"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    unit_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    quota_bytes: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[int] = mapped_column(BigId)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriveReport(Base):
    """Someone's report of a drive file; secadmin dismisses it or removes the file, with a reason."""

    __tablename__ = "drive_reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, index=True)
    reporter_id: Mapped[int] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | removed | dismissed
    decided_by: Mapped[int | None] = mapped_column(BigId)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriveBlockedType(Base):
    """A file type that is not work (音视频、可执行程序……): refused in every drive and group space."""

    __tablename__ = "drive_blocked_types"
    extension: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    added_by: Mapped[int | None] = mapped_column(BigId)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_drive_items_owner_parent", DriveItem.owner_id, DriveItem.parent_id)
Index("ix_drive_items_conv_parent", DriveItem.conversation_id, DriveItem.parent_id)
Index("ix_drive_reports_status", DriveReport.status, DriveReport.id)
