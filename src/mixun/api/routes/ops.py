"""Operations (issue 22): the system administrator's alerts and notification dead letters, fault
reports (anyone files, sysadmin handles), the inspection report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from mixun.api.deps import Limit, gate
from mixun.domain.roles import Perm
from mixun.services import notifications
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["operations"])
Monitor = Annotated[Ctx, Depends(gate(Perm.OPS_MONITOR))]


@router.get("/admin/ops/dead-letters")
def dead_letters(ctx: Monitor, limit: Limit = 100) -> dict[str, Any]:
    """Notifications every attempt of which failed (or that a gateway refused), newest first."""
    return notifications.dead_letters(ctx, limit)
