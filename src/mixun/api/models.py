"""Response models: the shapes the core resources answer, as the OpenAPI document states them.

Each model describes what one view builder returns (the builder is named on the model), field for field,
in the builder's order. ``NotRequired`` marks a key the view leaves out in some cases (absent, not null);
``X | None`` a key always present that may be null.

They are ``TypedDict``s (validated by pydantic as dicts), configured so that FastAPI's response check can
never change an answer: extra keys are kept (``extra="allow"``), nothing is filled in, nothing coerced
(the types are the ones the views produce). The document still states each shape as closed (the
``additionalProperties`` pydantic would add for ``allow`` is taken out): a key added to a view without
its model fails tests/api/test_response_models.py, which checks real answers against the document with
extra keys refused, and the TypeScript types generated from it (web/src/api-types.ts, docs/api.md).

The WebSocket frames are here too (``Frame``, a union discriminated by ``type``): the OpenAPI document
has no place for them by itself, so api/openapi.py adds them to its components.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Discriminator, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from mixun.domain.events import EventType


def _closed(schema: dict[str, Any]) -> None:
    schema.pop("additionalProperties", None)


OUT = ConfigDict(extra="allow", json_schema_extra=_closed)


# ---- people ---------------------------------------------------------------------------------------------

@with_config(OUT)
class Me(TypedDict):
    """``services.auth.me_view``: the caller's account; a locked session gets only the lock screen's part."""

    id: int
    username: str
    name: str
    employee_no: NotRequired[str | None]
    phone: NotRequired[str | None]
    unit: NotRequired[str]
    unit_id: NotRequired[int | None]
    position: NotRequired[str]
    status: NotRequired[str]
    work_status: NotRequired[str]
    roles: list[str]
    is_admin: NotRequired[bool]
    hr_verified: NotRequired[bool]
    totp_enabled: NotRequired[bool]
    must_change_password: bool
    must_enroll_totp: bool
    must_accept_rules: NotRequired[bool]
    locked: bool


@with_config(OUT)
class Login(TypedDict):
    """``services.auth.login``'s answer: the session's token and the account."""

    token: str
    user: Me
    must_change_password: bool
    must_enroll_totp: bool
    must_accept_rules: bool


@with_config(OUT)
class Person(TypedDict):
    """Someone named in a view: a sender, a reacting member, whoever set a notice."""

    id: int
    name: str


# ---- messages -------------------------------------------------------------------------------------------

@with_config(OUT)
class Attachment(TypedDict):
    """``services.message_views.attachment_view``; the archive's views add ``archive_only`` and ``sha256``."""

    id: int
    kind: str
    mime: str
    size: int
    width: int | None
    height: int | None
    filename: str | None
    scan_status: str
    archive_only: NotRequired[bool]
    sha256: NotRequired[str]


@with_config(OUT)
class DlpFinding(TypedDict):
    """One DLP finding, as its sender is shown it (the raw value never: ``masked`` only)."""

    detector: str
    start: int
    end: int
    masked: str
    action: str
    category: NotRequired[str | None]


@with_config(OUT)
class MessageDlp(TypedDict):
    """What DLP did to a message: members see ``mask`` alone; the sender also the findings."""

    action: str
    findings: NotRequired[list[DlpFinding]]


@with_config(OUT)
class UrgentRecipient(TypedDict):
    id: int
    name: str
    phone: str | None
    read: bool


@with_config(OUT)
class Reaction(TypedDict):
    emoji: str
    users: list[Person]


@with_config(OUT)
class Message(TypedDict):
    """``services.message_views.message_view``: one message as a member sees it (history, sends, edits,
    recalls, events). Sender-only parts (``client_id``, the findings, ``urgent_recipients``) go to its
    sender; ``reactions`` come with history pages; ``bundle_title`` with a merged forward just sent."""

    id: int
    conversation_id: int
    seq: int
    sender: Person
    kind: str
    text: str
    created_at: str
    edited: bool
    edited_at: str | None
    recalled: bool
    urgent: bool
    reply_to: int | None
    mentions: list[int]
    attachments: list[Attachment]
    read_count: int
    recipient_count: int
    client_id: NotRequired[str | None]
    content_destroyed: NotRequired[bool]
    dlp: NotRequired[MessageDlp]
    urgent_recipients: NotRequired[list[UrgentRecipient]]
    reactions: NotRequired[list[Reaction]]
    bundle_title: NotRequired[str]


@with_config(OUT)
class MessagePage(TypedDict):
    """A page of history, in ``seq`` order."""

    messages: list[Message]


@with_config(OUT)
class SearchHit(TypedDict):
    message_id: int
    conversation_id: int
    seq: int
    sender: Person
    text: str
    created_at: str


@with_config(OUT)
class SearchResults(TypedDict):
    """``services.archive.search_own``: the caller's own messages matching the words, newest first."""

    results: list[SearchHit]
    next_cursor: int | None


@with_config(OUT)
class Drafts(TypedDict):
    """Unsent composer texts by conversation id (JSON object keys are text)."""

    drafts: dict[str, str]


# ---- conversations --------------------------------------------------------------------------------------

@with_config(OUT)
class ConversationMember(TypedDict):
    id: int
    name: str
    role: str


@with_config(OUT)
class NoticeAuthor(TypedDict):
    """Whoever set a group notice: ``id`` is null for a notice set by no one (an import or a row written
    before notices recorded their author)."""

    id: int | None
    name: str


@with_config(OUT)
class Notice(TypedDict):
    text: str
    version: int
    by: NoticeAuthor
    at: str | None


@with_config(OUT)
class ConversationPublic(TypedDict):
    """``services.conversations.public_view``: the part of a conversation that is the same for every
    member (what conversation events carry)."""

    id: int
    kind: Literal["direct", "group"]
    name: str | None
    members: list[ConversationMember]
    last_seq: int
    created_at: str
    updated_at: str
    notice: Notice | None
    all_may_mention_all: bool


@with_config(OUT)
class Conversation(ConversationPublic):
    """``services.conversations.conversation_view``, with the caller's own part (``personal``) where the
    route adds it, and the list's counters and last message in GET /conversations."""

    my_role: str | None
    classification: str
    pinned: NotRequired[bool]
    muted: NotRequired[bool]
    notice_unread: NotRequired[bool]
    unread_count: NotRequired[int]
    mention_count: NotRequired[int]
    urgent_unread: NotRequired[int]
    read_seq: NotRequired[int]
    last_message: NotRequired[Message | None]
    created: NotRequired[bool]


@with_config(OUT)
class ConversationList(TypedDict):
    conversations: list[Conversation]


@with_config(OUT)
class GroupPending(TypedDict):
    """202 from POST /conversations: the group needs a unit head's approval; the request was filed."""

    pending: bool
    request: dict[str, Any]


# ---- directory ------------------------------------------------------------------------------------------

@with_config(OUT)
class DirectoryPerson(TypedDict):
    """``services.directory._views``: a colleague as the directory shows them; ``phone`` only on a
    person's own card (GET /directory/users/{id}), never in a search."""

    id: int
    username: str
    name: str
    employee_no: str | None
    unit: str
    unit_id: int | None
    position: str
    status: str
    phone: NotRequired[str | None]
    hr_verified: bool


@with_config(OUT)
class DirectoryPage(TypedDict):
    """``services.directory.search_users``: best match first; ``next_offset`` null on the last page."""

    users: list[DirectoryPerson]
    next_offset: int | None


@with_config(OUT)
class DirectoryUnit(TypedDict):
    """``services.users.list_units``: an open unit."""

    id: int
    name: str
    path: str
    parent_id: int | None


@with_config(OUT)
class DirectoryUnits(TypedDict):
    units: list[DirectoryUnit]


# ---- drive ----------------------------------------------------------------------------------------------

@with_config(OUT)
class DriveItem(TypedDict):
    """``services.drive.item_view``: a folder or file of a personal drive or a group's space. ``handed_from``
    marks a departed colleague's drive handed over; ``purge_at`` (when the recycle bin destroys it, null
    in a group space) comes with the bin's list and a delete."""

    id: int
    source: Literal["drive"]
    kind: Literal["folder", "file"]
    name: str
    parent_id: int | None
    conversation_id: int | None
    size: int
    mime: str
    sha256: str
    scan_status: str | None
    uploader_id: int
    uploader_name: str
    created_at: str
    updated_at: str
    last_opened_at: str
    flagged_unused: bool
    deleted_at: str | None
    handed_from: NotRequired[int]
    handed_from_name: NotRequired[str]
    purge_at: NotRequired[str | None]


@with_config(OUT)
class DriveSentFile(TypedDict):
    """``services.drive._sent_files``: a file sent in a group's chat, listed in its space (``id`` is the
    attachment's; it downloads through the message)."""

    id: int
    source: Literal["message"]
    kind: Literal["file"]
    name: str | None
    size: int
    mime: str
    scan_status: str
    uploader_id: int
    message_id: int
    created_at: str
    uploader_name: str


@with_config(OUT)
class DriveSpace(TypedDict):
    """Whose the listing is: a person's drive (``owner_id``) or a group's space (``conversation_id``)."""

    owner_id: int | None
    conversation_id: int | None


@with_config(OUT)
class DriveFolderStep(TypedDict):
    id: int
    name: str


@with_config(OUT)
class DriveUsage(TypedDict):
    """``services.drive._usage``: bytes used and reserved by open uploads, the quota and where it comes from."""

    used: int
    reserved: int
    quota: int
    quota_source: str
    file_limit: int
    chunk_size: int


@with_config(OUT)
class DriveListing(TypedDict):
    """``services.drive.list_items``: one folder (or a search); a personal drive adds ``usage``, a group's
    space the caller's ``role`` in the group."""

    space: DriveSpace
    parent_id: int | None
    path: list[DriveFolderStep]
    items: list[DriveItem]
    sent_files: list[DriveSentFile]
    usage: NotRequired[DriveUsage]
    role: NotRequired[str]


@with_config(OUT)
class DriveItems(TypedDict):
    """The recycle bin (``days`` before it destroys) or the unused files (``days`` unopened); ``days`` as
    configured: an integer by default, a fraction when set so (the model keeps which)."""

    items: list[DriveItem]
    days: int | float


@with_config(OUT)
class DriveUpload(TypedDict):
    """``services.drive.start_upload`` / ``upload_status``: which chunks the server holds (the status adds
    where the file will go)."""

    id: str
    name: str
    size: int
    chunk_size: int
    chunks: int
    received: list[int]
    conversation_id: NotRequired[int | None]
    parent_id: NotRequired[int | None]


@with_config(OUT)
class DriveChunk(TypedDict):
    index: int
    received: int
    chunks: int


@with_config(OUT)
class DriveReportFiled(TypedDict):
    id: int
    item_id: int
    status: str


@with_config(OUT)
class DriveRemovedItem(TypedDict):
    id: int
    name: str
    removed_at: str | None
    reason: str
    conversation_id: int | None


@with_config(OUT)
class DriveRemoved(TypedDict):
    """``services.drive.removed_notices``: what secadmin removed from the caller's files, and why."""

    items: list[DriveRemovedItem]


@with_config(OUT)
class DriveBlockedType(TypedDict):
    extension: str
    label: str
    added_at: str


@with_config(OUT)
class DriveBlockedTypes(TypedDict):
    types: list[DriveBlockedType]


@with_config(OUT)
class DriveQuota(TypedDict):
    """``services.drive._quota_view``: a person's quota (with ``used``) or a unit's (``name`` its path)."""

    id: int
    user_id: int | None
    unit_id: int | None
    quota_bytes: int
    set_at: str
    name: str
    used: NotRequired[int]


@with_config(OUT)
class DriveQuotas(TypedDict):
    default_quota: int
    file_limit: int
    quotas: list[DriveQuota]


@with_config(OUT)
class DriveReportedItem(TypedDict):
    """A reported file as secadmin sees it: its name, type, size, place and owner, never its content."""

    id: int
    name: str
    size: int
    mime: str
    scan_status: str
    owner_id: int | None
    owner_name: str
    uploader_id: int
    uploader_name: str
    conversation_id: int | None
    conversation_name: str | None
    removed: bool


@with_config(OUT)
class DriveReport(TypedDict):
    id: int
    status: str
    reason: str
    created_at: str
    reporter_id: int
    reporter_name: str
    decision_reason: str | None
    decided_at: str | None
    item: DriveReportedItem


@with_config(OUT)
class DriveReports(TypedDict):
    """``services.drive.reports``."""

    reports: list[DriveReport]


@with_config(OUT)
class DriveDecision(TypedDict):
    id: int
    status: str
    item_id: int


@with_config(OUT)
class DriveHandoverRow(TypedDict):
    """A departed person's drive: waiting for HR (``holder_id`` null) or with whom it is now."""

    user_id: int
    name: str
    username: str
    unit: str
    departed_at: str | None
    files: int
    bytes: int
    holder_id: int | None
    holder_name: str | None
    manager_id: int | None
    manager_name: str | None


@with_config(OUT)
class DriveHandovers(TypedDict):
    handovers: list[DriveHandoverRow]


@with_config(OUT)
class DriveHandover(TypedDict):
    """``services.drive_handover.hand_over_txn``: to whom the drive went (null: waiting for HR), into
    which folder of theirs, and how much."""

    handed_to: int | None
    folder_id: NotRequired[int]
    files: int
    bytes: int


# ---- consoles: accounts (sysadmin) and fault reports (ops) ----------------------------------------------

@with_config(OUT)
class AdminUser(TypedDict):
    """``services.users.admin_view``: an account as the user console shows it; the list adds the kinds
    of the approvals pending on it."""

    id: int
    username: str
    name: str
    employee_no: str | None
    unit: str
    unit_id: int | None
    position: str
    phone: str | None
    roles: list[str]
    disabled: bool
    locked: bool
    totp_enabled: bool
    must_change_password: bool
    last_login_at: str | None
    created_at: str
    departed: bool
    departed_at: str | None
    departure_reason: str | None
    hr_verified: bool
    privileged: bool
    pending_approvals: NotRequired[list[str]]


@with_config(OUT)
class AdminUserPage(TypedDict):
    """``services.users.admin_list_users``; ``next_offset`` null on the last page."""

    users: list[AdminUser]
    next_offset: int | None


@with_config(OUT)
class FaultFile(TypedDict):
    name: str
    mime: str | None
    size: int


@with_config(OUT)
class FaultReply(TypedDict):
    id: int
    author: Person
    text: str
    created_at: str
    by_handler: bool


@with_config(OUT)
class FaultReport(TypedDict):
    """``services.faults._view``: a fault report and its clock (``seconds_left`` negative: overdue by
    that much; it stops at resolution). ``replies`` come with one report (GET, reply, resolve, filing)."""

    id: int
    title: str
    location: str
    description: str
    status: Literal["open", "in_progress", "resolved"]
    reporter: Person
    assignee: Person | None
    resolution: str
    created_at: str
    due_at: str
    answered_at: str | None
    resolved_at: str | None
    escalated_at: str | None
    seconds_left: int
    overdue: bool
    file: FaultFile | None
    replies: NotRequired[list[FaultReply]]


@with_config(OUT)
class FaultReports(TypedDict):
    """``services.faults.my_reports``: the caller's own reports."""

    reports: list[FaultReport]


@with_config(OUT)
class FaultCounts(TypedDict):
    active: int
    overdue: int
    resolved: int


@with_config(OUT)
class FaultQueue(TypedDict):
    """``services.faults.queue``: the handlers' queue, with the console's tab counts and the deadline."""

    reports: list[FaultReport]
    counts: FaultCounts
    sla_hours: float


@with_config(OUT)
class FaultHandler(TypedDict):
    id: int
    name: str
    username: str


@with_config(OUT)
class FaultHandlers(TypedDict):
    handlers: list[FaultHandler]


# ---- consoles: DLP (secadmin) -----------------------------------------------------------------------------

@with_config(OUT)
class DlpHit(TypedDict):
    """One DLP hit as secadmin's console lists it: who, where, what was done, the value masked (never raw)."""

    id: int
    user_id: int
    name: str
    unit: str
    detector: str
    category: str | None
    action: str
    channel: str
    target: str
    masked: str
    created_at: str


@with_config(OUT)
class DlpPersonHits(TypedDict):
    """A person's hits counted, with the sanction they stand at (``suspended_until`` null: not suspended)."""

    user_id: int
    name: str
    hits: int
    level: str
    suspended_until: str | None


@with_config(OUT)
class DlpHits(TypedDict):
    """``services.dlp.list_hits``: newest first, the people with most hits, ``next_offset`` null at the end."""

    hits: list[DlpHit]
    by_person: list[DlpPersonHits]
    next_offset: int | None


# ---- WebSocket frames -----------------------------------------------------------------------------------

@with_config(OUT)
class SystemLine(TypedDict):
    """``services.conversations.system_lines``: a group's system line (joined, invited, removed, left,
    renamed, owner...)."""

    id: int
    conversation_id: int
    action: str
    detail: str
    user: Person
    actor: Person
    at: str


@with_config(OUT)
class HelloFrame(TypedDict):
    """First frame on a connection: ``last_event_seq`` is the caller's event counter now."""

    type: Literal["hello"]
    user_id: int
    last_event_seq: int


@with_config(OUT)
class PongFrame(TypedDict):
    type: Literal["pong"]


@with_config(OUT)
class ErrorFrame(TypedDict):
    """The client sent something the socket does not take (``code`` bad_request or validation_failed)."""

    type: Literal["error"]
    code: str
    field: NotRequired[str]


@with_config(OUT)
class _Event(TypedDict):
    """Every event frame: ``event_seq`` the recipient's own gap-free counter (absent on live-only notices)."""

    event_seq: NotRequired[int]


@with_config(OUT)
class MessageFrame(_Event):
    type: Literal[EventType.MESSAGE_CREATED, EventType.MESSAGE_EDITED]
    conversation_id: int
    message: Message


@with_config(OUT)
class MessageRecalledFrame(_Event):
    type: Literal[EventType.MESSAGE_RECALLED]
    conversation_id: int
    message: Message
    recalled_by: int


@with_config(OUT)
class ReactionsFrame(_Event):
    type: Literal[EventType.MESSAGE_REACTIONS]
    conversation_id: int
    message_id: int
    reactions: list[Reaction]


@with_config(OUT)
class ReadFrame(_Event):
    """To the senders of the messages read: ``user_id`` read up to ``seq``."""

    type: Literal[EventType.CONVERSATION_READ]
    conversation_id: int
    user_id: int
    seq: int


@with_config(OUT)
class ConversationFrame(_Event):
    type: Literal[EventType.CONVERSATION_CREATED, EventType.CONVERSATION_UPDATED,
                  EventType.CONVERSATION_MEMBER_ADDED, EventType.CONVERSATION_MEMBER_REMOVED]
    conversation: ConversationPublic
    system: NotRequired[list[SystemLine]]
    user_ids: NotRequired[list[int]]


@with_config(OUT)
class DissolvedFrame(_Event):
    type: Literal[EventType.CONVERSATION_DISSOLVED]
    conversation_id: int
    system: list[SystemLine]


@with_config(OUT)
class PrefsFrame(_Event):
    """The caller's own 置顶 / 消息免打扰 changed (in another tab or device)."""

    type: Literal[EventType.CONVERSATION_PREFS]
    conversation_id: int
    pinned: bool
    muted: bool
    notice_unread: bool


@with_config(OUT)
class PresenceFrame(_Event):
    type: Literal[EventType.PRESENCE_CHANGED]
    user_id: int
    status: str
    work_status: NotRequired[str]


@with_config(OUT)
class LoginAlert(TypedDict):
    id: int
    user_id: int
    username: str
    name: str
    ip: str
    reasons: list[str]
    created_at: str


@with_config(OUT)
class LoginFlaggedFrame(_Event):
    type: Literal[EventType.SECURITY_LOGIN_FLAGGED]
    alert: LoginAlert


@with_config(OUT)
class AttachmentScannedFrame(_Event):
    """``services.attachments`` after the virus scan: to the members (to the sender alone while the message
    is held for review)."""

    type: Literal[EventType.ATTACHMENT_SCANNED]
    conversation_id: int
    message_id: int
    attachment_id: int
    scan_status: str


@with_config(OUT)
class DlpViolationNoticeFrame(_Event):
    """``services.dlp`` escalation: to the person (and, from ``unit_notice`` on, their unit heads);
    ``suspended_until`` null when sending is not suspended."""

    type: Literal[EventType.DLP_VIOLATION_NOTICE]
    user_id: int
    name: str
    level: str
    violations: int
    suspended_until: str | None


@with_config(OUT)
class AnnouncementBrief(TypedDict):
    """``services.announcements._brief``: an announcement's heading (the publish answer, the events; the
    lists add their parts, api/models_people.py)."""

    id: int
    title: str
    must_confirm: bool
    pinned: bool
    created_at: str
    expires_at: str | None


@with_config(OUT)
class AnnouncementFrame(_Event):
    """A new announcement for the recipient, or a reminder to read (or confirm) one."""

    type: Literal[EventType.ANNOUNCEMENT_PUBLISHED, EventType.ANNOUNCEMENT_REMINDER]
    announcement: AnnouncementBrief


@with_config(OUT)
class ApplicationChangedFrame(_Event):
    """``services.applications._tell``: an account application moved on (to its applicant and whoever
    decides next)."""

    type: Literal[EventType.APPLICATION_CHANGED]
    application_id: int
    status: str
    name: str


@with_config(OUT)
class GroupRequestChangedFrame(_Event):
    """``services.group_requests``: a request for a group with other units moved on (to its requester and
    the unit heads who decide it)."""

    type: Literal[EventType.GROUP_REQUEST_CHANGED]
    request_id: int
    status: str
    name: str


@with_config(OUT)
class DriveSpaceChangedFrame(_Event):
    """A group's space changed (an upload, a folder, a rename...): its members reload it."""

    type: Literal[EventType.DRIVE_SPACE_CHANGED]
    conversation_id: int


@with_config(OUT)
class DriveUnusedFrame(_Event):
    """``services.drive.flag_unused``: ``count`` of the owner's files unopened for ``days`` (as configured:
    an integer by default, a fraction when set so)."""

    type: Literal[EventType.DRIVE_UNUSED]
    count: int
    days: int | float


@with_config(OUT)
class DriveRemovedFrame(_Event):
    """secadmin removed a reported file of the recipient's, with the reason."""

    type: Literal[EventType.DRIVE_REMOVED]
    item_id: int
    name: str
    reason: str


@with_config(OUT)
class DriveHandedOverFrame(_Event):
    """``services.drive_handover.hand_over_txn``: a departed colleague's drive is now the recipient's, in
    ``folder_id``."""

    type: Literal[EventType.DRIVE_HANDED_OVER]
    from_user_id: int
    from_name: str
    folder_id: int
    files: int


Frame = Annotated[
    HelloFrame | PongFrame | ErrorFrame | MessageFrame | MessageRecalledFrame | ReactionsFrame | ReadFrame
    | ConversationFrame | DissolvedFrame | PrefsFrame | PresenceFrame | LoginFlaggedFrame | AttachmentScannedFrame
    | DlpViolationNoticeFrame | AnnouncementFrame | ApplicationChangedFrame | GroupRequestChangedFrame
    | DriveSpaceChangedFrame | DriveUnusedFrame | DriveRemovedFrame | DriveHandedOverFrame,
    Discriminator("type"), Field(title="Frame")]
FRAME = TypeAdapter(Frame)
