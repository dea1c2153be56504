"""The directory's reads: people's entries by id, and the ids a search or a unit's listing finds.

Every statement here is built once at import, with bound parameters, so a search pays no statement
construction and SQLAlchemy's compiled cache always hits; they run on the session's connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.orm import Session

from mixun.db.models import SearchKey, Unit, User

_PERSON = select(User.id, User.username, User.name, User.employee_no, User.unit_id, User.position,
                 User.work_status, User.phone, User.hr_verified, Unit.path, User.roles).outerjoin(Unit, Unit.id == User.unit_id)
_PEOPLE_BY_ID = _PERSON.where(User.id.in_(bindparam("ids", expanding=True)))


def _hits(unit_filter: bool) -> Any:
    """Ids of matching people, best rank first: search-key prefixes (covering index on key, rank,
    user_id) and people of units whose name contains the query (units are few)."""
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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_entries(s: Session, ids: list[int]) -> list[Any]:
    """(id, username, name, employee_no, unit_id, position, work_status, phone, hr_verified, path, roles)
    rows of those of ``ids`` that exist, in no particular order."""
    return list(s.connection().execute(_PEOPLE_BY_ID, {"ids": ids}))


def find_unit_path(s: Session, unit_id: int) -> str | None:
    return s.connection().execute(select(Unit.path).where(Unit.id == unit_id)).scalar()


def list_subtree_ids(s: Session, unit_id: int, path: str) -> list[int]:
    """The unit (``path`` is its path) and every unit below it."""
    return list(s.connection().execute(select(Unit.id).where(
        (Unit.id == unit_id) | Unit.path.startswith(path + "/"))).scalars())


def list_ids(s: Session, query: str, units: list[int] | None, offset: int, limit: int) -> list[int]:
    """Enabled people's ids from ``offset``: those the normalised ``query`` finds, best rank first (every
    one by id for an empty query), only in ``units`` when given."""
    params: dict[str, Any] = {"off": offset, "lim": limit}
    if units is not None:
        params["units"] = units
    conn = s.connection()
    if not query:
        return list(conn.execute(_ALL if units is None else _ALL_IN_UNITS, params).scalars())
    params.update(lo=query, hi=query + "\U0010ffff", like=f"%{_escape(query)}%")
    return list(conn.execute(_HITS[units is not None], params).scalars())
