"""The compliance console's API: archive search and view (with a stated reason), exports, the review
queue, legal holds, retention; employees' "report this message" and own-message search; the
auditor's audit-trail export and verification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from mixun.api.deps import DbCursor, DbId, Id, Instant, Limit, Offset, QueryCursor, QueryId, gate
from mixun.api.responses import file_response
from mixun.db.models import AuditLog
from mixun.domain.roles import Perm
from mixun.services import archive, attachments, audit, audit_checkpoints, export, retention, review
from mixun.services.runtime import Ctx

router = APIRouter(tags=["compliance"])
Compliance = Annotated[Ctx, Depends(gate(Perm.ARCHIVE_SEARCH))]
Reviewer = Annotated[Ctx, Depends(gate(Perm.REVIEW))]
Staff = Annotated[Ctx, Depends(gate(Perm.CHAT))]
Auditor = Annotated[Ctx, Depends(gate(Perm.AUDIT_READ))]
Reason = Annotated[str, Query(min_length=1, max_length=500, description="why you are looking (audited)")]
P = "/api/v1/compliance"


class ExportCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    user: str | None = Field(default=None, max_length=64)
    conversation_id: DbId | None = None
    since: Instant | None = None
    until: Instant | None = None
    formats: list[str] = Field(default_factory=lambda: list(export.ALL_FORMATS),
                               json_schema_extra={"items": {"type": "string", "enum": list(export.ALL_FORMATS)}})


class HoldCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    user_id: DbId | None = None
    conversation_id: DbId | None = None
    since: Instant | None = None
    until: Instant | None = None


class HoldRelease(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class PolicySet(BaseModel):
    scope: str = Field(min_length=1, max_length=300)
    messages_days: int = Field(ge=1, le=100 * 365)
    files_days: int = Field(ge=1, le=100 * 365)


class Decision(BaseModel):
    decision: str = Field(json_schema_extra={"enum": list(review.DECISIONS)})
    note: str = Field(default="", max_length=2000)


class ReportCreate(BaseModel):
    message_id: DbId
    reason: str = Field(default="", max_length=500)


@router.get(f"{P}/archive/search")
def search_archive(ctx: Compliance, reason: Reason, q: Annotated[str, Query(max_length=200)] = "",
                   sender: QueryId = None, unit: Annotated[str | None, Query(max_length=300)] = None,
                   conversation_id: QueryId = None, since: Annotated[Instant | None, Query()] = None,
                   until: Annotated[Instant | None, Query()] = None, dlp: bool = False, limit: Limit = 50,
                   cursor: QueryCursor = None) -> dict[str, Any]:
    return archive.search(ctx, reason=reason, q=q, sender=sender, unit=unit, conversation_id=conversation_id,
                          since=since, until=until, dlp=dlp, limit=limit, cursor=cursor)


@router.get(f"{P}/archive/conversations/{{conversation_id}}")
def view_conversation(conversation_id: Id, ctx: Compliance, reason: Reason, after_version: DbCursor = 0,
                      limit: Limit = 200, originals: bool = False) -> dict[str, Any]:
    return archive.view_conversation(ctx, conversation_id, reason=reason, after_version=after_version,
                                     limit=limit, include_originals=originals)


@router.get(f"{P}/archive/attachments/{{attachment_id}}")
def archive_attachment(attachment_id: Id, ctx: Compliance, reason: Reason) -> Response:
    """Any archived file, including the files kept inside secure packs; audited with the reason."""
    why = archive.check_reason(reason)
    data, mime, name = attachments.read_for_officer(ctx, attachment_id, action="archive.attachment_viewed",
                                                    reason=why)
    return file_response(data, mime, name, inline=False, cache="no-store")


@router.get(f"{P}/review/{{item_id}}/attachments/{{attachment_id}}")
def review_attachment(item_id: Id, attachment_id: Id, ctx: Reviewer) -> Response:
    data, mime, name = review.item_attachment(ctx, item_id, attachment_id)
    return file_response(data, mime, name, inline=False, cache="no-store")


@router.get(f"{P}/exports")
def list_exports(ctx: Compliance, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return export.list_exports(ctx, limit, offset)


@router.post(f"{P}/exports", status_code=201)
def create_export(body: ExportCreate, ctx: Compliance) -> dict[str, Any]:
    from datetime import UTC

    bad = [f for f in body.formats if f not in export.ALL_FORMATS]
    if bad or not body.formats:
        from mixun.errors import MixunError

        raise MixunError("validation_failed", "格式应为 jsonl、csv、eml、attachments", field="formats")
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + f"-u{ctx.user_id}"
    out = Path(ctx.rt.settings.data_dir) / "exports" / name
    archive.check_reason(body.reason)
    manifest = export.export(ctx, out, export.Filters(user=body.user, conversation_id=body.conversation_id,
                                                      since=body.since, until=body.until),
                             tuple(body.formats), reason=body.reason)
    return {"name": name, "path": str(out), "counts": manifest["counts"], "files": len(manifest["files"])}


@router.get(f"{P}/review")
def review_queue(ctx: Reviewer, status: Annotated[str | None, Query(max_length=16)] = "open",
                 limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return review.list_queue(ctx, status or None, limit, offset)


@router.post(f"{P}/review/{{item_id}}/decision")
def decide(item_id: Id, body: Decision, ctx: Reviewer) -> dict[str, Any]:
    return review.decide(ctx, item_id, body.decision, body.note)


@router.get(f"{P}/violations/{{user_id}}")
def violations(user_id: Id, ctx: Reviewer) -> dict[str, Any]:
    return {"violations": review.violations_of(ctx, user_id)}


@router.get(f"{P}/holds")
def list_holds(ctx: Compliance, active: bool = False) -> dict[str, Any]:
    return {"holds": retention.list_holds(ctx, active)}


@router.post(f"{P}/holds", status_code=201)
def place_hold(body: HoldCreate, ctx: Compliance) -> dict[str, Any]:
    return retention.place_hold(ctx, reason=body.reason, user_id=body.user_id,
                                conversation_id=body.conversation_id, since=body.since, until=body.until)


@router.post(f"{P}/holds/{{hold_id}}/release")
def release_hold(hold_id: Id, body: HoldRelease, ctx: Compliance) -> dict[str, Any]:
    return retention.release_hold(ctx, hold_id, body.reason)


@router.get(f"{P}/retention/policies")
def list_policies(ctx: Compliance) -> dict[str, Any]:
    return {"policies": retention.list_policies(ctx)}


@router.put(f"{P}/retention/policies")
def set_policy(body: PolicySet, ctx: Compliance) -> dict[str, Any]:
    return retention.set_policy(ctx, body.scope, body.messages_days, body.files_days)


@router.get(f"{P}/retention/runs")
def list_runs(ctx: Compliance) -> dict[str, Any]:
    return {"runs": retention.list_runs(ctx)}


@router.post(f"{P}/retention/runs", status_code=201)
def run_retention(ctx: Compliance, dry_run: bool = True) -> dict[str, Any]:
    return retention.run(ctx, dry_run=dry_run)


@router.post("/api/v1/reports", status_code=201)
def report_message(body: ReportCreate, ctx: Staff) -> dict[str, Any]:
    return review.report_message(ctx, body.message_id, body.reason)


@router.get("/api/v1/search/messages")
def search_own(ctx: Staff, q: Annotated[str, Query(min_length=1, max_length=200)], limit: Limit = 50,
               cursor: QueryCursor = None) -> dict[str, Any]:
    return archive.search_own(ctx, q, limit, cursor)


@router.get("/api/v1/audit/verify")
def audit_verify(ctx: Auditor) -> dict[str, Any]:
    r = audit_checkpoints.verify(ctx)
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, "audit.verified", ok=r.ok, first_bad_id=r.first_bad_id)
    return {"ok": r.ok, "count": r.count, "last_id": r.last_id, "first_bad_id": r.first_bad_id,
            "reason": r.reason, "anchored_at": r.anchored_at, "head_checked": r.head_checked}


@router.get("/api/v1/audit/export")
def audit_export(ctx: Auditor, action: Annotated[str | None, Query(max_length=64)] = None,
                 since: Annotated[str | None, Query(max_length=40)] = None,
                 until: Annotated[str | None, Query(max_length=40)] = None) -> StreamingResponse:
    """The audit trail as JSON Lines, streamed in id order (the export itself is audited first)."""
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, "audit.exported", action_filter=action or "", since=since, until=until)

    def rows() -> Iterator[bytes]:
        last = 0
        while True:
            with ctx.rt.db.read() as s:
                stmt = select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id).limit(2000)
                if action:
                    stmt = stmt.where(AuditLog.action.startswith(action))
                if since:
                    stmt = stmt.where(AuditLog.at >= since)
                if until:
                    stmt = stmt.where(AuditLog.at <= until)
                batch = list(s.execute(stmt).scalars())
            if not batch:
                return
            last = batch[-1].id
            yield b"".join(orjson.dumps({
                "id": r.id, "at": r.at, "actor_id": r.actor_id, "actor_role": r.actor_role, "ip": r.ip,
                "client": r.client, "action": r.action, "target": r.target, "outcome": r.outcome,
                "details": r.details, "prev_hash": r.prev_hash, "hash": r.hash}) + b"\n" for r in batch)

    return StreamingResponse(rows(), media_type="application/x-ndjson",
                             headers={"content-disposition": 'attachment; filename="audit.jsonl"'})
