"""secadmin's DLP console: policy, lexicons, trying a policy on a text, hits and sanctions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from mixun.api import models
from mixun.api import models_dlp as md
from mixun.api.deps import Id, Limit, Offset, QueryId, gate
from mixun.api.schemas import _In
from mixun.domain.dlp import CATEGORIES, CHANNELS
from mixun.domain.roles import Perm
from mixun.services import dlp
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1/dlp", tags=["dlp"])
Sec = Annotated[Ctx, Depends(gate(Perm.DLP_MANAGE))]


class PolicyIn(_In):
    policy: dict[str, Any]
    note: str = Field(default="", max_length=500)


class TermsIn(_In):
    category: str = Field(max_length=32, json_schema_extra={"enum": list(CATEGORIES)})
    terms: list[str] = Field(min_length=1, max_length=10_000)


class ScanIn(_In):
    text: str = Field(max_length=100_000)
    channel: str = Field(default="direct", max_length=16, json_schema_extra={"enum": list(CHANNELS)})
    roles: list[str] = Field(default_factory=lambda: ["employee"], max_length=10)
    unit_path: str = Field(default="", max_length=500)


@router.get("/policy", response_model=md.DlpPolicy)
def get_policy(ctx: Sec) -> dict[str, Any]:
    return dlp.get_policy(ctx)


@router.put("/policy", response_model=md.DlpPolicy)
def set_policy(body: PolicyIn, ctx: Sec) -> dict[str, Any]:
    return dlp.set_policy(ctx, body.policy, body.note)


@router.get("/lexicons", response_model=md.DlpTerms)
def list_terms(ctx: Sec, category: Annotated[str | None, Query(max_length=32)] = None, limit: Limit = 100,
               offset: Offset = 0) -> dict[str, Any]:
    return dlp.list_terms(ctx, category, limit, offset)


@router.post("/lexicons", response_model=md.DlpTermsAdded)
def add_terms(body: TermsIn, ctx: Sec) -> dict[str, int]:
    return dlp.add_terms(ctx, body.category, body.terms)


@router.post("/lexicons/remove", response_model=md.DlpTermsRemoved)
def remove_terms(body: TermsIn, ctx: Sec) -> dict[str, int]:
    return dlp.remove_terms(ctx, body.category, body.terms)


@router.post("/scan", response_model=md.DlpScan)
def scan(body: ScanIn, ctx: Sec) -> dict[str, Any]:
    return dlp.try_scan(ctx, body.text, body.channel, body.roles, body.unit_path)


@router.get("/hits", response_model=models.DlpHits)
def hits(ctx: Sec, user_id: QueryId = None, limit: Limit = 100,
         offset: Offset = 0) -> dict[str, Any]:
    return dlp.list_hits(ctx, user_id, limit, offset)


@router.post("/sanctions/{user_id}/lift", status_code=204)
def lift(user_id: Id, ctx: Sec) -> Response:
    dlp.lift_suspension(ctx, user_id)
    return Response(status_code=204)
