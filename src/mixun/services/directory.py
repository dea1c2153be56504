"""The directory: the org tree and people search (Chinese name, pinyin, initials, unit, position)."""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.orm import Session

from mixun.db.models import SearchKey, Unit, User
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

MAX_PAGE = 200


_PERSON = select(User.id, User.username, User.name, User.employee_no, User.unit_id, User.position,
                 User.work_status, User.phone, User.hr_verified, Unit.path, User.roles).outerjoin(Unit, Unit.id == User.unit_id)
_PEOPLE_BY_ID = _PERSON.where(User.id.in_(bindparam("ids", expanding=True)))


def _hits(unit_filter: bool) -> Any:
    """Ids of matching people, best rank first: search-key prefixes (covering index on key, rank,
    user_id) and people of units whose name contains the query (units are few). Built once per shape,
    so a search pays no statement construction and SQLAlchemy's compiled cache always hits."""
    key_hits = (select(SearchKey.user_id.label("uid"), SearchKey.rank.label("rank"))
                .where(SearchKey.key >= bindparam("lo"), SearchKey.key < bindparam("hi")))
    matching_units = select(Unit.id).where(Unit.name.like(bindparam("like"), escape="\\"))
    unit_hits = (select(User.id.label("uid"), literal(3).label("rank"))
                 .where(User.unit_id.in_(matching_units), User.disabled == False))  # noqa: E712 (indexable)
    hits = key_hits.union_all(unit_hits).subquery()
    best = select(hits.c.uid, func.min(hits.c.rank).label("best")).group_by(hits.c.uid).subquery()
    # Disabled people have no search keys (users.index_user) and the unit branch skips them: no join.
    stmt = select(best.c.uid)
    if unit_filter:
        stmt = stmt.join(User, User.id == best.c.uid).where(User.unit_id.in_(bindparam("units", expanding=True)))
    return stmt.order_by(best.c.best, best.c.uid).offset(bindparam("off")).limit(bindparam("lim"))


_HITS = {False: _hits(False), True: _hits(True)}
_ALL = (select(User.id).where(User.disabled.is_(False)).order_by(User.id)
        .offset(bindparam("off")).limit(bindparam("lim")))
_ALL_IN_UNITS = (select(User.id).where(User.disabled.is_(False), User.unit_id.in_(bindparam("units", expanding=True)))
                 .order_by(User.id).offset(bindparam("off")).limit(bindparam("lim")))


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
    by_id = {r.id: r for r in s.connection().execute(_PEOPLE_BY_ID, {"ids": ids}) if not is_administrator(r.roles)}
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
        conn = s.connection()
        params: dict[str, Any] = {"off": offset, "lim": limit + 1}
        if unit_id is not None:
            path = conn.execute(select(Unit.path).where(Unit.id == unit_id)).scalar()
            if path is None:
                raise MixunError("not_found")
            params["units"] = list(conn.execute(select(Unit.id).where(
                (Unit.id == unit_id) | Unit.path.startswith(path + "/"))).scalars())
        if not query:
            ids = list(conn.execute(_ALL if unit_id is None else _ALL_IN_UNITS, params).scalars())
        else:
            params.update(lo=query, hi=query + "\U0010ffff", like=f"%{_escape(query)}%")
            ids = list(conn.execute(_HITS[unit_id is not None], params).scalars())
        more = len(ids) > limit
        return {"users": _people(ctx, s, ids[:limit]), "next_offset": offset + limit if more else None}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
        user = s.get(User, ctx.user_id)
        assert user is not None
        if user.work_status == status:
            return
        user.work_status = status
        online = bool(online_users(ctx, [user.id]))
        shown = presence_status(status, online)
        events.emit(s, ctx, [*contacts_of(s, user.id), user.id], EventType.PRESENCE_CHANGED,
                    {"user_id": user.id, "status": shown, "work_status": status})
        audit.record(s, ctx, AuditAction.ACCOUNT_STATUS_CHANGED, target=f"user:{user.id}", status=status)
