"""Response models of the compliance console, the auditor's trail, the account console's acts and
approvals, and the rest of the account routes (sessions, two-factor, login alerts, presence, client
settings, health): routes/compliance.py, admin.py, auth.py and me.py.

The rules are api/models.py's (ADR 0018): ``TypedDict``s open at run time (``OUT``: extra keys kept,
nothing filled in or coerced), closed in the document; each names the builder whose output it states,
in that builder's field order. ``NotRequired``: a key the builder leaves out in some cases; ``X | None``:
always present, may be null. A route that answers "done" (200/201) or "filed for a second person"
(202) with different bodies has the union of both as its ``response_model`` and its 202 documented with
the filed model (``responses=``), as POST /conversations does. tests/api/test_response_models_compliance.py
checks real answers of every route here against the document with extra keys refused.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from mixun.api.models import OUT, AdminUser, Attachment, ConversationMember, DlpFinding, DriveHandover, Person

# ---- the archive (compliance officers) ------------------------------------------------------------------


@with_config(OUT)
class ArchiveConversationRef(TypedDict):
    """The conversation a version was written in; ``title`` is its name or, unnamed, its people's."""

    id: int
    kind: str | None
    name: str
    title: str


@with_config(OUT)
class ArchivePerson(TypedDict):
    id: int
    name: str
    username: str
    unit: str


@with_config(OUT)
class ArchiveRecipient(TypedDict):
    id: int
    name: str
    username: str


@with_config(OUT)
class ArchiveSnippet(TypedDict):
    """``services.archive.snippet``: the text around the first hit, where it starts, each hit's [start, end)."""

    text: str
    start: int
    hits: list[list[int]]


@with_config(OUT)
class ArchiveVersion(TypedDict):
    """``services.archive._version_views``, then ``_with_attachments`` (a created version's files, pack
    contents included) and ``_with_people`` (recipients, the title, a search's ``snippet``); the
    conversation view adds ``original_text`` when originals are asked for and allowed. ``seq`` and the
    conversation's ``kind`` are null when the message or conversation row is gone."""

    version_id: int
    message_id: int
    conversation: ArchiveConversationRef
    seq: int | None
    version: int
    kind: str
    text: str
    sender: ArchivePerson
    actor_id: int | None
    created_at: str
    dlp_action: str | None
    has_original: bool
    content_destroyed: bool
    attachments: NotRequired[list[Attachment]]
    recipients: list[ArchiveRecipient]
    recipient_count: int
    snippet: NotRequired[ArchiveSnippet]
    original_text: NotRequired[str]


@with_config(OUT)
class ArchiveSearch(TypedDict):
    """``services.archive.search``: matching versions newest first; ``next_cursor`` null at the end."""

    results: list[ArchiveVersion]
    next_cursor: int | None


@with_config(OUT)
class ArchiveConversationHead(TypedDict):
    id: int
    kind: str
    name: str | None
    title: str
    created_at: str


@with_config(OUT)
class ArchiveMembershipEntry(TypedDict):
    user_id: int
    user_name: str
    action: str
    actor_id: int | None
    actor_name: str
    detail: str
    at: str


@with_config(OUT)
class ArchiveConversation(TypedDict):
    """``services.archive.view_conversation``: a conversation in context, its versions in order;
    ``next_after_version`` null on the last page."""

    conversation: ArchiveConversationHead
    members: list[ConversationMember]
    membership_log: list[ArchiveMembershipEntry]
    versions: list[ArchiveVersion]
    next_after_version: int | None


@with_config(OUT)
class ArchiveOriginal(TypedDict):
    """``services.archive.original_text``: a masked message's original, decrypted for this answer only."""

    version_id: int
    message_id: int
    original_text: str


@with_config(OUT)
class GroupFileConversation(TypedDict):
    id: int | None
    name: str


@with_config(OUT)
class GroupFileEvent(TypedDict):
    """What a member did to a group file (from the audit trail): ``old``/``new`` for a rename, ``to``
    for a move, ``reason`` for a removal."""

    action: str
    at: str
    by: str
    by_role: str
    old: NotRequired[str]
    new: NotRequired[str]
    to: NotRequired[str]
    reason: NotRequired[str]


@with_config(OUT)
class GroupFile(TypedDict):
    """``services.archive_space.views``: a group-space file or folder as the archive shows it (``size``,
    ``scan_status`` null for a folder; ``sha256`` null when not known)."""

    id: int
    kind: Literal["folder", "file"]
    name: str
    size: int | None
    mime: str
    sha256: str | None
    scan_status: str | None
    conversation: GroupFileConversation
    folder_path: str
    folder_id: int | None
    uploader: ArchivePerson
    created_at: str
    updated_at: str
    state: Literal["present", "deleted", "in_deleted_folder", "removed"]
    deleted_at: str | None
    deleted_by: str | None
    removed_at: str | None
    removed_reason: str | None
    moved: bool
    renamed: bool
    history: list[GroupFileEvent]
    content_kept: bool


@with_config(OUT)
class GroupFiles(TypedDict):
    """``services.archive_space.search``: newest first; ``next_cursor`` null at the end."""

    results: list[GroupFile]
    next_cursor: int | None


# ---- exports and dual control -----------------------------------------------------------------------------


@with_config(OUT)
class ExportFilters(TypedDict):
    """``services.export.Filters.as_dict``."""

    user: str | None
    unit: str | None
    conversation_id: int | None
    since: str | None
    until: str | None


@with_config(OUT)
class ExportRecord(TypedDict):
    """``services.export.list_exports``: one export made (its name, never the server's path);
    ``downloadable`` for the officer who made it only."""

    id: int
    name: str
    actor_id: int | None
    actor_name: str
    filters: ExportFilters
    counts: dict[str, int]
    manifest_sha256: str
    created_at: str
    downloadable: bool


@with_config(OUT)
class ExportList(TypedDict):
    exports: list[ExportRecord]
    next_offset: int | None


@with_config(OUT)
class ExportDone(TypedDict):
    """``routes.compliance._run_export``: an export written (``request_id``: the approved request it
    carried out, null without one)."""

    status: Literal["done"]
    id: int | None
    name: str
    counts: dict[str, int]
    files: int
    request_id: int | None


@with_config(OUT)
class DualControlFlags(TypedDict):
    """``services.dual_control._settings``: which heavy accesses need a second compliance officer."""

    export_person: bool
    export_unit: bool
    originals: bool


@with_config(OUT)
class DualControlSettings(TypedDict):
    """``services.dual_control.settings`` (and ``set_settings``)."""

    dual_control: DualControlFlags
    kinds: list[str]


@with_config(OUT)
class AccessRequest(TypedDict):
    """``services.dual_control._views``: a request for heavy access, pending until another officer
    decides; ``params`` are what it will do (an export's filters, a version, a policy, a hold)."""

    id: int
    kind: str
    kinds: list[str]
    params: dict[str, Any]
    reason_category: str
    reason: str
    status: Literal["pending", "approved", "rejected", "used"]
    requested_by: Person
    requested_at: str
    decided_by: Person | None
    decided_at: str | None
    decision_note: str
    used_at: str | None


@with_config(OUT)
class AccessRequests(TypedDict):
    """``services.dual_control.list_requests``, with the dual-control settings in force."""

    requests: list[AccessRequest]
    next_offset: int | None
    dual_control: DualControlFlags


@with_config(OUT)
class AccessRequestFiled(TypedDict):
    """202: the access needs a second compliance officer; the request was filed (``request``)."""

    status: Literal["pending"]
    request: AccessRequest


# ---- review, holds, retention -----------------------------------------------------------------------------


@with_config(OUT)
class ReviewItem(TypedDict):
    """``services.review._view`` with the message's files: a held or reported message. Who is not a
    compliance officer (secadmin) gets ``text`` empty, ``content_hidden`` true and no attachments."""

    id: int
    kind: str
    status: str
    message_id: int
    conversation_id: int
    subject: Person
    reporter_id: int | None
    reason: str
    text: str
    content_hidden: bool
    dlp_findings: list[DlpFinding]
    created_at: str
    age_seconds: int
    sla_breached: bool
    decided_at: str | None
    decided_by: int | None
    decision_note: str
    attachments: list[Attachment]


@with_config(OUT)
class ReviewQueue(TypedDict):
    """``services.review.list_queue``: oldest first, with the open count and the oldest open item's age
    (null when none is open)."""

    items: list[ReviewItem]
    next_offset: int | None
    open: int
    oldest_open_age_seconds: int | None
    sla_hours: int


@with_config(OUT)
class ReviewDecided(TypedDict):
    """``services.review.decide``: a violation adds the person's count and sanction level."""

    id: int
    status: str
    violations: NotRequired[int]
    level: NotRequired[str]


@with_config(OUT)
class ViolationRecord(TypedDict):
    id: int
    message_id: int | None
    level: str
    note: str
    recorded_by: int
    created_at: str


@with_config(OUT)
class Violations(TypedDict):
    """``services.review.violations_of``: a person's recorded violations, oldest first."""

    violations: list[ViolationRecord]


@with_config(OUT)
class ReportFiled(TypedDict):
    """``services.review.report_message``: the review item an employee's report opened."""

    id: int
    status: str


@with_config(OUT)
class LegalHold(TypedDict):
    """``services.retention._hold_view``; the list (``compliance_console.holds_with_names``) adds the
    person's and the conversation's names where it has them."""

    id: int
    user_id: int | None
    conversation_id: int | None
    since: str | None
    until: str | None
    reason: str
    placed_by: int
    placed_at: str
    released_at: str | None
    released_by: int | None
    release_reason: str
    user_name: NotRequired[str]
    username: NotRequired[str]
    conversation_title: NotRequired[str]


@with_config(OUT)
class LegalHolds(TypedDict):
    holds: list[LegalHold]


@with_config(OUT)
class _Done(TypedDict):
    status: Literal["done"]


@with_config(OUT)
class LegalHoldReleased(_Done, LegalHold):
    """``services.retention.release_hold`` carried out (by the asker of an approved request): ``status``
    then the hold."""


@with_config(OUT)
class RetentionPolicy(TypedDict):
    scope: str
    messages_days: int
    files_days: int


@with_config(OUT)
class RetentionPolicies(TypedDict):
    """``services.retention.list_policies``."""

    policies: list[RetentionPolicy]


@with_config(OUT)
class RetentionPolicySet(_Done, RetentionPolicy):
    """``services.retention.set_policy`` in force (a lengthening, or an approved shortening)."""


@with_config(OUT)
class RetentionRunRecord(TypedDict):
    """``services.retention.list_runs``: a run and what it destroyed (``dry_run`` 1 for a rehearsal)."""

    id: int
    started_at: str
    finished_at: str | None
    actor: str
    counts: dict[str, int]


@with_config(OUT)
class RetentionRuns(TypedDict):
    runs: list[RetentionRunRecord]


@with_config(OUT)
class RetentionRunResult(TypedDict):
    """``services.retention.run``: what went (or would go, ``dry_run``); a real run adds how many data
    keys were destroyed."""

    run_id: int
    dry_run: bool
    counts: dict[str, int]
    data_keys_destroyed: NotRequired[int]


# ---- the audit trail (auditor) ------------------------------------------------------------------------------


@with_config(OUT)
class AuditVerification(TypedDict):
    """``routes.compliance.audit_verify`` from ``audit_checkpoints.VerifyReport``."""

    ok: bool
    count: int
    last_id: int | None
    first_bad_id: int | None
    reason: str
    anchored_at: int
    head_checked: bool


@with_config(OUT)
class AuditRecord(TypedDict):
    """``services.audit_read._view``: one record, names beside the ids (``target_name``, ``detail_names``)."""

    id: int
    at: str
    actor_id: int | None
    actor_username: str
    actor_name: str
    actor_role: str
    ip: str
    client: str
    action: str
    target: str
    target_name: str
    outcome: str
    details: dict[str, Any]
    detail_names: dict[str, str]
    hash: str


@with_config(OUT)
class AuditPerson(TypedDict):
    """``services.audit_read.resolve_people``: a person a query named."""

    id: int
    username: str
    name: str
    employee_no: str


@with_config(OUT)
class AuditTrail(TypedDict):
    """``services.audit_read.search``: newest first; ``people`` when the query named a person."""

    records: list[AuditRecord]
    next_offset: int | None
    people: NotRequired[list[AuditPerson]]


# ---- sessions, two-factor, login alerts ----------------------------------------------------------------------


@with_config(OUT)
class SessionRow(TypedDict):
    """``services.auth.list_sessions``: a live session (``current``: the caller's own)."""

    id: int
    user_id: int
    username: str
    name: str
    created_at: str
    last_seen_at: str
    ip: str
    user_agent: str
    current: bool


@with_config(OUT)
class Sessions(TypedDict):
    sessions: list[SessionRow]


@with_config(OUT)
class TotpEnrollment(TypedDict):
    """``services.auth.totp_enroll``: the secret, as a URI and a QR code (SVG text)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


@with_config(OUT)
class RecoveryCodes(TypedDict):
    """``services.auth.totp_verify``: shown once."""

    recovery_codes: list[str]


@with_config(OUT)
class LoginAlertRow(TypedDict):
    """``services.auth.login_alerts``: a flagged login (the live frame's ``alert`` has no ``user_agent``)."""

    id: int
    user_id: int
    username: str
    name: str
    ip: str
    user_agent: str
    reasons: list[str]
    created_at: str


@with_config(OUT)
class LoginAlerts(TypedDict):
    alerts: list[LoginAlertRow]


@with_config(OUT)
class Presence(TypedDict):
    """``services.presence.contacts_presence``: the shown status by user id (object keys are text)."""

    presence: dict[str, str]


@with_config(OUT)
class ClientConfig(TypedDict):
    """``routes.me.client_config``: the settings a client needs. Minutes are as configured: an integer
    by default, a fraction when set so (``int | float`` keeps whichever)."""

    idle_lock_minutes: int | float
    locale: str
    max_message_length: int
    max_image_bytes: int
    max_file_bytes: int
    files_without_scanner: str
    antivirus: Literal["available", "unavailable"]
    recall_window_minutes: int | float


@with_config(OUT)
class Health(TypedDict):
    """``routes.me.health``."""

    status: Literal["ok"]
    database: Literal["sqlite", "postgresql"]
    bus: str
    connections: int
    antivirus: Literal["available", "unavailable"]


# ---- the account console's acts and their approvals (sysadmin, secadmin) -------------------------------------


@with_config(OUT)
class ApprovalPerson(TypedDict):
    id: int
    name: str
    username: str
    roles: list[str]


@with_config(OUT)
class Approval(TypedDict):
    """``services.approvals._view``: a request for a second administrator (``payload``: what it will
    change; ``can_decide``: the caller may decide it)."""

    id: int
    kind: str
    status: Literal["pending", "approved", "rejected"]
    payload: dict[str, Any]
    target: ApprovalPerson | None
    requested_by: ApprovalPerson | None
    requester_role: str
    decider_role: str
    requested_at: str
    decided_by: ApprovalPerson | None
    decided_at: str | None
    decision_reason: str
    can_decide: bool


@with_config(OUT)
class ApprovalFiled(TypedDict):
    """202 (``services.users._filed``): an act on a privileged account, filed for a second administrator."""

    pending: Literal[True]
    approval: Approval


@with_config(OUT)
class Approvals(TypedDict):
    """``services.approvals.list_approvals``."""

    approvals: list[Approval]
    pending_count: int
    next_offset: int | None


@with_config(OUT)
class PasswordReset(TypedDict):
    """``services.users._apply_reset_password``: the one-time password, shown once."""

    password: str
    disabled: bool


@with_config(OUT)
class Departure(TypedDict):
    """``services.users._apply_depart``: sessions ended, groups left, where the drive went."""

    user_id: int
    sessions_ended: int
    groups_left: int
    drive: DriveHandover


@with_config(OUT)
class AdminUserReissued(AdminUser):
    """``services.users._apply_roles`` approved: an account given the compliance role gets a new one-time
    password (``password``, to its approver only)."""

    password: NotRequired[str]


@with_config(OUT)
class ApprovalDone(TypedDict):
    """``services.approvals.approve``: the approval and the act's answer (an account, a one-time
    password, a departure)."""

    approval: Approval
    result: AdminUserReissued | PasswordReset | Departure


@with_config(OUT)
class ApprovalRejected(TypedDict):
    approval: Approval
