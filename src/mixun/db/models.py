"""The schema. Live tables serve the product; archive and audit tables are append-only.

Append-only tables (message_versions, membership_log, audit_log) have database triggers that refuse
UPDATE and DELETE; only the retention job (a later migration's function) may remove expired rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mixun.db.sealed import SealedJSON, SealedText
from mixun.db.types import BigId, UTCDateTime, utcnow


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model here is declared with __tablename__, so its __table__ is a Table (SQLAlchemy types it
        # as the wider FromClause); db/bulk.py's rounds take Tables.
        __table__: ClassVar[Table]


class Unit(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 撤销: kept for history, takes nobody


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_pinyin: Mapped[str] = mapped_column(String(500), default="")
    name_initials: Mapped[str] = mapped_column(String(200), default="")
    employee_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    position: Mapped[str] = mapped_column(String(100), default="")
    work_status: Mapped[str] = mapped_column(String(16), default="available")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    hr_verified: Mapped[bool] = mapped_column(Boolean, default=False)  # set only by HR's paths (issue 21)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a departure is final (issue 19)
    departure_reason: Mapped[str | None] = mapped_column(String(32))  # termination, retirement, ... (issue 21)
    departure_pledged: Mapped[bool] = mapped_column(Boolean, default=False)  # exit confidentiality pledge signed


class SearchKey(Base):
    """Directory search keys (name and its suffixes, pinyin, initials, username, number, position):
    every lookup is an indexed prefix range, so search stays fast at 50,000 people."""

    __tablename__ = "user_search_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Bytewise order on PostgreSQL too, so a prefix is one index range whatever the database's locale.
    key: Mapped[str] = mapped_column(String(200).with_variant(String(200, collation="C"), "postgresql"), index=True)
    rank: Mapped[int] = mapped_column(Integer, default=5)


class PasswordHistory(Base):
    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # locked on the server (lock screen)


class AuthEpoch(Base):
    """One row whose value moves with every revocation or account change, from any process: servers
    poll it and drop their session caches when it moves (a CLI revocation takes effect at once)."""

    __tablename__ = "auth_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class KnownClient(Base):
    """(user, address, client) pairs seen at successful logins: a new one is an unusual login."""

    __tablename__ = "known_clients"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("user_id", "fingerprint"),)


class LoginAlert(Base):
    __tablename__ = "login_alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)


class LoginFailureCount(Base):
    """Failed logins counted where every server process sees them: per address (``addr:<ip>``, in a
    window of the lockout time) and per username that names no account (``name:<keyed digest>``, locked
    as a real account would be). Times are seconds since the epoch."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[float] = mapped_column(Float, default=0.0)  # the window's first failure (addr:), the last (name:)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # direct | group
    name: Mapped[str] = mapped_column(String(100), default="")
    direct_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    classification: Mapped[str] = mapped_column(String(16), default="internal")
    # 群公告: its text, bumped version (members who have not opened this version see it), who and when.
    notice: Mapped[str] = mapped_column(SealedText, default="")  # sealed (db/sealed.py), by notice_at's month
    notice_version: Mapped[int] = mapped_column(Integer, default=0)
    notice_by: Mapped[int | None] = mapped_column(BigId)
    notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_may_mention_all: Mapped[bool] = mapped_column(Boolean, default=False)
    dissolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Member(Base):
    """Per-recipient state of a conversation: role and read position."""

    __tablename__ = "conversation_members"
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")  # owner | admin | member
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_seq: Mapped[int] = mapped_column(Integer, default=0)
    read_seq: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)  # 置顶, for this member only
    muted: Mapped[bool] = mapped_column(Boolean, default=False)  # 消息免打扰
    notice_seen: Mapped[int] = mapped_column(Integer, default=0)  # the notice_version last opened


class Reaction(Base):
    """A member's reaction to a message (an emoji or a quick word such as 收到)."""

    __tablename__ = "message_reactions"
    message_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    emoji: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bundle(Base):
    """The forwarded messages a merged forward (合并转发) opens to show."""

    __tablename__ = "message_bundles"
    message_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    items: Mapped[list[dict[str, object]]] = mapped_column(SealedJSON, default=list)  # sealed (db/sealed.py)


class Message(Base):
    """A message as users currently see it; every version lives in message_versions."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | image | file
    text: Mapped[str] = mapped_column(SealedText, default="")  # sealed (db/sealed.py)
    reply_to_id: Mapped[int | None] = mapped_column(BigId)
    mentions: Mapped[list[int]] = mapped_column(JSON, default=list)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recalled_by: Mapped[int | None] = mapped_column(BigId)
    version: Mapped[int] = mapped_column(Integer, default=1)
    dlp_action: Mapped[str | None] = mapped_column(String(16))
    # The masked excerpts DLP found, sealed like the text (a JSON string); opened on read (db/sealed.py).
    dlp_findings: Mapped[list[dict[str, object]] | None] = mapped_column(SealedJSON)
    classification: Mapped[str] = mapped_column(String(16), default="internal")
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("sender_id", "client_id"),
    )


class MessageVersion(Base):
    """Archive: every version of every message. Append-only (triggers refuse UPDATE/DELETE)."""

    __tablename__ = "message_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, index=True)
    conversation_id: Mapped[int] = mapped_column(BigId, index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # created | edited | recalled | hidden
    sender_id: Mapped[int] = mapped_column(BigId)
    actor_id: Mapped[int] = mapped_column(BigId)
    text: Mapped[str] = mapped_column(SealedText, default="")  # sealed (db/sealed.py)
    original_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # DLP-masked original, encrypted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(BigId, index=True)
    conversation_id: Mapped[int] = mapped_column(BigId, index=True)
    uploader_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))  # image | file
    filename: Mapped[str] = mapped_column(String(255), default="")
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(100))
    thumb_key: Mapped[str | None] = mapped_column(String(100))
    data_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    scan_status: Mapped[str] = mapped_column(String(16), default="clean")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MembershipLog(Base):
    """Archive: every membership change. Append-only."""

    __tablename__ = "membership_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, index=True)
    user_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(32))  # joined | left | removed | role_changed | renamed
    actor_id: Mapped[int] = mapped_column(BigId)
    detail: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventCounter(Base):
    """Each user's last event_seq; locked in user-id order when events are allocated."""

    __tablename__ = "event_counters"
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class EventPayload(Base):
    """An event serialised once, shared by all its recipients."""

    __tablename__ = "event_payloads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(SealedText)  # JSON without event_seq; sealed when it names a conversation
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserEvent(Base):
    __tablename__ = "user_events"
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    payload_id: Mapped[int] = mapped_column(BigId)


class AuditLog(Base):
    """Security events, hash-chained. Append-only (triggers refuse UPDATE/DELETE)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), index=True)  # ISO 8601 UTC, hashed as written
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_role: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    client: Mapped[str] = mapped_column(String(300), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC of (id, hash) under keys/audit-record.key; NULL on records from before migration 0008.
    mac: Mapped[str | None] = mapped_column(String(64))


Index("ix_messages_conv_created", Message.conversation_id, Message.created_at)
Index("ix_user_events_payload", UserEvent.payload_id)
Index("ix_user_search_keys_covering", SearchKey.key, SearchKey.rank, SearchKey.user_id)
Index("ix_users_unit_active", User.unit_id, User.disabled, User.id)

APPEND_ONLY_TABLES = ("message_versions", "membership_log", "audit_log")


class Approval(Base):
    """A request on a privileged account (or a compliance grant) waiting for a second administrator."""

    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # update | roles | reset_password | reset_two_factor | depart | reinstate
    target_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)  # never a secret
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requester_role: Mapped[str] = mapped_column(String(16))  # sysadmin | secadmin: who may decide follows
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    __table_args__ = (Index("ix_approvals_status", "status", "id"),)


class AccountApplication(Base):
    """A new employee's account applied for (A1): unit head, then HR, then sysadmin allocates it."""

    __tablename__ = "account_applications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # pending_unit_head | pending_hr | pending_sysadmin | allocated | rejected
    status: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(100))
    employee_no: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    position: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    functions: Mapped[list[str]] = mapped_column(JSON, default=list)
    username: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # [{"stage", "decision", "by", "at", "reason"}]: who decided each step, in order
    steps: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[str] = mapped_column(String(500), default="")
    __table_args__ = (Index("ix_account_applications_status", "status", "id"),
                      Index("ix_account_applications_applicant", "applicant_id", "id"))


class ScimToken(Base):
    """The SCIM endpoint's bearer token (`mixun scim token`): only its SHA-256 is kept."""

    __tablename__ = "scim_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScimDeletion(Base):
    """A User the SCIM client deleted: departed, kept with its history, and a 404 over SCIM from then on
    (RFC 7644 §3.6) until a reinstatement brings the person back."""

    __tablename__ = "scim_deletions"
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScimExternalId(Base):
    """The ``externalId`` a SCIM client gave a User or Group (RFC 7643 §3.1: the client's own identifier,
    kept as given and returned)."""

    __tablename__ = "scim_external_ids"
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    resource_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255))
    __table_args__ = (Index("ix_scim_external_ids_value", "kind", "external_id"),)


class GroupRequest(Base):
    """A group with people of other units, asked for by someone whose unit's rules need the unit head's
    approval first (issue 21 item 8): pending, approved (the group made), rejected (with a reason) or
    withdrawn."""

    __tablename__ = "group_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    requester_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(String(100))
    members: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500), default="")
    conversation_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("conversations.id"))
    __table_args__ = (Index("ix_group_requests_status", "status", "id"),
                      Index("ix_group_requests_requester", "requester_id", "id"))


class DirectorySync(Base):
    """One run of the LDAP / Active Directory sync (`mixun org ldap-sync`): when, what it counted, what
    went wrong. HR's console shows the last one."""

    __tablename__ = "directory_syncs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    __table_args__ = (Index("ix_directory_syncs_source", "source", "id"),)
