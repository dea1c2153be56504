"""Tables of the compliance archive: search index, audit checkpoints, legal holds, retention, review.

The message archive itself (message_versions, membership_log) and the audit trail live in models.py;
these tables index, protect and supervise it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mixun.db.models import Base, Message, MessageVersion
from mixun.db.types import BigId, UTCDateTime, utcnow


class SearchTerm(Base):
    """Posting list of the Chinese full-text index: one row per (character bigram or last unigram,
    message version). Every query is an ordered primary-key range scan on both databases."""

    __tablename__ = "archive_search_terms"
    # Bytewise order on PostgreSQL too, so a one-character query is a prefix range of bigrams.
    term: Mapped[str] = mapped_column(String(8).with_variant(String(8, collation="C"), "postgresql"),
                                      primary_key=True)
    version_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    __table_args__ = ({"sqlite_with_rowid": False},)


class PendingVersion(Base):
    """Versions not yet in the search index. A database trigger adds each new message_versions row here
    in the transaction that writes it (migration 0006), so a version is pending exactly when it is
    committed, whatever its id; indexing drains the table. (A watermark over ids would skip a version
    whose transaction commits after a later-numbered one was indexed.)"""

    __tablename__ = "archive_pending_versions"
    version_id: Mapped[int] = mapped_column(BigId, ForeignKey("message_versions.id", ondelete="CASCADE"),
                                            primary_key=True)


class SearchIndexState(Base):
    """One row, locked by every indexing run and by retention's unindexing, so they take turns.
    ``last_version_id`` was the indexing watermark before migration 0006 (which reads it once to carry
    unindexed versions over to archive_pending_versions); nothing writes it since."""

    __tablename__ = "archive_search_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_version_id: Mapped[int] = mapped_column(BigId, default=0)


class AuditCheckpoint(Base):
    """A signed (id, hash) of the audit chain: the anchor verification starts from after the head of
    the trail was trimmed by retention. The signing key lives in the data dir, never in the database."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    audit_id: Mapped[int] = mapped_column(BigId, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(32), default="")


class LegalHold(Base):
    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigId)
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    placed_by: Mapped[int] = mapped_column(BigId)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[int | None] = mapped_column(BigId)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str] = mapped_column(String(500), default="")


class RetentionPolicy(Base):
    """scope: 'default', 'kind:direct', 'kind:group', 'unit:<path>' (covers sub-units) or 'audit'."""

    __tablename__ = "retention_policies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(300), unique=True)
    messages_days: Mapped[int] = mapped_column(Integer)
    files_days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetentionPermit(Base):
    """Filled only inside the retention job's transaction: SQLite's delete triggers on the archive
    tables let a DELETE through only while a row exists here."""

    __tablename__ = "retention_permit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class RekeyPermit(Base):
    """Filled only inside a key rotation's transaction: message_versions then accepts an UPDATE that
    changes original_enc alone (SQLite's trigger; PostgreSQL uses SET LOCAL mixun.rekey)."""

    __tablename__ = "rekey_permit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class RetentionRun(Base):
    __tablename__ = "retention_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200), default="")
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class RetentionDestroyed(Base):
    """What a run destroyed: identifiers and times only, never content."""

    __tablename__ = "retention_destroyed"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("retention_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # message | version | attachment | audit
    ref_id: Mapped[int] = mapped_column(BigId)
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewItem(Base):
    __tablename__ = "review_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # dlp_hold | report
    message_id: Mapped[int] = mapped_column(BigId, index=True)
    conversation_id: Mapped[int] = mapped_column(BigId)
    subject_id: Mapped[int] = mapped_column(BigId)  # the message's sender
    reporter_id: Mapped[int | None] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(BigId)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class Violation(Base):
    __tablename__ = "violations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, index=True)
    message_id: Mapped[int | None] = mapped_column(BigId)
    review_item_id: Mapped[int | None] = mapped_column(BigId)
    note: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(16), default="warning")  # warning | unit_notice | suspension
    recorded_by: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportRecord(Base):
    __tablename__ = "archive_exports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    path: Mapped[str] = mapped_column(String(1000))
    filters: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    manifest_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_review_items_status_created", ReviewItem.status, ReviewItem.created_at)
# Filters of the compliance search and the review queue's sweep over held messages.
Index("ix_message_versions_sender", MessageVersion.sender_id)
Index("ix_messages_dlp_action", Message.dlp_action)
