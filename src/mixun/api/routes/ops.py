"""Operations (issue 22): the system administrator's alerts and notification dead letters, fault
reports (anyone files, sysadmin handles), the inspection report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from pydantic import Field

from mixun.api import models
from mixun.api import models_ops as mops
from mixun.api.deps import DbId, Id, Limit, Offset, gate
from mixun.api.responses import file_response
from mixun.api.schemas import _In
from mixun.domain.roles import Perm
from mixun.services import faults, inspection, keys, notifications, ops_alerts
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["operations"])
Monitor = Annotated[Ctx, Depends(gate(Perm.OPS_MONITOR))]


@router.get("/admin/ops/alerts", response_model=mops.OpsAlerts)
def alerts(ctx: Monitor) -> dict[str, Any]:
    """What is wrong with the service now (the system administrator's alerts)."""
    return ops_alerts.alerts(ctx, "faults")


@router.get("/admin/security/risks", response_model=mops.OpsAlerts)
def security_risks(ctx: Annotated[Ctx, Depends(gate(Perm.SECURITY_ALERTS))]) -> dict[str, Any]:
    """Security risks now: DLP block bursts, lockout bursts, unusual logins (the security administrator's)."""
    return ops_alerts.alerts(ctx, "security")


@router.get("/security/keys", response_model=mops.KeysStatus)
def keys_status(ctx: Annotated[Ctx, Depends(gate(Perm.KEYS_STATUS))]) -> dict[str, Any]:
    """The key management status (secadmin, auditor; read-only): the cipher of new data keys, each
    key-encryption key version, the period keys and where they are kept, the last key operations. Rotating
    and destroying keys are `mixun keys` commands on the server (docs/keys.md)."""
    return keys.console(ctx)


@router.get("/admin/ops/dead-letters", response_model=mops.DeadLetters)
def dead_letters(ctx: Monitor, limit: Limit = 100) -> dict[str, Any]:
    """Notifications every attempt of which failed (or that a gateway refused), newest first."""
    return notifications.dead_letters(ctx, limit)


# ---- fault reports ---------------------------------------------------------------------------------

Account = Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]
Handler = Annotated[Ctx, Depends(gate(Perm.FAULTS_HANDLE))]


class FaultIn(_In):
    title: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)


class FaultReplyIn(_In):
    text: str = Field(min_length=1, max_length=4000)


class FaultResolveIn(_In):
    resolution: str = Field(min_length=1, max_length=4000)


class FaultAssignIn(_In):
    user_id: DbId | None = None


@router.post("/faults", status_code=201, response_model=models.FaultReport)
def file_fault(body: FaultIn, ctx: Account) -> dict[str, Any]:
    """Any signed-in person files a fault report (what, where); the clock starts now."""
    return faults.file_report(ctx, body.title, body.location, body.description)


@router.post("/faults/{report_id}/files", status_code=201, response_model=models.FaultReport)
def attach_fault_file(report_id: Id, ctx: Account, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """The report's screenshot or file (its reporter; up to MIXUN_MAX_IMAGE_BYTES), virus-scanned."""
    data = file.file.read(ctx.rt.settings.max_image_bytes + 1)
    return faults.attach(ctx, report_id, data, file.filename or "file", file.content_type)


@router.get("/faults", response_model=models.FaultReports)
def my_faults(ctx: Account) -> dict[str, Any]:
    return faults.my_reports(ctx)


@router.get("/faults/{report_id}", response_model=models.FaultReport)
def fault(report_id: Id, ctx: Account) -> dict[str, Any]:
    return faults.get_report(ctx, report_id)


@router.get("/faults/{report_id}/file")
def fault_file(report_id: Id, ctx: Account) -> Response:
    data, mime, name = faults.read_file(ctx, report_id)
    return file_response(data, mime, name, inline=mime.startswith("image/"))


@router.post("/faults/{report_id}/replies", response_model=models.FaultReport)
def reply_fault(report_id: Id, body: FaultReplyIn, ctx: Account) -> dict[str, Any]:
    """An answer: a handler's (the first stops nothing but is recorded as answered) or the reporter's."""
    return faults.reply(ctx, report_id, body.text)


@router.get("/admin/faults", response_model=models.FaultQueue)
def fault_queue(ctx: Handler, status: Annotated[Literal["active", "overdue", "resolved", "all"], Query()] = "active",
                limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return faults.queue(ctx, status, limit, offset)


@router.get("/admin/faults/handlers", response_model=models.FaultHandlers)
def fault_handlers(ctx: Handler) -> dict[str, Any]:
    return {"handlers": faults.handlers(ctx)}


@router.post("/admin/faults/{report_id}/assign", response_model=models.FaultReport)
def assign_fault(report_id: Id, body: FaultAssignIn, ctx: Handler) -> dict[str, Any]:
    return faults.assign(ctx, report_id, body.user_id)


@router.post("/admin/faults/{report_id}/resolve", response_model=models.FaultReport)
def resolve_fault(report_id: Id, body: FaultResolveIn, ctx: Handler) -> dict[str, Any]:
    return faults.resolve(ctx, report_id, body.resolution)


# ---- the inspection report ---------------------------------------------------------------------------

@router.get("/admin/reports/inspection")
def inspection_report(ctx: Annotated[Ctx, Depends(gate(Perm.REPORTS))],
                      date_from: Annotated[date, Query(alias="from")], date_to: Annotated[date, Query(alias="to")],
                      format: Annotated[Literal["html", "pdf"], Query()] = "html") -> Response:
    """The inspection report for the days ``from``..``to`` (inclusive), as a download."""
    body = inspection.build(ctx, date_from, date_to, format)
    name = f"mixun-inspection-{date_from.isoformat()}-{date_to.isoformat()}.{format}"
    mime = "application/pdf" if format == "pdf" else "text/html; charset=utf-8"
    return Response(body, media_type=mime, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                    "Cache-Control": "no-store"})
