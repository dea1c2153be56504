"""People's rules (issue 21 items 6-9): the usage and confidentiality rules, announcements, function
switches and the account review. Thin: each route declares its permission and calls one service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import Field

from mixun.api import models
from mixun.api import models_people as mp
from mixun.api.deps import DbId, Id, Instant, Limit, Offset, QueryId, gate
from mixun.api.responses import file_response
from mixun.api.schemas import _In
from mixun.domain.roles import Perm
from mixun.services import account_review, announcements, functions, rules
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["people"])
Account = Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]
Publisher = Annotated[Ctx, Depends(gate(Perm.ANNOUNCE))]
FunctionsAdmin = Annotated[Ctx, Depends(gate(Perm.FUNCTIONS_MANAGE))]
Reviewer = Annotated[Ctx, Depends(gate(Perm.ACCOUNT_REVIEW))]
RulesReport = Annotated[Ctx, Depends(gate(Perm.RULES_REPORT))]
CSV = "text/csv; charset=utf-8"


def _csv(text: str, name: str) -> Response:
    # A BOM so that spreadsheet programs read the Chinese text as UTF-8.
    return Response(content="\ufeff" + text, media_type=CSV,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---- the usage and confidentiality rules (A8) ------------------------------------------------------

class RulesAcceptIn(_In):
    version: int = Field(ge=1, le=1_000_000)


class RulesPublishIn(_In):
    title: str = Field(max_length=200)
    body: str = Field(max_length=rules.MAX_BODY)


@router.get("/rules/current", response_model=mp.RulesCurrent)
def rules_current(ctx: Annotated[Ctx, Depends(gate(Perm.RULES))]) -> dict[str, Any]:
    """The current rules and whether the caller must accept them (before anything else works)."""
    return rules.get_current(ctx)


@router.post("/rules/accept", response_model=mp.RulesAccepted)
def rules_accept(body: RulesAcceptIn, ctx: Annotated[Ctx, Depends(gate(Perm.RULES))]) -> dict[str, Any]:
    """Accept the current version (recorded with time and address); an older version is a 409."""
    return rules.accept(ctx, body.version)


@router.get("/admin/rules", response_model=mp.RulesVersions)
def rules_versions(ctx: Annotated[Ctx, Depends(gate(Perm.RULES_MANAGE))]) -> dict[str, Any]:
    return {"versions": rules.list_versions(ctx)}


@router.post("/admin/rules", status_code=201, response_model=mp.RulesText)
def rules_publish(body: RulesPublishIn, ctx: Annotated[Ctx, Depends(gate(Perm.RULES_MANAGE))]) -> dict[str, Any]:
    """Publish a new version: everyone accepts it before going on."""
    return rules.publish(ctx, body.title, body.body)


@router.get("/admin/rules/acceptance", response_model=mp.RulesAcceptance)
def rules_acceptance(ctx: RulesReport, status: Literal["pending", "accepted", "all"] = "pending",
                     limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Who has (not) accepted the current version within the year."""
    return rules.compliance(ctx, status, limit, offset)


@router.get("/admin/rules/acceptance.csv")
def rules_acceptance_csv(ctx: RulesReport, status: Literal["pending", "accepted", "all"] = "pending") -> Response:
    return _csv(rules.compliance_csv(ctx, status), f"rules-acceptance-{status}.csv")


# ---- announcements (M8) ----------------------------------------------------------------------------

class AnnouncementCreate(_In):
    title: str = Field(max_length=200)
    body: str = Field(max_length=announcements.MAX_BODY)
    unit_ids: list[DbId] = Field(default_factory=list, max_length=announcements.MAX_UNITS)
    must_confirm: bool = False
    pinned: bool = False
    expires_at: Instant | None = None
    confirm: bool = False  # a DLP warning acknowledged
    file_ids: list[DbId] = Field(default_factory=list, max_length=announcements.MAX_FILES)


class AnnouncementRead(_In):
    confirm: bool = False


@router.get("/announcements", response_model=mp.MyAnnouncements)
def my_announcements(ctx: Account, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """The caller's announcements (pinned first) and those still to read or confirm (the banner)."""
    return announcements.list_mine(ctx, limit, offset)


@router.post("/announcements/{announcement_id}/read", response_model=mp.AnnouncementReadState)
def read_announcement(announcement_id: Id, body: AnnouncementRead, ctx: Account) -> dict[str, Any]:
    """Mark it read; with ``confirm: true``, also confirmed (for announcements that ask for it)."""
    return announcements.mark_read(ctx, announcement_id, body.confirm)


@router.get("/announcements/published", response_model=mp.PublishedAnnouncements)
def published(ctx: Publisher, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return announcements.list_published(ctx, limit, offset)


@router.get("/announcements/scope", response_model=mp.PublishScope)
def publish_scope(ctx: Publisher) -> dict[str, Any]:
    """The units the caller may publish to."""
    return announcements.publish_scope(ctx)


@router.post("/announcements", status_code=201, response_model=models.AnnouncementBrief)
def publish(body: AnnouncementCreate, ctx: Publisher) -> dict[str, Any]:
    """To the whole bank (no ``unit_ids``) or to units with their sub-units; unit heads: their own units."""
    return announcements.publish(ctx, title=body.title, body=body.body, unit_ids=list(body.unit_ids),
                                 must_confirm=body.must_confirm, pinned=body.pinned, expires_at=body.expires_at,
                                 confirm=body.confirm, file_ids=list(body.file_ids))


@router.post("/announcements/files", status_code=201, response_model=mp.AnnouncementFile)
def upload_announcement_file(ctx: Publisher, file: Annotated[UploadFile, File()],
                             confirm: Annotated[bool, Form()] = False) -> dict[str, Any]:
    """A file for an announcement about to be published (its id goes in ``file_ids``): DLP, virus scan,
    stored encrypted."""
    data = file.file.read(ctx.rt.settings.max_file_bytes + 1)
    return announcements.upload_file(ctx, data, file.filename or "file", confirm)


@router.get("/announcements/{announcement_id}/files/{file_id}")
def announcement_file(announcement_id: Id, file_id: Id, ctx: Account) -> Response:
    """A recipient's (or its publisher's) download of an announcement's file; audited."""
    data, mime, name = announcements.read_file(ctx, announcement_id, file_id)
    return file_response(data, mime, name, inline=False)


@router.get("/announcements/{announcement_id}/receipts", response_model=mp.AnnouncementReceipts)
def announcement_receipts(announcement_id: Id, ctx: Publisher,
                          status: Literal["unread", "unconfirmed", "read", "all"] = "unread",
                          limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return announcements.receipts(ctx, announcement_id, status, limit, offset)


@router.post("/announcements/{announcement_id}/remind", response_model=mp.AnnouncementReminded)
def remind(announcement_id: Id, ctx: Publisher) -> dict[str, Any]:
    return announcements.remind(ctx, announcement_id)


@router.post("/announcements/{announcement_id}/withdraw", status_code=204)
def withdraw(announcement_id: Id, ctx: Publisher) -> Response:
    announcements.withdraw(ctx, announcement_id)
    return Response(status_code=204)


# ---- function switches and group limits (M10) -------------------------------------------------------

class FunctionRuleIn(_In):
    scope: Literal["unit", "user"]
    target_id: DbId
    function: Literal["send_files", "create_groups", "cross_unit_messages", "cross_unit_groups",
                      "cross_unit_groups_unreviewed", "use_drive", "group_size"]
    allowed: bool = True
    limit: int | None = Field(default=None, ge=2, le=100_000)


@router.get("/me/functions", response_model=mp.MyFunctions)
def my_functions(ctx: Account) -> dict[str, Any]:
    """What the caller may do (each function on or off, limits) and which rule decided it."""
    return functions.effective(ctx)


@router.get("/admin/function-rules", response_model=mp.FunctionRules)
def function_rules(ctx: FunctionsAdmin, user_id: QueryId = None) -> dict[str, Any]:
    """Every rule; with ``user_id``, also that person's effective functions."""
    out: dict[str, Any] = {"rules": functions.list_rules(ctx), "functions": list(functions.FUNCTIONS)}
    if user_id is not None:
        out["effective"] = functions.effective(ctx, user_id)["functions"]
    return out


@router.put("/admin/function-rules", response_model=mp.FunctionRuleSet)
def set_function_rule(body: FunctionRuleIn, ctx: FunctionsAdmin) -> dict[str, Any]:
    return functions.set_rule(ctx, body.scope, body.target_id, body.function, body.allowed, body.limit)


@router.delete("/admin/function-rules/{rule_id}", status_code=204)
def remove_function_rule(rule_id: Id, ctx: FunctionsAdmin) -> Response:
    functions.remove_rule(ctx, rule_id)
    return Response(status_code=204)


# ---- the account review (A7) -------------------------------------------------------------------------

@router.get("/admin/account-reviews", response_model=mp.AccountReviews)
def account_reviews(ctx: Reviewer, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    return account_review.list_reviews(ctx, limit, offset)


@router.post("/admin/account-reviews", status_code=201, response_model=mp.AccountReview)
def run_account_review(ctx: Reviewer) -> dict[str, Any]:
    """Run the review now (it also runs on its own once a day)."""
    return account_review.run(ctx.rt, ctx, "manual")


@router.get("/admin/account-reviews/{review_id}", response_model=mp.AccountReview)
def account_review_detail(review_id: Id, ctx: Reviewer,
                          kind: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    return account_review.get_review(ctx, review_id, kind)


@router.get("/admin/account-reviews/{review_id}/csv")
def account_review_csv(review_id: Id, ctx: Reviewer) -> Response:
    return _csv(account_review.review_csv(ctx, review_id), f"account-review-{review_id}.csv")
