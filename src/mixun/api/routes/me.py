"""The caller's own account, work status and login alerts; the directory; client settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from mixun.api import models_consoles_a as m
from mixun.api.deps import Id, Limit, Offset, QueryId, gate
from mixun.api.models import DirectoryPage, DirectoryPerson, DirectoryUnits, Drafts, Me
from mixun.api.schemas import StatusIn
from mixun.domain.roles import Perm
from mixun.services import auth, directory, drafts, presence, users
from mixun.services.attachments import antivirus_status
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["me", "directory"])


@router.get("/me", response_model=Me)
def me(ctx: Annotated[Ctx, Depends(gate(Perm.SESSION))]) -> dict[str, Any]:
    return auth.me(ctx)


@router.patch("/me", response_model=Me)
def set_status(body: StatusIn, ctx: Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]) -> dict[str, Any]:
    """Only the work status: a real name is HR's (another field is a 422 that names it)."""
    from mixun.services.org import refuse_fields

    refuse_fields(body.model_extra, ())
    directory.set_work_status(ctx, body.status)
    return auth.me(ctx)


@router.get("/me/login-alerts", response_model=m.LoginAlerts)
def my_alerts(ctx: Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]) -> dict[str, Any]:
    return {"alerts": auth.login_alerts(ctx, ctx.user_id)}


@router.get("/directory/users", response_model=DirectoryPage)
def search(ctx: Annotated[Ctx, Depends(gate(Perm.DIRECTORY_READ))],
           q: Annotated[str, Query(max_length=100)] = "", unit_id: QueryId = None,
           limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return directory.search_users(ctx, q, unit_id, limit, offset)


@router.get("/directory/users/{user_id}", response_model=DirectoryPerson)
def person(user_id: Id, ctx: Annotated[Ctx, Depends(gate(Perm.DIRECTORY_READ))]) -> dict[str, Any]:
    return directory.get_person(ctx, user_id)


@router.get("/presence", response_model=m.Presence)
def contacts_presence(ctx: Annotated[Ctx, Depends(gate(Perm.DIRECTORY_READ))]) -> dict[str, Any]:
    """The shown status of everyone the caller shares a conversation with (a snapshot; live changes
    follow as `presence.changed` events)."""
    return {"presence": presence.contacts_presence(ctx)}


class DraftIn(BaseModel):
    text: str = Field(default="", max_length=100_000)


@router.get("/drafts", response_model=Drafts)
def my_drafts(ctx: Annotated[Ctx, Depends(gate(Perm.CHAT))]) -> dict[str, Any]:
    """The caller's unsent composer texts, by conversation id."""
    return {"drafts": drafts.list_drafts(ctx)}


@router.put("/drafts/{conversation_id}", status_code=204)
def save_draft(conversation_id: Id, body: DraftIn, ctx: Annotated[Ctx, Depends(gate(Perm.CHAT))]) -> Response:
    drafts.save_draft(ctx, conversation_id, body.text)
    return Response(status_code=204)


@router.get("/directory/units", response_model=DirectoryUnits)
def units(ctx: Annotated[Ctx, Depends(gate(Perm.DIRECTORY_READ))]) -> dict[str, Any]:
    return {"units": users.list_units(ctx)}


@router.get("/client-config", response_model=m.ClientConfig)
def client_config(ctx: Annotated[Ctx, Depends(gate(Perm.PUBLIC))]) -> dict[str, Any]:
    s = ctx.rt.settings
    return {"idle_lock_minutes": s.idle_lock_minutes, "locale": s.locale,
            "max_message_length": s.max_message_length, "max_image_bytes": s.max_image_bytes,
            "max_file_bytes": s.max_file_bytes, "files_without_scanner": s.files_without_scanner,
            "antivirus": antivirus_status(ctx.rt), "recall_window_minutes": s.recall_window_minutes}


@router.get("/health", response_model=m.Health)
def health(ctx: Annotated[Ctx, Depends(gate(Perm.PUBLIC))]) -> dict[str, Any]:
    ctx.rt.db.answers()  # raises when the database does not answer
    hub = ctx.rt.hub
    return {"status": "ok", "database": "sqlite" if ctx.rt.db.is_sqlite else "postgresql",
            "bus": ctx.rt.settings.bus_url.split("://")[0], "connections": hub.connection_count() if hub else 0,
            "antivirus": antivirus_status(ctx.rt)}
