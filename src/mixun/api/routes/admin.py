"""The administrators' console API: people, units, sessions, flagged logins, the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from mixun.api import models
from mixun.api import models_consoles_a as m
from mixun.api.deps import Id, Instant, Limit, Offset, QueryId, gate
from mixun.api.schemas import AdminUserCreate, AdminUserUpdate, UnitCreate, _In
from mixun.domain.roles import Perm
from mixun.services import approvals, audit_read, auth, users
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
UsersAdmin = Annotated[Ctx, Depends(gate(Perm.ADMIN_USERS))]
RolesAdmin = Annotated[Ctx, Depends(gate(Perm.ADMIN_ROLES))]
Approver = Annotated[Ctx, Depends(gate(Perm.APPROVALS))]


# Acts on a privileged account answer 202 with the filed request (documented in the OpenAPI too).
FILED: dict[int | str, dict[str, Any]] = {202: {"model": m.ApprovalFiled,
                                                 "description": "Filed for a second administrator's approval"}}


def _maybe_pending(response: Response, out: dict[str, Any]) -> dict[str, Any]:
    """An act on a privileged account is only filed: 202 with the approval request."""
    if out.get("pending"):
        response.status_code = 202
    return out


@router.get("/users", response_model=models.AdminUserPage)
def list_users(ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_USERS_READ))], q: Annotated[str, Query(max_length=100)] = "", limit: Limit = 50,
               offset: Offset = 0) -> dict[str, Any]:
    return users.admin_list_users(ctx, q, limit, offset)


@router.post("/users", status_code=201, response_model=models.AdminUser)
def create_user(body: AdminUserCreate, ctx: UsersAdmin) -> dict[str, Any]:
    """A plain employee in an existing unit; roles other than employee are secadmin's to grant."""
    return users.admin_create_user(ctx, username=body.username, name=body.name, unit=body.unit_path,
                                   password=body.password, phone=body.phone, position=body.position,
                                   roles=body.roles, employee_no=body.employee_no)


@router.patch("/users/{user_id}", response_model=models.AdminUser | m.ApprovalFiled, responses=FILED)
def update_user(user_id: Id, body: AdminUserUpdate, ctx: UsersAdmin, response: Response) -> dict[str, Any]:
    from mixun.services.org import refuse_fields

    refuse_fields(body.model_extra, ())  # name, employee number: HR's (a 422 naming the field)
    return _maybe_pending(response, users.admin_update_user(ctx, user_id, body.model_dump(exclude_unset=True)))


class RolesIn(_In):
    roles: list[str] = Field(max_length=10)


@router.put("/users/{user_id}/roles", response_model=models.AdminUser | m.ApprovalFiled, responses=FILED)
def set_roles(user_id: Id, body: RolesIn, ctx: RolesAdmin, response: Response) -> dict[str, Any]:
    return _maybe_pending(response, users.set_roles(ctx, user_id, body.roles))


@router.post("/users/{user_id}/unlock", status_code=204)
def unlock(user_id: Id, ctx: UsersAdmin) -> Response:
    users.admin_unlock(ctx, user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/reset-password", response_model=m.PasswordReset | m.ApprovalFiled, responses=FILED)
def reset_password(user_id: Id, ctx: UsersAdmin, response: Response) -> dict[str, Any]:
    return _maybe_pending(response, users.admin_reset_password(ctx, user_id))


@router.post("/users/{user_id}/reset-two-factor", response_model=models.AdminUser | m.ApprovalFiled,
             responses=FILED)
def reset_two_factor(user_id: Id, ctx: UsersAdmin, response: Response) -> dict[str, Any]:
    return _maybe_pending(response, users.admin_reset_two_factor(ctx, user_id))


class DepartIn(_In):
    reason: str = Field(max_length=32)
    pledged: bool = False  # the exit confidentiality pledge was signed


@router.post("/users/{user_id}/depart", response_model=m.Departure | m.ApprovalFiled, responses=FILED)
def depart(user_id: Id, body: DepartIn, ctx: UsersAdmin, response: Response) -> dict[str, Any]:
    return _maybe_pending(response, users.depart(ctx, user_id, body.reason, pledged=body.pledged))


class ReasonIn(_In):
    reason: str = Field(max_length=500)


@router.post("/users/{user_id}/reinstate", status_code=202, response_model=m.ApprovalFiled)
def reinstate(user_id: Id, body: ReasonIn, ctx: UsersAdmin) -> dict[str, Any]:
    """Undoing a departure: always a request with a reason, decided by secadmin."""
    return users.reinstate(ctx, user_id, body.reason)


@router.get("/approvals", response_model=m.Approvals)
def list_approvals(ctx: Approver, status: Annotated[str, Query(max_length=16)] = "pending", limit: Limit = 50,
                   offset: Offset = 0) -> dict[str, Any]:
    return approvals.list_approvals(ctx, status, limit, offset)


@router.post("/approvals/{approval_id}/approve", response_model=m.ApprovalDone)
def approve(approval_id: Id, ctx: Approver) -> dict[str, Any]:
    return approvals.approve(ctx, approval_id, users.APPLY)


@router.post("/approvals/{approval_id}/reject", response_model=m.ApprovalRejected)
def reject(approval_id: Id, body: ReasonIn, ctx: Approver) -> dict[str, Any]:
    return approvals.reject(ctx, approval_id, body.reason)


@router.get("/units", response_model=models.DirectoryUnits)
def list_units(ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_UNITS))]) -> dict[str, Any]:
    return {"units": users.list_units(ctx)}


@router.post("/units", status_code=201, response_model=models.DirectoryUnit)
def create_unit(body: UnitCreate, ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_UNITS))]) -> dict[str, Any]:
    return users.create_unit(ctx, body.name, body.parent_id)


@router.get("/sessions", response_model=m.Sessions)
def sessions(ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_SESSIONS))]) -> dict[str, Any]:
    return {"sessions": auth.list_sessions(ctx)}


@router.get("/login-alerts", response_model=m.LoginAlerts)
def login_alerts(ctx: Annotated[Ctx, Depends(gate(Perm.SECURITY_ALERTS))], limit: Limit = 100) -> dict[str, Any]:
    return {"alerts": auth.login_alerts(ctx, None, limit)}


@router.get("/audit", response_model=m.AuditTrail)
def audit_trail(ctx: Annotated[Ctx, Depends(gate(Perm.AUDIT_READ))],
                action: Annotated[str | None, Query(max_length=64)] = None,
                actor: QueryId = None,
                actor_username: Annotated[str | None, Query(max_length=64)] = None,
                since: Annotated[Instant | None, Query()] = None,
                until: Annotated[Instant | None, Query()] = None,
                person: Annotated[str | None, Query(max_length=64, description="name, username or employee number")] = None,
                limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return audit_read.search(ctx, action, actor, limit, offset, actor_username,
                             since.isoformat() if since else None, until.isoformat() if until else None, person)
