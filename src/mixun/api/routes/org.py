"""People and the organisation (issue 21): account applications, HR's unit tree and people."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from mixun.api import models_org as mo
from mixun.api.deps import DbId, Id, Limit, Offset, QueryId, gate
from mixun.api.schemas import UnitCreate, _In
from mixun.domain.roles import Perm
from mixun.services import applications, org, users
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["organisation"])
Hr = Annotated[Ctx, Depends(gate(Perm.ORG_MANAGE))]
Applicant = Annotated[Ctx, Depends(gate(Perm.APPLICATIONS))]


class _Named(_In):
    """A body whose unknown fields are kept so the service can name them (422 field_not_changeable)."""

    model_config = ConfigDict(strict=True, extra="allow")


# ---- account applications (A1) ---------------------------------------------------------------------------

class ApplicationCreate(_Named):
    name: str = Field(max_length=100)
    employee_no: str = Field(max_length=64)
    unit_id: DbId
    position: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    functions: list[str] = Field(default_factory=lambda: ["chat"], max_length=10,
                                 json_schema_extra={"items": {"type": "string", "enum": list(applications.FUNCTIONS)}})
    username: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=500)


class ApproveIn(_In):
    username: str | None = Field(default=None, max_length=64)


class ReasonIn(_In):
    reason: str = Field(max_length=500)


@router.post("/applications", status_code=201, response_model=mo.Application)
def file_application(body: ApplicationCreate, ctx: Applicant) -> dict[str, Any]:
    """A new employee's account applied for; it waits for the unit head, then HR, then sysadmin."""
    org.refuse_fields(body.model_extra, ())
    return applications.file_application(ctx, **body.model_dump(exclude=set(body.model_extra or {})))


@router.get("/applications", response_model=mo.Applications)
def list_applications(ctx: Applicant, scope: Annotated[str, Query(max_length=8)] = "mine",
                      limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return applications.list_applications(ctx, scope, limit, offset)


@router.post("/applications/{application_id}/approve", response_model=mo.ApplicationDecided)
def approve_application(application_id: Id, body: ApproveIn, ctx: Applicant) -> dict[str, Any]:
    """The caller's step approved; at sysadmin's step the answer carries the one-time password, once."""
    return applications.approve(ctx, application_id, body.username)


@router.post("/applications/{application_id}/reject", response_model=mo.Application)
def reject_application(application_id: Id, body: ReasonIn, ctx: Applicant) -> dict[str, Any]:
    return applications.reject(ctx, application_id, body.reason)


# ---- HR: the unit tree (A3, A4) ----------------------------------------------------------------------------

class UnitUpdate(_Named):
    name: str | None = Field(default=None, max_length=100)
    parent_id: DbId | None = None


class MergeIn(_In):
    into_id: DbId


@router.get("/org/units", response_model=mo.OrgUnits)
def tree(ctx: Hr) -> dict[str, Any]:
    """Every unit, closed ones flagged, with how many people each holds."""
    return {"units": org.list_tree(ctx)}


@router.post("/org/units", status_code=201, response_model=mo.UnitCreated)
def create_unit(body: UnitCreate, ctx: Hr) -> dict[str, Any]:
    return users.create_unit(ctx, body.name, body.parent_id)


@router.patch("/org/units/{unit_id}", response_model=mo.OrgUnit)
def update_unit(unit_id: Id, body: UnitUpdate, ctx: Hr) -> dict[str, Any]:
    """Rename (``name``) and/or move (``parent_id``; null makes it top-level) a unit with its sub-units."""
    org.refuse_fields(body.model_extra, ())
    return org.update_unit(ctx, unit_id, body.name, body.parent_id, "parent_id" in body.model_fields_set)


@router.post("/org/units/{unit_id}/merge", response_model=mo.UnitMerged)
def merge_unit(unit_id: Id, body: MergeIn, ctx: Hr) -> dict[str, Any]:
    return org.merge_unit(ctx, unit_id, body.into_id)


@router.post("/org/units/{unit_id}/close", response_model=mo.OrgUnit)
def close_unit(unit_id: Id, ctx: Hr) -> dict[str, Any]:
    return org.close_unit(ctx, unit_id)


# ---- HR: people (A2, A4) -----------------------------------------------------------------------------------

class PersonUpdate(_Named):
    name: str | None = Field(default=None, max_length=100)
    employee_no: str | None = Field(default=None, max_length=64)
    unit_id: DbId | None = None
    position: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)


class OrgDepartIn(_In):
    reason: str = Field(max_length=32, json_schema_extra={"enum": list(users.DEPARTURE_REASONS)})
    pledged: bool = False


@router.get("/org/people", response_model=mo.OrgPeople)
def people(ctx: Hr, q: Annotated[str, Query(max_length=100)] = "", unit_id: QueryId = None,
           limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return org.list_people(ctx, q, unit_id, limit, offset)


@router.patch("/org/people/{user_id}", response_model=mo.OrgPersonUpdated)
def update_person(user_id: Id, body: PersonUpdate, ctx: Hr) -> dict[str, Any]:
    """HR's correction: real name, employee number, unit, position, phone (audited; marks HR-verified).
    Any other field is a 422 that names it."""
    org.refuse_fields(body.model_extra, ())
    return org.update_person(ctx, user_id, body.model_dump(exclude_unset=True, exclude=set(body.model_extra or {})))


@router.post("/org/people/{user_id}/depart", response_model=mo.Departure)
def depart_person(user_id: Id, body: OrgDepartIn, ctx: Hr) -> dict[str, Any]:
    """HR records a departure (the same act as sysadmin's ``/admin/users/{id}/depart``)."""
    return org.depart_person(ctx, user_id, body.reason, body.pledged)


# ---- HR: the directory sync (LDAP / Active Directory) ----------------------------------------------------------

@router.get("/org/ldap-sync", response_model=mo.LdapSyncStatus)
def ldap_sync_status(ctx: Hr) -> dict[str, Any]:
    """Whether the LDAP / Active Directory sync is configured and its last run (when, counts, errors);
    runs are started by `mixun org ldap-sync` (a timer or cron on the server)."""
    from mixun.services import ldap_sync

    extra = ctx.rt.settings.extra
    return {"configured": bool(extra.get("MIXUN_LDAP_URL") and extra.get("MIXUN_LDAP_BASE_DN")),
            "last": ldap_sync.last_sync(ctx)}


# ---- groups with other units awaiting the unit head (item 8) ----------------------------------------------------

Chat = Annotated[Ctx, Depends(gate(Perm.CHAT))]


@router.get("/group-requests", response_model=mo.GroupRequests)
def group_requests(ctx: Chat, scope: Annotated[str, Query(max_length=8)] = "mine",
                   limit: Limit = 50) -> dict[str, Any]:
    """``mine``: the caller's own requests and where each stands; ``todo``: those the caller (a unit
    head) decides."""
    from mixun.services import group_requests as gr

    return gr.list_requests(ctx, scope, limit)


@router.post("/group-requests/{request_id}/approve", response_model=mo.GroupRequest)
def approve_group_request(request_id: Id, ctx: Chat) -> dict[str, Any]:
    """The unit head approves: the group is made as the requester asked."""
    from mixun.services import group_requests as gr

    return gr.approve(ctx, request_id)


@router.post("/group-requests/{request_id}/reject", response_model=mo.GroupRequest)
def reject_group_request(request_id: Id, body: ReasonIn, ctx: Chat) -> dict[str, Any]:
    from mixun.services import group_requests as gr

    return gr.reject(ctx, request_id, body.reason)


@router.post("/group-requests/{request_id}/withdraw", response_model=mo.GroupRequest)
def withdraw_group_request(request_id: Id, ctx: Chat) -> dict[str, Any]:
    from mixun.services import group_requests as gr

    return gr.withdraw(ctx, request_id)
