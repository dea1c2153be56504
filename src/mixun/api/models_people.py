"""Response models of routes/people.py: the usage and confidentiality rules, announcements, function
switches and the account review (ADR 0018: open TypedDicts, closed in the document; each names its
builder and follows its field order; ``NotRequired`` is absent, ``X | None`` present and maybe null)."""

from __future__ import annotations

from typing import NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from mixun.api.models import OUT, AnnouncementBrief

# ---- the usage and confidentiality rules ----------------------------------------------------------------


@with_config(OUT)
class RulesText(TypedDict):
    """``services.rules._view``: one published version of the rules."""

    version: int
    title: str
    body: str
    published_at: str


@with_config(OUT)
class RulesCurrent(TypedDict):
    """``services.rules.get_current``: the current version (null: none published yet) and the caller's
    standing; ``due_at`` (when the acceptance runs out) comes once something is published."""

    rules: RulesText | None
    accepted_at: str | None
    must_accept: bool
    due_at: NotRequired[str | None]


@with_config(OUT)
class RulesAccepted(TypedDict):
    """``services.rules.accept``."""

    version: int
    accepted_at: str


@with_config(OUT)
class RulesVersion(RulesText):
    """``services.rules.list_versions``: a version with how many people accepted it."""

    accepted: int


@with_config(OUT)
class RulesVersions(TypedDict):
    versions: list[RulesVersion]


@with_config(OUT)
class RulesAcceptanceRow(TypedDict):
    user_id: int
    username: str
    name: str
    employee_no: str | None
    unit: str
    accepted_at: str | None
    accepted: bool


@with_config(OUT)
class RulesAcceptance(TypedDict):
    """``services.rules.compliance``: who has (not) accepted the current version (``version`` null and no
    ``next_offset``: nothing published yet)."""

    version: int | None
    total: int
    pending: int
    accepted: int
    people: list[RulesAcceptanceRow]
    next_offset: NotRequired[int | None]


# ---- announcements --------------------------------------------------------------------------------------

@with_config(OUT)
class AnnouncementFile(TypedDict):
    """``services.announcements._file_view``: a file of an announcement (or uploaded for one)."""

    id: int
    filename: str
    mime: str
    size: int
    scan_status: str


@with_config(OUT)
class AnnouncementReceived(AnnouncementBrief):
    """``services.announcements.list_mine``: an announcement as its recipient sees it."""

    body: str
    author: str
    read_at: str | None
    confirmed_at: str | None
    files: list[AnnouncementFile]


@with_config(OUT)
class AnnouncementBanner(TypedDict):
    id: int
    title: str
    must_confirm: bool


@with_config(OUT)
class MyAnnouncements(TypedDict):
    """``services.announcements.list_mine``: pinned first, then newest; ``banner``: still to read or confirm."""

    announcements: list[AnnouncementReceived]
    next_offset: int | None
    banner: list[AnnouncementBanner]
    unread: int


@with_config(OUT)
class AnnouncementReadState(TypedDict):
    """``services.announcements.mark_read``."""

    id: int
    read_at: str
    confirmed_at: str | None


@with_config(OUT)
class AnnouncementPublished(AnnouncementBrief):
    """``services.announcements.list_published``: an announcement as its publisher sees it, with counts."""

    body: str
    author: str
    to_all: bool
    units: list[str]
    recipients: int
    read: int
    confirmed: int
    withdrawn_at: str | None
    files: list[AnnouncementFile]


@with_config(OUT)
class PublishedAnnouncements(TypedDict):
    announcements: list[AnnouncementPublished]
    next_offset: int | None


@with_config(OUT)
class PublishUnit(TypedDict):
    id: int
    path: str


@with_config(OUT)
class PublishScope(TypedDict):
    """``services.announcements.publish_scope``: the whole bank, or the caller's unit and its sub-units."""

    bank_wide: bool
    units: list[PublishUnit]


@with_config(OUT)
class AnnouncementCounts(AnnouncementBrief):
    recipients: int
    read: int
    confirmed: int


@with_config(OUT)
class AnnouncementReceipt(TypedDict):
    user_id: int
    name: str
    username: str
    unit: str
    read_at: str | None
    confirmed_at: str | None
    reminded_at: str | None


@with_config(OUT)
class AnnouncementReceipts(TypedDict):
    """``services.announcements.receipts``: who has (not) read or confirmed."""

    announcement: AnnouncementCounts
    people: list[AnnouncementReceipt]
    next_offset: int | None


@with_config(OUT)
class AnnouncementReminded(TypedDict):
    """``services.announcements.remind``: how many people were reminded."""

    reminded: int


# ---- function switches ----------------------------------------------------------------------------------

@with_config(OUT)
class FunctionRuleRef(TypedDict):
    """The rule that decided a function: a person's own (``target`` empty) or a unit's (its path)."""

    id: int
    scope: str
    target: str


@with_config(OUT)
class FunctionState(TypedDict):
    """``services.functions.effective``: one function on or off, its limit, the deciding rule (null: the
    default) and its name in the caller's language."""

    allowed: bool
    limit: int | None
    rule: FunctionRuleRef | None
    name: str


@with_config(OUT)
class MyFunctions(TypedDict):
    """By function name (``send_files``, ``group_size``...)."""

    functions: dict[str, FunctionState]


@with_config(OUT)
class FunctionRule(TypedDict):
    """``services.functions.list_rules``: ``target`` the unit's path or the person's name and username."""

    id: int
    scope: str
    target_id: int
    target: str
    function: str
    allowed: bool
    limit: int | None
    set_at: str


@with_config(OUT)
class FunctionRules(TypedDict):
    """Every rule and the functions' names; with ``user_id``, that person's ``effective`` functions."""

    rules: list[FunctionRule]
    functions: list[str]
    effective: NotRequired[dict[str, FunctionState]]


@with_config(OUT)
class FunctionRuleSet(TypedDict):
    """``services.functions.set_rule``."""

    id: int
    scope: str
    target_id: int
    function: str
    allowed: bool
    limit: int | None


# ---- the account review ---------------------------------------------------------------------------------

@with_config(OUT)
class ReviewThresholds(TypedDict):
    """``services.account_review.thresholds``."""

    dormant_days: int
    admin_days: int
    interval_hours: int
    password_max_age_days: int


@with_config(OUT)
class ReviewFinding(TypedDict):
    """An account the review flags, and why (``detail``: days, a date or a version, by ``kind``)."""

    kind: str
    user_id: int
    username: str
    name: str
    unit: str
    roles: list[str]
    detail: str
    last_login_at: str | None


@with_config(OUT)
class AccountReviewSummary(TypedDict):
    """``services.account_review._view``: one review, counted by kind."""

    id: int
    created_at: str
    trigger: str
    counts: dict[str, int]
    total: int


@with_config(OUT)
class AccountReview(AccountReviewSummary):
    """One review with its findings (those of ``kind`` when asked)."""

    findings: list[ReviewFinding]


@with_config(OUT)
class AccountReviews(TypedDict):
    """``services.account_review.list_reviews``: newest first, with the thresholds and the kinds."""

    reviews: list[AccountReviewSummary]
    next_offset: int | None
    thresholds: ReviewThresholds
    kinds: list[str]
