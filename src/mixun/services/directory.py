"""The directory: the org tree and people search (Chinese name, pinyin, initials, unit, position)."""

from __future__ import annotations

import math
import time
from typing import Any

from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.names import normalise_query
from mixun.domain.presence import WORK_STATUSES, presence_status
from mixun.domain.roles import is_administrator
from mixun.errors import MixunError
from mixun.services import audit, events
from mixun.services.membership import contacts_of
from mixun.services.presence import online_users
from mixun.services.runtime import Ctx
from mixun.storage import Session
from mixun.storage import directory as directory_store
from mixun.storage import users as user_store

MAX_PAGE = 200


def _views(ctx: Ctx, rows: list[Any], with_phone: bool) -> list[dict[str, Any]]:
    online = online_users(ctx, [r.id for r in rows])
    return [{
        "id": r.id, "username": r.username, "name": r.name, "employee_no": r.employee_no,
        "unit": r.path or "", "unit_id": r.unit_id, "position": r.position,
        "status": presence_status(r.work_status, r.id in online),
        **({"phone": r.phone} if with_phone else {}),
        "hr_verified": r.hr_verified,
    } for r in rows]


def _people(ctx: Ctx, s: Session, ids: list[int], with_phone: bool = False) -> list[dict[str, Any]]:
    """Directory entries for these people, in this order; the phone only on a person's own card."""
    if not ids:
        return []
    # Administrators (sysadmin, secadmin, auditor) are not staff: no card, no chat page (issue 19).
    by_id = {r.id: r for r in directory_store.list_entries(s, ids) if not is_administrator(r.roles)}
    return _views(ctx, [by_id[i] for i in ids if i in by_id], with_phone)


def _take(ctx: Ctx, key: str, what: str) -> None:
    """One directory read against the caller's allowance (issue 21 item 10: the directory cannot be
    harvested). Over it: 429, and the refusal goes to the audit trail (once a minute per person, so a
    script hammering the limit cannot flood the trail)."""
    limiter = ctx.rt.directory_card_limiter if key == "directory_card_limiter" else ctx.rt.directory_limiter
    if limiter is None or ctx.principal is None:
        return
    wait = limiter.wait(ctx.user_id)
    if wait <= 0:
        return
    noted = ctx.rt.directory_refusals_noted
    now = time.monotonic()
    if now - noted.get(ctx.user_id, -1e9) >= 60:
        noted[ctx.user_id] = now
        from mixun.services import audit

        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.DIRECTORY_HARVEST_REFUSED, target=f"user:{ctx.user_id}", outcome="failure",
                         what=what)
    raise MixunError("directory_rate_limited", retry_after=max(1, math.ceil(wait)))


def search_users(ctx: Ctx, q: str, unit_id: int | None, limit: int, offset: int) -> dict[str, Any]:
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    _take(ctx, "directory_limiter", "list")
    query = normalise_query(q)
    with ctx.rt.db.read() as s:
        units: list[int] | None = None
        if unit_id is not None:
            path = directory_store.find_unit_path(s, unit_id)
            if path is None:
                raise MixunError("not_found")
            units = directory_store.list_subtree_ids(s, unit_id, path)
        ids = directory_store.list_ids(s, query, units, offset, limit + 1)
        more = len(ids) > limit
        return {"users": _people(ctx, s, ids[:limit]), "next_offset": offset + limit if more else None}


def get_person(ctx: Ctx, user_id: int) -> dict[str, Any]:
    """A person's card: the one place their phone number shows. Each card with a phone is audited."""
    _take(ctx, "directory_card_limiter", "card")
    with ctx.rt.db.read() as s:
        people = _people(ctx, s, [user_id], with_phone=True)
    if not people:
        raise MixunError("not_found")
    if people[0].get("phone") and ctx.principal is not None and user_id != ctx.user_id:
        from mixun.services import audit

        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.DIRECTORY_CARD_VIEWED, target=f"user:{user_id}")
    return people[0]


def set_work_status(ctx: Ctx, status: str) -> None:
    if status not in WORK_STATUSES:
        raise MixunError("validation_failed", ("状态只能是 available、busy、meeting、away", "The status must be available, busy, meeting or away"), field="status")
    with ctx.rt.db.write() as s:
        user = user_store.find_user(s, ctx.user_id)
        assert user is not None
        if user.work_status == status:
            return
        user.work_status = status
        online = bool(online_users(ctx, [user.id]))
        shown = presence_status(status, online)
        events.emit(s, ctx, [*contacts_of(s, user.id), user.id], EventType.PRESENCE_CHANGED,
                    {"user_id": user.id, "status": shown, "work_status": status})
        audit.record(s, ctx, AuditAction.ACCOUNT_STATUS_CHANGED, target=f"user:{user.id}", status=status)
