"""The compliance console's API: archive search and view (with a stated reason), exports, the review
queue, legal holds, retention; employees' "report this message" and own-message search; the
auditor's audit-trail export and verification."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from mixun.api import models_consoles_a as m
from mixun.api import zipstream
from mixun.api.deps import DbCursor, DbId, Id, Instant, Limit, Offset, QueryCursor, QueryId, gate
from mixun.api.models import SearchResults
from mixun.api.responses import file_headers, file_response
from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.services import (
    archive,
    archive_space,
    attachments,
    audit_read,
    compliance_console,
    dual_control,
    export,
    retention,
    review,
)
from mixun.services.dual_control import Reason as StatedReason
from mixun.services.runtime import Ctx

router = APIRouter(tags=["compliance"])
Compliance = Annotated[Ctx, Depends(gate(Perm.ARCHIVE_SEARCH))]
Reviewer = Annotated[Ctx, Depends(gate(Perm.REVIEW))]
Staff = Annotated[Ctx, Depends(gate(Perm.CHAT))]
Auditor = Annotated[Ctx, Depends(gate(Perm.AUDIT_READ))]
# The access reason's limits as the server enforces them (archive.check_access_reason), stated in the
# OpenAPI document: a category code or its Chinese label, a reason of REASON_MIN characters or more.
CATEGORIES = [*archive.REASON_CATEGORIES, *archive.REASON_CATEGORIES.values()]
_CATEGORY_ENUM: list[Any] = list(CATEGORIES)
_CATEGORY_DOC = ("the reason's category (needed; its Chinese label is accepted too): regulatory_inspection, "
                 "internal_investigation, customer_complaint, litigation, audit_sampling, other")
Reason = Annotated[str, Query(max_length=500, description="why you are looking (audited), at least "
                                                            f"{archive.REASON_MIN} characters",
                              json_schema_extra={"minLength": archive.REASON_MIN})]
Category = Annotated[str, Query(max_length=32, description=_CATEGORY_DOC, json_schema_extra={"enum": _CATEGORY_ENUM})]
SecAdmin = Annotated[Ctx, Depends(gate(Perm.DLP_MANAGE))]
P = "/api/v1/compliance"
# The heavy accesses answer 200/201 when done, 202 with the filed request when a second compliance
# officer must approve first (dual control): the response model is the union, the 202 documented apart.
_FILED_FOR_OFFICER: dict[int | str, dict[str, Any]] = {202: {
    "model": m.AccessRequestFiled, "description": "Dual control is on: the request was filed (``status`` pending, "
    "``request``); another compliance officer approves, then the asker runs it"}}
_SECOND_OFFICER: dict[int | str, dict[str, Any]] = {202: {
    "model": m.AccessRequestFiled, "description": "Request filed: a second compliance officer approves, then the asker runs it"}}


def _no_number(v: Any) -> Any:
    """A time is written as ISO 8601 text: a bare number (``"until": 0``) is not read as 1970."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise ValueError("a time must be ISO 8601 text, e.g. 2026-12-01T00:00:00+08:00")
    return v


class _Times(BaseModel):
    since: Instant | None = None
    until: Instant | None = None

    _check_since = field_validator("since", "until", mode="before")(_no_number)


class AccessReason(BaseModel):
    category: str = Field(default="", max_length=32, description=_CATEGORY_DOC, json_schema_extra={"enum": _CATEGORY_ENUM})
    reason: str = Field(max_length=500, description=f"at least {archive.REASON_MIN} characters",
                        json_schema_extra={"minLength": archive.REASON_MIN})


class ExportCreate(_Times):
    category: str = Field(default="", max_length=32, description=_CATEGORY_DOC, json_schema_extra={"enum": _CATEGORY_ENUM})
    reason: str = Field(min_length=1, max_length=500, json_schema_extra={"minLength": archive.REASON_MIN})
    user: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=300)
    conversation_id: DbId | None = None
    formats: list[str] = Field(default_factory=lambda: list(export.ALL_FORMATS),
                               json_schema_extra={"items": {"type": "string", "enum": list(export.ALL_FORMATS)}})
    include_originals: bool = False


class HoldCreate(_Times):
    reason: str = Field(min_length=1, max_length=500)
    user_id: DbId | None = None
    conversation_id: DbId | None = None


class RequestDecision(BaseModel):
    note: str = Field(default="", max_length=500)


class DualControlSet(BaseModel):
    export_person: bool | None = None
    export_unit: bool | None = None
    originals: bool | None = None


class HoldRelease(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class PolicySet(BaseModel):
    scope: str = Field(min_length=1, max_length=300, description="default, audit, kind:direct, kind:group or unit:<path>",
                       json_schema_extra={"pattern": r"^(default|audit|kind:direct|kind:group|unit:[\s\S]+)$"})
    messages_days: int = Field(ge=1, le=100 * 365)
    files_days: int = Field(ge=1, le=100 * 365)


class Decision(BaseModel):
    decision: str = Field(json_schema_extra={"enum": list(review.DECISIONS)})
    note: str = Field(default="", max_length=2000)


class ReportCreate(BaseModel):
    message_id: DbId
    reason: str = Field(default="", max_length=500)


@router.get(f"{P}/archive/search", response_model=m.ArchiveSearch)
def search_archive(ctx: Compliance, reason: Reason, category: Category = "",
                   q: Annotated[str, Query(max_length=200)] = "",
                   sender: QueryId = None, unit: Annotated[str | None, Query(max_length=300)] = None,
                   conversation_id: QueryId = None, since: Annotated[Instant | None, Query()] = None,
                   until: Annotated[Instant | None, Query()] = None, dlp: bool = False, limit: Limit = 50,
                   cursor: QueryCursor = None, participant: QueryId = None,
                   sender_q: Annotated[str | None, Query(max_length=64)] = None,
                   participant_q: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """``sender_q`` / ``participant_q``: a person by name, username or employee number."""
    why = archive.check_access_reason(category, reason)
    return archive.search(ctx, reason=why, q=q, sender=sender, unit=unit, conversation_id=conversation_id,
                          since=since, until=until, dlp=dlp, limit=limit, cursor=cursor, participant=participant,
                          sender_q=sender_q, participant_q=participant_q)


@router.get(f"{P}/archive/conversations/{{conversation_id}}", response_model=m.ArchiveConversation)
def view_conversation(conversation_id: Id, ctx: Compliance, reason: Reason, category: Category = "",
                      after_version: DbCursor = 0, limit: Limit = 200, originals: bool = False,
                      around: Annotated[DbId | None, Query(description="a version id to open the page around")] = None
                      ) -> dict[str, Any]:
    why = archive.check_access_reason(category, reason)
    return archive.view_conversation(ctx, conversation_id, reason=why, after_version=after_version,
                                     limit=limit, include_originals=originals, around=around)


@router.post(f"{P}/archive/versions/{{version_id}}/original", response_model=m.ArchiveOriginal | m.AccessRequestFiled,
             responses=_FILED_FOR_OFFICER)
def view_original(version_id: Id, body: AccessReason, ctx: Compliance, response: Response) -> dict[str, Any]:
    """The unmasked original of a masked message, with a reason; audited. Under dual control this files
    a request (202) that another compliance officer approves; the asker then carries it out."""
    why = archive.check_access_reason(body.category, body.reason)
    if dual_control.kinds_on(ctx, ["originals"]):
        archive.original_exists(ctx, version_id)
        response.status_code = 202
        return {"status": "pending",
                "request": dual_control.file_request(ctx, ["originals"], {"version_id": version_id}, why)}
    return archive.original_text(ctx, version_id, why)


@router.get(f"{P}/archive/attachments/{{attachment_id}}")
def archive_attachment(attachment_id: Id, ctx: Compliance, reason: Reason, category: Category = "") -> Response:
    """Any archived file, including the files kept inside secure packs; audited with the reason."""
    why = archive.check_access_reason(category, reason)
    data, mime, name = attachments.read_for_officer(ctx, attachment_id, action=AuditAction.ARCHIVE_ATTACHMENT_VIEWED,
                                                    reason=f"{archive.REASON_CATEGORIES[why.category]}：{why.text}")
    return file_response(data, mime, name, inline=False, cache="no-store")


@router.get(f"{P}/archive/group-files", response_model=m.GroupFiles)
def search_group_files(ctx: Compliance, reason: Reason, category: Category = "",
                       q: Annotated[str, Query(max_length=200, description="a part of the file or folder name")] = "",
                       person_q: Annotated[str | None, Query(max_length=64, description="the uploader: name, username or employee number")] = None,
                       group_q: Annotated[str | None, Query(max_length=100, description="a part of the group's name")] = None,
                       conversation_id: QueryId = None, since: Annotated[Instant | None, Query()] = None,
                       until: Annotated[Instant | None, Query()] = None, limit: Limit = 50,
                       cursor: QueryCursor = None) -> dict[str, Any]:
    """Files and folders put into groups' file spaces (群文件), including those members deleted or moved;
    audited with the reason."""
    why = archive.check_access_reason(category, reason)
    return archive_space.search(ctx, reason=why, q=q, person_q=person_q, group_q=group_q,
                                conversation_id=conversation_id, since=since, until=until, limit=limit, cursor=cursor)


@router.get(f"{P}/archive/group-files/{{item_id}}/content")
def group_file_content(item_id: Id, ctx: Compliance, reason: Reason, category: Category = "") -> StreamingResponse:
    """A group-space file's content (streamed), deleted by members or not; audited with the reason."""
    why = archive.check_access_reason(category, reason)
    f = archive_space.open_file(ctx, item_id, why)
    return StreamingResponse(f.chunks, media_type=f.mime, headers=file_headers(f.name) | {"Content-Length": str(f.size)})


@router.get(f"{P}/review/{{item_id}}/attachments/{{attachment_id}}")
def review_attachment(item_id: Id, attachment_id: Id, ctx: Reviewer) -> Response:
    data, mime, name = review.item_attachment(ctx, item_id, attachment_id)
    return file_response(data, mime, name, inline=False, cache="no-store")


@router.get(f"{P}/exports", response_model=m.ExportList)
def list_exports(ctx: Compliance, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    out = export.list_exports(ctx, limit, offset)
    for e in out["exports"]:
        e.pop("path", None)  # where the server keeps it stays on the server
    return out


@router.post(f"{P}/exports", status_code=201, response_model=m.ExportDone | m.AccessRequestFiled,
             responses=_FILED_FOR_OFFICER)
def create_export(body: ExportCreate, ctx: Compliance, response: Response) -> dict[str, Any]:
    """An export of the archive. A person's or a unit's whole history, or one with the originals of
    masked messages, may need a second officer (dual control): then a request is filed (202)."""
    why = archive.check_access_reason(body.category, body.reason)
    bad = [f for f in body.formats if f not in export.ALL_FORMATS]
    if bad or not body.formats:
        raise MixunError("validation_failed", ("格式应为 jsonl、csv、eml、attachments",
                                               "formats must be jsonl, csv, eml or attachments"), field="formats")
    if body.user and body.unit:
        raise MixunError("validation_failed", ("人员与部门只能选一项", "Give a person or a unit, not both"),
                         field="unit")
    archive.check_range(body.since, body.until)
    params = {"user": body.user, "unit": body.unit, "conversation_id": body.conversation_id,
              "since": body.since.isoformat() if body.since else None,
              "until": body.until.isoformat() if body.until else None,
              "formats": list(body.formats), "include_originals": body.include_originals}
    # The whole archive (no person, unit or conversation) is every unit's history at once; a conversation
    # counts as a person's history (else a person's could be taken conversation by conversation).
    whole = not (body.user or body.unit or body.conversation_id)
    kinds = (["export_person"] if body.user or body.conversation_id else []) + (
        ["export_unit"] if body.unit or whole else []) + (
        ["originals"] if body.include_originals else [])
    if dual_control.kinds_on(ctx, kinds):
        compliance_console.check_export_scope(ctx, body.user, body.unit)
        response.status_code = 202
        return {"status": "pending", "request": dual_control.file_request(ctx, kinds, params, why)}
    return _run_export(ctx, params, why)


def _run_export(ctx: Ctx, params: dict[str, Any], why: StatedReason, request_id: int | None = None
                ) -> dict[str, Any]:
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + f"-u{ctx.user_id}"
    out = Path(ctx.rt.settings.data_dir) / "exports" / name
    since = datetime.fromisoformat(params["since"]) if params.get("since") else None
    until = datetime.fromisoformat(params["until"]) if params.get("until") else None
    manifest = export.export(ctx, out, export.Filters(user=params.get("user"), unit=params.get("unit"),
                                                      conversation_id=params.get("conversation_id"),
                                                      since=since, until=until),
                             tuple(params["formats"]), reason=f"{archive.REASON_CATEGORIES[why.category]}：{why.text}",
                             include_originals=bool(params.get("include_originals")))
    return {"status": "done", "id": compliance_console.export_record_id(ctx, out), "name": name, "counts": manifest["counts"],
            "files": len(manifest["files"]), "request_id": request_id}


@router.get(f"{P}/exports/{{export_id}}/download")
def download_export(export_id: Id, ctx: Compliance) -> StreamingResponse:
    """The export as one zip file, written to the response as it is read from disk (never whole in
    memory); the download is audited first. Only the officer who made the export downloads it: an export
    approved under dual control is the asker's, not every officer's."""
    path = compliance_console.open_download(ctx, export_id)
    return StreamingResponse(zipstream.zip_directory(path, path.name), media_type="application/zip",
                             headers={"content-disposition": f'attachment; filename="mixun-export-{path.name}.zip"',
                                      "cache-control": "no-store"})


@router.get(f"{P}/access-requests", response_model=m.AccessRequests)
def list_access_requests(ctx: Compliance, status: Annotated[str | None, Query(max_length=16)] = None,
                         limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Dual control: requests for heavy access (pending ones are for another officer to decide)."""
    return dual_control.list_requests(ctx, status, limit, offset)


@router.post(f"{P}/access-requests/{{request_id}}/approve", response_model=m.AccessRequest)
def approve_access_request(request_id: Id, body: RequestDecision, ctx: Compliance) -> dict[str, Any]:
    return dual_control.decide(ctx, request_id, True, body.note)


@router.post(f"{P}/access-requests/{{request_id}}/reject", response_model=m.AccessRequest)
def reject_access_request(request_id: Id, body: RequestDecision, ctx: Compliance) -> dict[str, Any]:
    return dual_control.decide(ctx, request_id, False, body.note)


@router.post(f"{P}/access-requests/{{request_id}}/run",
             response_model=m.ExportDone | m.ArchiveOriginal | m.RetentionPolicySet | m.LegalHoldReleased)
def run_access_request(request_id: Id, ctx: Compliance) -> dict[str, Any]:
    """The asker carries out their approved request, once: the export, the original's text, the shorter
    retention policy or the hold's release."""
    params, why = dual_control.claim(ctx, request_id)
    kinds = params.get("kinds", [])
    try:
        if "retention_policy" in kinds:
            return retention.set_policy(ctx, str(params["scope"]), int(params["messages_days"]),
                                        int(params["files_days"]), approved_request=request_id)
        if "hold_release" in kinds:
            return retention.release_hold(ctx, int(params["hold_id"]), str(params["release_reason"]),
                                          approved_request=request_id)
        if "version_id" in params:
            return archive.original_text(ctx, int(params["version_id"]), why, request_id=request_id)
        return _run_export(ctx, params, why, request_id)
    except Exception:
        dual_control.release(ctx, request_id)
        raise


@router.get("/api/v1/security/dual-control", response_model=m.DualControlSettings)
def get_dual_control(ctx: SecAdmin) -> dict[str, Any]:
    """Which heavy compliance accesses need a second compliance officer (secadmin's setting)."""
    return dual_control.settings(ctx)


@router.put("/api/v1/security/dual-control", response_model=m.DualControlSettings)
def set_dual_control(body: DualControlSet, ctx: SecAdmin) -> dict[str, Any]:
    return dual_control.set_settings(ctx, {k: v for k, v in body.model_dump().items() if v is not None})


@router.get(f"{P}/review", response_model=m.ReviewQueue)
def review_queue(ctx: Reviewer, status: Annotated[str | None, Query(max_length=16)] = "open",
                 limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return review.list_queue(ctx, status or None, limit, offset)


@router.post(f"{P}/review/{{item_id}}/decision", response_model=m.ReviewDecided)
def decide(item_id: Id, body: Decision, ctx: Reviewer) -> dict[str, Any]:
    return review.decide(ctx, item_id, body.decision, body.note)


@router.get(f"{P}/violations/{{user_id}}", response_model=m.Violations)
def violations(user_id: Id, ctx: Reviewer) -> dict[str, Any]:
    return {"violations": review.violations_of(ctx, user_id)}


@router.get(f"{P}/holds", response_model=m.LegalHolds)
def list_holds(ctx: Compliance, active: bool = False) -> dict[str, Any]:
    """Each hold with the person's and the conversation's names beside their ids."""
    return {"holds": compliance_console.holds_with_names(ctx, active)}


@router.post(f"{P}/holds", status_code=201, response_model=m.LegalHold)
def place_hold(body: HoldCreate, ctx: Compliance) -> dict[str, Any]:
    archive.check_range(body.since, body.until)
    return retention.place_hold(ctx, reason=body.reason, user_id=body.user_id,
                                conversation_id=body.conversation_id, since=body.since, until=body.until)


@router.post(f"{P}/holds/{{hold_id}}/release", response_model=m.LegalHoldReleased | m.AccessRequestFiled,
             responses=_SECOND_OFFICER)
def release_hold(hold_id: Id, body: HoldRelease, ctx: Compliance, response: Response) -> dict[str, Any]:
    out = retention.release_hold(ctx, hold_id, body.reason)
    if out["status"] == "pending":
        response.status_code = 202
    return out


@router.get(f"{P}/retention/policies", response_model=m.RetentionPolicies)
def list_policies(ctx: Compliance) -> dict[str, Any]:
    return {"policies": retention.list_policies(ctx)}


@router.put(f"{P}/retention/policies", response_model=m.RetentionPolicySet | m.AccessRequestFiled,
            responses=_SECOND_OFFICER)
def set_policy(body: PolicySet, ctx: Compliance, response: Response) -> dict[str, Any]:
    out = retention.set_policy(ctx, body.scope, body.messages_days, body.files_days)
    if out["status"] == "pending":  # shortening: a second compliance officer approves first
        response.status_code = 202
    return out


@router.get(f"{P}/retention/runs", response_model=m.RetentionRuns)
def list_runs(ctx: Compliance) -> dict[str, Any]:
    return {"runs": retention.list_runs(ctx)}


@router.post(f"{P}/retention/runs", status_code=201, response_model=m.RetentionRunResult)
def run_retention(ctx: Compliance, dry_run: bool = True) -> dict[str, Any]:
    return retention.run(ctx, dry_run=dry_run)


@router.post("/api/v1/reports", status_code=201, response_model=m.ReportFiled)
def report_message(body: ReportCreate, ctx: Staff) -> dict[str, Any]:
    return review.report_message(ctx, body.message_id, body.reason)


@router.get("/api/v1/search/messages", response_model=SearchResults)
def search_own(ctx: Staff, q: Annotated[str, Query(min_length=1, max_length=200)], limit: Limit = 50,
               cursor: QueryCursor = None) -> dict[str, Any]:
    return archive.search_own(ctx, q, limit, cursor)


@router.get("/api/v1/audit/verify", response_model=m.AuditVerification)
def audit_verify(ctx: Auditor) -> dict[str, Any]:
    r = audit_read.run_verification(ctx)
    return {"ok": r.ok, "count": r.count, "last_id": r.last_id, "first_bad_id": r.first_bad_id,
            "reason": r.reason, "anchored_at": r.anchored_at, "head_checked": r.head_checked}


@router.get("/api/v1/audit/export")
def audit_export(ctx: Auditor, action: Annotated[str | None, Query(max_length=64)] = None,
                 since: Annotated[str | None, Query(max_length=40)] = None,
                 until: Annotated[str | None, Query(max_length=40)] = None) -> StreamingResponse:
    """The audit trail as JSON Lines, streamed in id order (the export itself is audited first). Times
    are read as admin/audit reads them: ISO 8601, anything else a 422."""
    lines = audit_read.export_lines(ctx, action, since, until)
    return StreamingResponse(lines, media_type="application/x-ndjson",
                             headers={"content-disposition": 'attachment; filename="audit.jsonl"'})
