"""Accounts and org units: creation, lookup, administration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from mixun.db.models import EventCounter, PasswordHistory, SearchKey, Unit, User
from mixun.db.models import Session as DbSession
from mixun.domain.names import pinyin_keys, search_keys
from mixun.domain.passwords import configured_words, password_rule_failures
from mixun.domain.roles import RESERVED_ROLES, Role, valid_role
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.runtime import Ctx

WORK_STATUSES = ("available", "busy", "meeting", "away")


def ensure_unit_path(session: Session, path: str) -> Unit:
    """Find or create every unit along ``总行/信息技术部``."""
    parts = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
    if not parts:
        raise MixunError("validation_failed", "单位路径不能为空", field="unit")
    parent: Unit | None = None
    for i in range(len(parts)):
        sub = "/".join(parts[: i + 1])
        unit = session.execute(select(Unit).where(Unit.path == sub)).scalar_one_or_none()
        if unit is None:
            unit = Unit(name=parts[i], path=sub, parent_id=parent.id if parent else None)
            session.add(unit)
            session.flush()
        parent = unit
    assert parent is not None
    return parent


def unit_path(session: Session, unit_id: int | None) -> str:
    if unit_id is None:
        return ""
    return session.execute(select(Unit.path).where(Unit.id == unit_id)).scalar() or ""


def check_roles(roles: list[str], allow_reserved: bool) -> list[str]:
    out: list[str] = []
    for r in roles:
        if not valid_role(r):
            raise MixunError("validation_failed", f"未知角色: {r}", field="roles")
        if Role(r) in RESERVED_ROLES and not allow_reserved:
            raise MixunError("reserved_role")
        if r not in out:
            out.append(r)
    return out or [Role.EMPLOYEE.value]


def create_user_txn(session: Session, ctx: Ctx, *, username: str, name: str, unit: str, password: str,
                    phone: str | None = None, position: str = "", roles: list[str] | None = None,
                    employee_no: str | None = None, must_change_password: bool = True,
                    allow_reserved_roles: bool = False, check_policy: bool = True,
                    password_hash: str | None = None) -> User:
    username = username.strip()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise MixunError("validation_failed", "用户名只能包含字母、数字和 . _ -", field="username")
    if not name.strip():
        raise MixunError("validation_failed", "姓名不能为空", field="name")
    if check_policy:
        failures = password_rule_failures(password, username, configured_words(ctx.rt.settings.extra))
        if failures:
            raise MixunError("weak_password", rules=failures)
    role_list = check_roles(roles or [Role.EMPLOYEE.value], allow_reserved_roles)
    if session.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
        raise MixunError("username_taken")
    if employee_no and session.execute(select(User.id).where(User.employee_no == employee_no)).first():
        raise MixunError("employee_no_taken")
    unit_row = ensure_unit_path(session, unit)
    full, initials = pinyin_keys(name.strip())
    pw_hash = password_hash or ctx.rt.hasher.hash(password)
    user = User(
        username=username, name=name.strip(), name_pinyin=full, name_initials=initials,
        employee_no=employee_no or None, phone=phone or None, unit_id=unit_row.id, position=position,
        roles=role_list, password_hash=pw_hash, must_change_password=must_change_password,
        password_changed_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    if not user.employee_no:
        user.employee_no = f"E{user.id:06d}"
    index_user(session, user)
    session.add(EventCounter(user_id=user.id, last_seq=0))
    session.add(PasswordHistory(user_id=user.id, password_hash=pw_hash))
    audit.record(session, ctx, "account.created", target=f"user:{user.id}", username=username,
                 roles=role_list, unit=unit_row.path)
    return user


def create_user(ctx: Ctx, **kwargs: Any) -> User:
    with ctx.rt.db.write() as s:
        return create_user_txn(s, ctx, **kwargs)


def index_user(session: Session, user: User) -> None:
    """(Re)write a person's directory search keys; a disabled account has none, so search never finds it."""
    session.execute(delete(SearchKey).where(SearchKey.user_id == user.id))
    if user.disabled:
        return
    keys = search_keys(user.name, user.username, user.employee_no, user.position)
    session.execute(insert(SearchKey), [{"user_id": user.id, "key": k, "rank": r} for k, r in keys])


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise MixunError("not_found")
    return user


def find_user_by_username(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(func.lower(User.username) == username.strip().lower())
                           ).scalar_one_or_none()


def list_units(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        units = s.execute(select(Unit).order_by(Unit.path)).scalars().all()
        return [{"id": u.id, "name": u.name, "path": u.path, "parent_id": u.parent_id} for u in units]


def create_unit(ctx: Ctx, name: str, parent_id: int | None) -> dict[str, Any]:
    name = name.strip()
    if not name or "/" in name:
        raise MixunError("validation_failed", "单位名称不正确", field="name")
    with ctx.rt.db.write() as s:
        parent_path = ""
        if parent_id is not None:
            parent = s.get(Unit, parent_id)
            if parent is None:
                raise MixunError("not_found")
            parent_path = parent.path + "/"
        if s.execute(select(Unit.id).where(Unit.path == parent_path + name)).first():
            raise MixunError("conflict", "单位已存在")
        unit = Unit(name=name, parent_id=parent_id, path=parent_path + name)
        s.add(unit)
        s.flush()
        audit.record(s, ctx, "unit.created", target=f"unit:{unit.id}", path=unit.path)
        return {"id": unit.id, "name": unit.name, "path": unit.path, "parent_id": unit.parent_id}


def admin_list_users(ctx: Ctx, q: str, limit: int, offset: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        stmt = select(User).order_by(User.id)
        if q:
            like = f"%{q.lower()}%"
            stmt = stmt.where(or_(func.lower(User.username).like(like), User.name.like(f"%{q}%"),
                                  User.employee_no.like(like)))
        rows = s.execute(stmt.offset(offset).limit(limit + 1)).scalars().all()
        now = datetime.now(UTC)
        users = [admin_view(s, u, now) for u in rows[:limit]]
        return {"users": users, "next_offset": offset + limit if len(rows) > limit else None}


def admin_view(s: Session, u: User, now: datetime) -> dict[str, Any]:
    return {
        "id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no,
        "unit": unit_path(s, u.unit_id), "unit_id": u.unit_id, "position": u.position, "phone": u.phone,
        "roles": list(u.roles), "disabled": u.disabled, "locked": bool(u.locked_until and u.locked_until > now),
        "totp_enabled": u.totp_enabled, "must_change_password": u.must_change_password,
        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        "created_at": u.created_at.isoformat(),
    }


def admin_update_user(ctx: Ctx, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    from mixun.services.auth import revoke_user_sessions_txn

    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        changed: dict[str, Any] = {}
        if "roles" in changes and changes["roles"] is not None:
            new_roles = check_roles(list(changes["roles"]), allow_reserved=False)
            kept_reserved = [r for r in user.roles if Role(r) in RESERVED_ROLES]
            if kept_reserved:
                raise MixunError("reserved_role")
            if new_roles != list(user.roles):
                changed["roles"] = {"from": list(user.roles), "to": new_roles}
                user.roles = new_roles
        if changes.get("unit_id") is not None and changes["unit_id"] != user.unit_id:
            if s.get(Unit, changes["unit_id"]) is None:
                raise MixunError("not_found")
            changed["unit_id"] = {"from": user.unit_id, "to": changes["unit_id"]}
            user.unit_id = changes["unit_id"]
        for field in ("position", "phone"):
            if changes.get(field) is not None and changes[field] != getattr(user, field):
                changed[field] = True
                setattr(user, field, changes[field])
        if changes.get("disabled") is not None and bool(changes["disabled"]) != user.disabled:
            user.disabled = bool(changes["disabled"])
            changed["disabled"] = user.disabled
            if user.disabled:
                revoke_user_sessions_txn(s, ctx, user.id, reason="account_disabled")
        if "position" in changed or "disabled" in changed:
            index_user(s, user)
        action = "account.roles_changed" if "roles" in changed else "account.updated"
        if "disabled" in changed:
            action = "account.disabled" if user.disabled else "account.enabled"
        if changed:
            audit.record(s, ctx, action, target=f"user:{user.id}", changes=changed)
            from mixun.services.auth import account_changed

            account_changed(s, ctx, user.id)
        return admin_view(s, user, datetime.now(UTC))


def admin_unlock(ctx: Ctx, user_id: int) -> None:
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        user.locked_until = None
        user.failed_logins = 0
        audit.record(s, ctx, "account.unlocked", target=f"user:{user.id}")


def admin_reset_password(ctx: Ctx, user_id: int) -> str:
    from mixun.domain.passwords import generate_password
    from mixun.services.auth import revoke_user_sessions_txn

    password = generate_password()
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        user.password_hash = ctx.rt.hasher.hash(password)
        user.must_change_password = True
        user.password_changed_at = datetime.now(UTC)
        user.locked_until = None
        user.failed_logins = 0
        s.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
        revoke_user_sessions_txn(s, ctx, user.id, reason="password_reset")
        audit.record(s, ctx, "account.password_reset", target=f"user:{user.id}")
    return password


def active_session_count(s: Session, user_id: int) -> int:
    return s.execute(select(func.count()).select_from(DbSession)
                     .where(DbSession.user_id == user_id, DbSession.revoked_at.is_(None))).scalar_one()


DEPARTURE_REASONS = ("termination", "retirement", "internal_retirement", "resignation", "transfer", "other")


def depart(ctx: Ctx, user_id: int, reason: str) -> dict[str, Any]:
    """A4: the account leaves the org at once — sessions end, live connections close, the person leaves
    every group — while everything they said stays in the archive."""
    from mixun.services.auth import revoke_user_sessions_txn
    from mixun.services.conversations import remove_from_all_groups_txn

    if reason not in DEPARTURE_REASONS:
        raise MixunError("validation_failed", "离职原因不正确", field="reason", allowed=list(DEPARTURE_REASONS))
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        if any(Role(r) in RESERVED_ROLES for r in user.roles):
            raise MixunError("reserved_role")
        if user.disabled:
            raise MixunError("conflict", "该账号已停用")
        user.disabled = True
        index_user(s, user)
        sessions = revoke_user_sessions_txn(s, ctx, user.id, reason="departure")
        groups = remove_from_all_groups_txn(s, ctx, user.id)
        audit.record(s, ctx, "account.departed", target=f"user:{user.id}", reason=reason,
                     sessions_ended=len(sessions), groups_left=groups, unit=unit_path(s, user.unit_id))
        return {"user_id": user.id, "sessions_ended": len(sessions), "groups_left": groups}
