"""SCIM 2.0 provisioning (RFC 7643/7644) for HR's system (issue 21 item 2): the data side.

The HR system authenticates with a bearer token of its own (`mixun scim token`; only its SHA-256 is kept).
Users are staff accounts keyed by employee number (administrators and compliance officers are not HR's
and are invisible here); Groups are org units. Writes go through the same paths as HR's import and
correction screen (services/org.py, services/org_import.py) and are audited with actor ``scim``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mixun.db.models import ScimToken, Unit, User
from mixun.domain.roles import is_privileged
from mixun.errors import MixunError
from mixun.services import audit, users
from mixun.services.runtime import Ctx


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(ctx: Ctx) -> str:
    """A new bearer token, returned once; earlier tokens stop working."""
    token = "scim_" + secrets.token_urlsafe(32)
    with ctx.rt.db.write() as s:
        now = datetime.now(UTC)
        s.execute(update(ScimToken).where(ScimToken.revoked_at.is_(None)).values(revoked_at=now))
        s.add(ScimToken(token_hash=_digest(token), created_at=now))
        audit.record(s, ctx, "scim.token_created", target="scim", actor="cli")
    return token


def check_token(ctx: Ctx, token: str) -> bool:
    if not token:
        return False
    digest = _digest(token)
    with ctx.rt.db.read() as s:
        live = s.execute(select(ScimToken.token_hash).where(ScimToken.revoked_at.is_(None))).scalars().all()
    return any(hmac.compare_digest(digest, h) for h in live)


# ---- Users ------------------------------------------------------------------------------------------------

def _staff(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or is_privileged(user.roles):
        raise MixunError("not_found")
    return user


def user_record(s: Session, u: User) -> dict[str, Any]:
    """The plain facts the edge renders as a SCIM User."""
    return {"id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no,
            "position": u.position, "phone": u.phone, "unit": users.unit_path(s, u.unit_id),
            "active": u.departed_at is None and not u.disabled, "departed": u.departed_at is not None,
            "departure_reason": u.departure_reason, "created_at": u.created_at,
            "version": _version(u)}


def _version(u: User) -> str:
    basis = f"{u.id}|{u.name}|{u.employee_no}|{u.position}|{u.phone}|{u.unit_id}|{u.departed_at}|{u.disabled}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def get_user(ctx: Ctx, user_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        return user_record(s, _staff(s, user_id))


def list_users(ctx: Ctx, attr: str | None, value: str | None, start: int, count: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of staff accounts, optionally where ``attr`` (username, employee_no, name) equals
    ``value`` (userName compares case-insensitively, RFC 7643 caseExact false)."""
    with ctx.rt.db.read() as s:
        stmt = select(User).order_by(User.id)
        if attr == "username":
            stmt = stmt.where(func.lower(User.username) == (value or "").lower())
        elif attr == "employee_no":
            stmt = stmt.where(User.employee_no == value)
        elif attr == "name":
            stmt = stmt.where(User.name == value)
        rows = [u for u in s.execute(stmt).scalars() if not is_privileged(u.roles)]
        page = rows[max(start - 1, 0): max(start - 1, 0) + count]
        return len(rows), [user_record(s, u) for u in page]


def _unit_for(s: Session, ctx: Ctx, path: str) -> Unit:
    from mixun.services.org_import import Outcome, _State, _unit

    return _unit(s, ctx, _State(s), Outcome(dry_run=False), path)


def create_user(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """``data``: username, name, employee_no, unit (path, created when missing), position, phone."""
    from mixun.services.org_import import create_person_txn

    for key in ("username", "name", "employee_no", "unit"):
        if not (data.get(key) or "").strip():
            raise MixunError("validation_failed", (f"缺少：{key}", f"missing: {key}"), field=key)
    with ctx.rt.db.write() as s:
        if users.find_user_by_username(s, data["username"]) is not None:
            raise MixunError("username_taken")
        if s.execute(select(User.id).where(User.employee_no == data["employee_no"].strip())).first():
            raise MixunError("employee_no_taken")
        username = data["username"].strip()
        if len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
            raise MixunError("validation_failed", ("用户名只能包含字母、数字和 . _ -",
                                                   "A username may hold only letters, digits and . _ -"), field="userName")
        unit = _unit_for(s, ctx, data["unit"])
        user = create_person_txn(s, ctx, username=username, name=data["name"].strip(),
                                 employee_no=data["employee_no"].strip(), unit=unit,
                                 position=(data.get("position") or "").strip()[:100], phone=data.get("phone"),
                                 source="scim")
        return user_record(s, user)


def replace_user(ctx: Ctx, user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """PUT/PATCH: HR's fields set; ``active`` false records a departure (``departure_reason`` or
    ``other``); a departed person is brought back only by a reinstatement, never by SCIM."""
    from mixun.services.auth import account_changed
    from mixun.services.org import apply_hr_fields

    with ctx.rt.db.write() as s:
        user = _staff(s, user_id)
        if data.get("username") and data["username"].lower() != user.username.lower():
            raise MixunError("field_not_changeable", field="userName")
        if user.departed_at is not None:
            if data.get("active") is True:
                raise MixunError("account_departed")
            return user_record(s, user)
        changes: dict[str, Any] = {k: data.get(k) for k in ("name", "employee_no", "position", "phone")}
        if data.get("unit"):
            changes["unit_id"] = _unit_for(s, ctx, data["unit"]).id
        changed = apply_hr_fields(s, ctx, user, changes, "scim")
        if data.get("active") is False:
            reason = data.get("departure_reason") or "other"
            if reason not in users.DEPARTURE_REASONS:
                raise MixunError("validation_failed", ("离职原因不正确", "Unknown departure reason"),
                                 field="departureReason")
            users._apply_depart(s, ctx, user, {"reason": reason, "pledged": False, "source": "scim"}, None)
        elif changed:
            account_changed(s, ctx, user.id)
        return user_record(s, user)


def depart_user(ctx: Ctx, user_id: int) -> None:
    """DELETE: the account leaves the organisation (departure ``other``); its history stays."""
    with ctx.rt.db.write() as s:
        user = _staff(s, user_id)
        if user.departed_at is None:
            users._apply_depart(s, ctx, user, {"reason": "other", "pledged": False, "source": "scim"}, None)


# ---- Groups (org units) -------------------------------------------------------------------------------------

def _group(s: Session, unit: Unit, with_members: bool = True) -> dict[str, Any]:
    members: list[dict[str, Any]] = []
    if with_members:
        for uid, name, roles in s.execute(select(User.id, User.name, User.roles).where(
                User.unit_id == unit.id, User.departed_at.is_(None)).order_by(User.id)):
            if not is_privileged(roles):
                members.append({"id": uid, "name": name})
    return {"id": unit.id, "name": unit.name, "path": unit.path, "parent_id": unit.parent_id,
            "closed": unit.closed_at is not None, "created_at": unit.created_at, "members": members}


def list_groups(ctx: Ctx, name: str | None, start: int, count: int) -> tuple[int, list[dict[str, Any]]]:
    with ctx.rt.db.read() as s:
        stmt = select(Unit).where(Unit.closed_at.is_(None)).order_by(Unit.id)
        if name is not None:
            stmt = stmt.where((Unit.path == name) | (Unit.name == name))
        rows = list(s.execute(stmt).scalars())
        page = rows[max(start - 1, 0): max(start - 1, 0) + count]
        return len(rows), [_group(s, u) for u in page]


def get_group(ctx: Ctx, unit_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        unit = s.get(Unit, unit_id)
        if unit is None or unit.closed_at is not None:
            raise MixunError("not_found")
        return _group(s, unit)


def create_group(ctx: Ctx, path: str) -> dict[str, Any]:
    """A unit by its path (``总行/数据管理部``; missing parents are created too)."""
    with ctx.rt.db.write() as s:
        parts = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
        if not parts:
            raise MixunError("validation_failed", ("单位路径不能为空", "The unit path is empty"), field="displayName")
        if s.execute(select(Unit.id).where(Unit.path == "/".join(parts))).first():
            raise MixunError("unit_exists")
        return _group(s, _unit_for(s, ctx, "/".join(parts)))


def close_group(ctx: Ctx, unit_id: int) -> None:
    from mixun.services.org import close_unit

    close_unit(ctx, unit_id)
