"""The administrators' console API: people, units, sessions, flagged logins, the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from mixun.api.deps import Id, Instant, Limit, Offset, QueryId, gate
from mixun.api.schemas import AdminUserCreate, AdminUserUpdate, UnitCreate, _In
from mixun.domain.roles import Perm
from mixun.services import audit_read, auth, users
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
UsersAdmin = Annotated[Ctx, Depends(gate(Perm.ADMIN_USERS))]


@router.get("/users")
def list_users(ctx: UsersAdmin, q: Annotated[str, Query(max_length=100)] = "", limit: Limit = 50,
               offset: Offset = 0) -> dict[str, Any]:
    return users.admin_list_users(ctx, q, limit, offset)


@router.post("/users", status_code=201)
def create_user(body: AdminUserCreate, ctx: UsersAdmin) -> dict[str, Any]:
    from datetime import UTC, datetime

    with ctx.rt.db.write() as s:
        user = users.create_user_txn(s, ctx, username=body.username, name=body.name, unit=body.unit_path,
                                     password=body.password, phone=body.phone, position=body.position,
                                     roles=body.roles, employee_no=body.employee_no)
        return users.admin_view(s, user, datetime.now(UTC))


@router.patch("/users/{user_id}")
def update_user(user_id: Id, body: AdminUserUpdate, ctx: UsersAdmin) -> dict[str, Any]:
    return users.admin_update_user(ctx, user_id, body.model_dump(exclude_unset=True))


@router.post("/users/{user_id}/unlock", status_code=204)
def unlock(user_id: Id, ctx: UsersAdmin) -> Response:
    users.admin_unlock(ctx, user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/reset-password")
def reset_password(user_id: Id, ctx: UsersAdmin) -> dict[str, str]:
    return {"password": users.admin_reset_password(ctx, user_id)}


class DepartIn(_In):
    reason: str = Field(max_length=32)


@router.post("/users/{user_id}/depart")
def depart(user_id: Id, body: DepartIn, ctx: UsersAdmin) -> dict[str, Any]:
    return users.depart(ctx, user_id, body.reason)


@router.get("/units")
def list_units(ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_UNITS))]) -> dict[str, Any]:
    return {"units": users.list_units(ctx)}


@router.post("/units", status_code=201)
def create_unit(body: UnitCreate, ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_UNITS))]) -> dict[str, Any]:
    return users.create_unit(ctx, body.name, body.parent_id)


@router.get("/sessions")
def sessions(ctx: Annotated[Ctx, Depends(gate(Perm.ADMIN_SESSIONS))]) -> dict[str, Any]:
    return {"sessions": auth.list_sessions(ctx)}


@router.get("/login-alerts")
def login_alerts(ctx: Annotated[Ctx, Depends(gate(Perm.SECURITY_ALERTS))], limit: Limit = 100) -> dict[str, Any]:
    return {"alerts": auth.login_alerts(ctx, None, limit)}


@router.get("/audit")
def audit_trail(ctx: Annotated[Ctx, Depends(gate(Perm.AUDIT_READ))],
                action: Annotated[str | None, Query(max_length=64)] = None,
                actor: QueryId = None,
                actor_username: Annotated[str | None, Query(max_length=64)] = None,
                since: Annotated[Instant | None, Query()] = None,
                until: Annotated[Instant | None, Query()] = None,
                limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return audit_read.search(ctx, action, actor, limit, offset, actor_username,
                             since and since.isoformat(), until and until.isoformat())
