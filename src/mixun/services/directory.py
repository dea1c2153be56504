"""The directory: the org tree and people search (Chinese name, pinyin, initials, unit, position)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from mixun.db.models import SearchKey, Unit, User
from mixun.domain.names import normalise_query
from mixun.errors import MixunError
from mixun.services.runtime import Ctx

MAX_PAGE = 200


def presence_status(work_status: str, online: bool) -> str:
    if not online:
        return "offline"
    return "online" if work_status == "available" else work_status


def online_users(ctx: Ctx, user_ids: list[int]) -> set[int]:
    presence = ctx.rt.extras.get("presence")
    return presence.online(user_ids) if presence is not None else set()


def person_views(ctx: Ctx, s: Session, users: list[User]) -> list[dict[str, Any]]:
    unit_ids = {u.unit_id for u in users if u.unit_id}
    paths = dict(s.execute(select(Unit.id, Unit.path).where(Unit.id.in_(unit_ids))).all()) if unit_ids else {}
    online = online_users(ctx, [u.id for u in users])
    return [{
        "id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no,
        "unit": paths.get(u.unit_id, ""), "unit_id": u.unit_id, "position": u.position,
        "status": presence_status(u.work_status, u.id in online), "phone": u.phone,
        "hr_verified": u.hr_verified,
    } for u in users]


def search_users(ctx: Ctx, q: str, unit_id: int | None, limit: int, offset: int) -> dict[str, Any]:
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    query = normalise_query(q)
    with ctx.rt.db.read() as s:
        base = select(User.id).where(User.disabled.is_(False))
        sub = None
        if unit_id is not None:
            unit = s.get(Unit, unit_id)
            if unit is None:
                raise MixunError("not_found")
            sub = select(Unit.id).where((Unit.id == unit_id) | Unit.path.startswith(unit.path + "/"))
            base = base.where(User.unit_id.in_(sub))
        if not query:
            ids = [r[0] for r in s.execute(base.order_by(User.id).offset(offset).limit(limit + 1)).all()]
        else:
            hi = query + "\U0010ffff"
            # Every branch is an index range: search-key prefixes (covering index on key, rank, user_id)
            # and people of units whose name contains the query (units are few).
            key_hits = (select(SearchKey.user_id.label("uid"), SearchKey.rank.label("rank"))
                        .where(SearchKey.key >= query, SearchKey.key < hi))
            matching_units = select(Unit.id).where(Unit.name.like(f"%{_escape(query)}%", escape="\\"))
            unit_hits = (select(User.id.label("uid"), literal(3).label("rank"))
                         .where(User.unit_id.in_(matching_units)))
            hits = key_hits.union_all(unit_hits).subquery()
            best = (select(hits.c.uid, func.min(hits.c.rank).label("best")).group_by(hits.c.uid).subquery())
            stmt = (select(best.c.uid).join(User, User.id == best.c.uid).where(User.disabled.is_(False))
                    .order_by(best.c.best, best.c.uid))
            if unit_id is not None:
                stmt = stmt.where(User.unit_id.in_(sub))
            ids = [r[0] for r in s.execute(stmt.offset(offset).limit(limit + 1)).all()]
        more = len(ids) > limit
        ids = ids[:limit]
        by_id = {u.id: u for u in s.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
        users = [by_id[i] for i in ids if i in by_id]
        return {"users": person_views(ctx, s, users), "next_offset": offset + limit if more else None}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_person(ctx: Ctx, user_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        user = s.get(User, user_id)
        if user is None:
            raise MixunError("not_found")
        return person_views(ctx, s, [user])[0]


def set_work_status(ctx: Ctx, status: str) -> None:
    from mixun.services import audit, events
    from mixun.services.conversations import contacts_of
    from mixun.services.users import WORK_STATUSES

    if status not in WORK_STATUSES:
        raise MixunError("validation_failed", "状态只能是 available、busy、meeting、away", field="status")
    with ctx.rt.db.write() as s:
        user = s.get(User, ctx.user_id)
        assert user is not None
        if user.work_status == status:
            return
        user.work_status = status
        online = bool(online_users(ctx, [user.id]))
        shown = presence_status(status, online)
        events.emit(s, ctx, [*contacts_of(s, user.id), user.id], "presence.changed",
                    {"user_id": user.id, "status": shown, "work_status": status})
        audit.record(s, ctx, "account.status_changed", target=f"user:{user.id}", status=status)
