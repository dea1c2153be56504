"""The personal drive (个人网盘), each group's file space (群文件), and their administration (docs/drive.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field

from mixun.api import models
from mixun.api.deps import MAX_ID, DbId, Id, QueryId, gate
from mixun.api.responses import file_headers
from mixun.api.schemas import _In
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.services import drive, drive_handover, functions
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["drive"])
_STAFF_GATE = gate(Perm.CHAT)


def _drive_user(ctx: Annotated[Ctx, Depends(_STAFF_GATE)]) -> Ctx:
    """Staff, and the drive switched on for them (secadmin's ``use_drive`` rule; a 403 that names it)."""
    functions.require(ctx, "use_drive")
    return ctx


Staff = Annotated[Ctx, Depends(_drive_user)]
QuotaAdmin = Annotated[Ctx, Depends(gate(Perm.ADMIN_USERS))]
TypesAdmin = Annotated[Ctx, Depends(gate(Perm.DLP_MANAGE))]
ReportsAdmin = Annotated[Ctx, Depends(gate(Perm.DRIVE_REPORTS))]
# HR only: who receives a departed person's files is a reach into content, not sysadmin's (三员分立).
HandoverAdmin = Annotated[Ctx, Depends(gate(Perm.ORG_MANAGE))]
UploadId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
ChunkIndex = Annotated[int, Path(ge=0, le=1_000_000)]
CHUNK_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}}
RANGE: dict[int | str, dict[str, Any]] = {206: {"description": "Partial content (a Range request)"}}


class FolderIn(_In):
    name: str = Field(min_length=1, max_length=255)
    parent_id: DbId | None = None
    conversation_id: DbId | None = None


class RenameIn(_In):
    name: str = Field(min_length=1, max_length=255)


class MoveIn(_In):
    parent_id: DbId | None = None


class UploadIn(_In):
    name: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0, le=MAX_ID)
    parent_id: DbId | None = None
    conversation_id: DbId | None = None
    sha256: str | None = Field(default=None, min_length=64, max_length=64)


class CompleteIn(_In):
    confirm: bool = False


class ShareIn(_In):
    conversation_id: DbId
    client_id: str | None = Field(default=None, max_length=64)
    confirm: bool = False


class ReportIn(_In):
    reason: str = Field(min_length=1, max_length=500)


class DecisionIn(_In):
    action: Literal["remove", "dismiss"]
    reason: str = Field(min_length=1, max_length=500)


class QuotaIn(_In):
    quota_bytes: int = Field(ge=0, le=MAX_ID)
    user_id: DbId | None = None
    unit_id: DbId | None = None


class BlockedTypeIn(_In):
    extension: str = Field(min_length=1, max_length=17)
    label: str = Field(default="", max_length=100)


class HandoverIn(_In):
    to_user_id: DbId


# ---- browsing -------------------------------------------------------------------------------------------

@router.get("/drive", response_model=models.DriveListing)
def list_drive(ctx: Staff, parent_id: QueryId = None, q: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
    """One folder of the caller's drive (the root without ``parent_id``), or a search by name (``q``)."""
    return drive.list_items(ctx, parent_id, None, q)


@router.get("/conversations/{conversation_id}/space", response_model=models.DriveListing)
def list_space(conversation_id: Id, ctx: Staff, parent_id: QueryId = None,
               q: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
    """群文件: the group's folders and uploaded files, and at the root (or in a search) the files sent in
    its chat that the caller's history shows. Members only; a leaver loses it."""
    return drive.list_items(ctx, parent_id, conversation_id, q)


@router.get("/drive/usage", response_model=models.DriveUsage)
def usage(ctx: Staff) -> dict[str, Any]:
    return drive.usage(ctx)


@router.post("/drive/folders", status_code=201, response_model=models.DriveItem)
def create_folder(body: FolderIn, ctx: Staff) -> dict[str, Any]:
    return drive.create_folder(ctx, body.name, body.parent_id, body.conversation_id)


@router.patch("/drive/items/{item_id}", response_model=models.DriveItem)
def rename(item_id: Id, body: RenameIn, ctx: Staff) -> dict[str, Any]:
    return drive.rename(ctx, item_id, body.name)


@router.post("/drive/items/{item_id}/move", response_model=models.DriveItem)
def move(item_id: Id, body: MoveIn, ctx: Staff) -> dict[str, Any]:
    return drive.move(ctx, item_id, body.parent_id)


@router.delete("/drive/items/{item_id}", response_model=models.DriveItem)
def delete(item_id: Id, ctx: Staff) -> dict[str, Any]:
    """To the recycle bin (personal), or out of the group's view (kept for the archive)."""
    return drive.delete_item(ctx, item_id)


@router.get("/drive/trash", response_model=models.DriveItems)
def trash(ctx: Staff) -> dict[str, Any]:
    return drive.trash(ctx)


@router.post("/drive/trash/{item_id}/restore", response_model=models.DriveItem)
def restore(item_id: Id, ctx: Staff) -> dict[str, Any]:
    return drive.restore(ctx, item_id)


@router.delete("/drive/trash/{item_id}", status_code=204)
def purge(item_id: Id, ctx: Staff) -> Response:
    """彻底删除: the file's blob and wrapped key are destroyed now."""
    drive.purge(ctx, item_id)
    return Response(status_code=204)


# ---- uploads and downloads -----------------------------------------------------------------------------

@router.post("/drive/uploads", status_code=201, response_model=models.DriveUpload)
def start_upload(body: UploadIn, ctx: Staff) -> dict[str, Any]:
    """Open a chunked upload: name, type, per-file limit and quota are checked before any byte is taken."""
    return drive.start_upload(ctx, body.name, body.size, body.parent_id, body.conversation_id, body.sha256)


@router.get("/drive/uploads/{upload_id}", response_model=models.DriveUpload)
def upload_status(upload_id: UploadId, ctx: Staff) -> dict[str, Any]:
    """Which chunks the server holds: a client resumes by sending the others."""
    return drive.upload_status(ctx, upload_id)


@router.put("/drive/uploads/{upload_id}/chunks/{index}", openapi_extra=CHUNK_BODY, response_model=models.DriveChunk)
async def put_chunk(upload_id: UploadId, index: ChunkIndex, request: Request, ctx: Staff,
                    x_chunk_sha256: Annotated[str | None, Header(max_length=64)] = None) -> dict[str, Any]:
    """Chunk ``index`` (from 0; ``chunk_size`` bytes, the last one shorter) with its SHA-256 in ``X-Chunk-SHA256``."""
    from starlette.concurrency import run_in_threadpool

    limit = drive.CHUNK
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise MixunError("body_too_large")
    return await run_in_threadpool(drive.put_chunk, ctx, upload_id, index, bytes(body), x_chunk_sha256)


@router.post("/drive/uploads/{upload_id}/complete", status_code=201, response_model=models.DriveItem)
def complete_upload(upload_id: UploadId, ctx: Staff, body: CompleteIn | None = None) -> dict[str, Any]:
    """All chunks in: the file is scanned (and, in a group space, checked by DLP) and kept."""
    return drive.complete_upload(ctx, upload_id, body.confirm if body else False)


@router.delete("/drive/uploads/{upload_id}", status_code=204)
def cancel_upload(upload_id: UploadId, ctx: Staff) -> Response:
    drive.cancel_upload(ctx, upload_id)
    return Response(status_code=204)


@router.get("/drive/items/{item_id}/content", responses=RANGE)
def download(item_id: Id, ctx: Staff, range_: Annotated[str | None, Header(alias="Range", max_length=100)] = None) -> Response:
    """The file, streamed; ``Range: bytes=a-b`` answers 206 with that part."""
    d = drive.open_file(ctx, item_id, range_)
    headers = file_headers(d.name) | {"Accept-Ranges": "bytes", "Content-Length": str(d.end - d.start)}
    if d.partial:
        headers["Content-Range"] = f"bytes {d.start}-{d.end - 1}/{d.size}"
    return StreamingResponse(d.chunks, status_code=206 if d.partial else 200, media_type=d.mime, headers=headers)


@router.post("/drive/items/{item_id}/share", status_code=201, response_model=models.Message)
def share(item_id: Id, body: ShareIn, ctx: Staff) -> dict[str, Any]:
    """Send the file into a conversation, through DLP (channel ``drive``) and the virus scan."""
    return drive.share(ctx, item_id, body.conversation_id, body.client_id, body.confirm)


# ---- unused files, reports, notices -----------------------------------------------------------------

@router.get("/drive/unused", response_model=models.DriveItems)
def unused(ctx: Staff) -> dict[str, Any]:
    return drive.unused(ctx)


@router.post("/drive/items/{item_id}/keep", response_model=models.DriveItem)
def keep(item_id: Id, ctx: Staff) -> dict[str, Any]:
    return drive.keep(ctx, item_id)


@router.post("/drive/items/{item_id}/report", status_code=201, response_model=models.DriveReportFiled)
def report(item_id: Id, body: ReportIn, ctx: Staff) -> dict[str, Any]:
    return drive.report(ctx, item_id, body.reason)


@router.get("/drive/removed", response_model=models.DriveRemoved)
def removed(ctx: Staff) -> dict[str, Any]:
    """Files secadmin removed from the caller's drive or uploads, with the reason."""
    return drive.removed_notices(ctx)


@router.get("/drive/blocked-types", response_model=models.DriveBlockedTypes)
def blocked_types(ctx: Staff) -> dict[str, Any]:
    """The non-work types every drive refuses (for the client to say so before uploading)."""
    return drive.blocked_types(ctx)


# ---- administration --------------------------------------------------------------------------------

@router.get("/admin/drive/quotas", response_model=models.DriveQuotas)
def list_quotas(ctx: QuotaAdmin) -> dict[str, Any]:
    return drive.list_quotas(ctx)


@router.put("/admin/drive/quotas", response_model=models.DriveQuota)
def set_quota(body: QuotaIn, ctx: QuotaAdmin) -> dict[str, Any]:
    """A quota for one person (``user_id``) or one unit and everything under it (``unit_id``)."""
    return drive.set_quota(ctx, body.quota_bytes, body.user_id, body.unit_id)


@router.delete("/admin/drive/quotas/{quota_id}", status_code=204)
def clear_quota(quota_id: Id, ctx: QuotaAdmin) -> Response:
    drive.clear_quota(ctx, quota_id)
    return Response(status_code=204)


@router.get("/admin/drive/blocked-types", response_model=models.DriveBlockedTypes)
def admin_blocked_types(ctx: TypesAdmin) -> dict[str, Any]:
    return drive.blocked_types(ctx)


@router.post("/admin/drive/blocked-types", status_code=201, response_model=models.DriveBlockedTypes)
def add_blocked_type(body: BlockedTypeIn, ctx: TypesAdmin) -> dict[str, Any]:
    return drive.add_blocked_type(ctx, body.extension, body.label)


@router.delete("/admin/drive/blocked-types/{extension}", response_model=models.DriveBlockedTypes)
def remove_blocked_type(extension: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,16}$")], ctx: TypesAdmin) -> dict[str, Any]:
    return drive.remove_blocked_type(ctx, extension)


@router.get("/admin/drive/reports", response_model=models.DriveReports)
def list_reports(ctx: ReportsAdmin, status: Literal["open", "removed", "dismissed", "all"] = "open") -> dict[str, Any]:
    """Reported drive files: name, size, place, owner and the reporter's reason (never the content)."""
    return drive.reports(ctx, status)


@router.post("/admin/drive/reports/{report_id}/decision", response_model=models.DriveDecision)
def decide(report_id: Id, body: DecisionIn, ctx: ReportsAdmin) -> dict[str, Any]:
    """Remove the file (the owner is told why) or dismiss the report; both with a reason, audited."""
    return drive.decide_report(ctx, report_id, body.action, body.reason)


@router.get("/admin/drive/handovers", response_model=models.DriveHandovers)
def list_handovers(ctx: HandoverAdmin) -> dict[str, Any]:
    """Departed people's drives: waiting for HR (no unit head) or with whom they are now."""
    return drive_handover.handovers(ctx)


@router.post("/admin/users/{user_id}/drive-handover", response_model=models.DriveHandover)
def handover(user_id: Id, body: HandoverIn, ctx: HandoverAdmin) -> dict[str, Any]:
    """HR names who receives a departed person's drive (whole; from the manager too, if it went there)."""
    return drive_handover.hand_over(ctx, user_id, body.to_user_id)
