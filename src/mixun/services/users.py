"""Accounts and org units: creation, lookup, administration.

Separation of duties (issue 19, docs/separation-of-duties.md): sysadmin creates and runs accounts as
plain employees, secadmin grants roles; nobody acts on their own account; every change to an
administrator's or a compliance officer's account, and every grant or removal of the compliance role,
is filed as an approval request that an administrator of the other kind decides (services/approvals.py).
The ``_apply_*`` functions carry an act out, directly or once approved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mixun.db.models import PasswordHistory, Unit, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.departures import DEPARTURE_REASONS as DEPARTURE_REASONS
from mixun.domain.names import pinyin_keys, search_keys
from mixun.domain.passwords import configured_words, password_rule_failures
from mixun.domain.presence import WORK_STATUSES as WORK_STATUSES
from mixun.domain.roles import ADMIN_ROLES, RESERVED_ROLES, Role, is_administrator, is_privileged, valid_role
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.approvals import file_txn
from mixun.services.auth import account_changed, revoke_user_sessions_txn
from mixun.services.conversations import remove_from_all_groups_txn
from mixun.services.people import find_user_by_username as find_user_by_username
from mixun.services.people import get_user as get_user
from mixun.services.people import unit_path as unit_path
from mixun.services.runtime import Ctx
from mixun.storage import Session
from mixun.storage import approvals as approval_store
from mixun.storage import credentials as credential_store
from mixun.storage import events as stored_events
from mixun.storage import search_keys as search_key_store
from mixun.storage import sessions as session_store
from mixun.storage import units as unit_store
from mixun.storage import users as user_store


def _unit_parts(path: str) -> list[str]:
    parts = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
    if not parts:
        raise MixunError("validation_failed", ("单位路径不能为空", "The unit path is empty"), field="unit")
    return parts


def unit_exists(session: Session, path: str) -> bool:
    return unit_store.find_unit_id_by_path(session, "/".join(_unit_parts(path))) is not None


def ensure_unit_path(session: Session, path: str, create: bool = True) -> Unit:
    """Find every unit along ``总行/信息技术部``, creating missing ones when ``create`` (the CLI's
    `user add` does; the console and API answer ``unit_not_found``: creating units is its own act)."""
    parts = _unit_parts(path)
    parent: Unit | None = None
    for i in range(len(parts)):
        sub = "/".join(parts[: i + 1])
        unit = unit_store.find_unit_by_path(session, sub)
        if unit is None:
            if not create:
                raise MixunError("unit_not_found", path="/".join(parts))
            unit = Unit(name=parts[i], path=sub, parent_id=parent.id if parent else None)
            session.add(unit)
            session.flush()
        elif unit.closed_at is not None:
            raise MixunError("unit_closed", path=sub)
        parent = unit
    assert parent is not None
    return parent


def check_roles(roles: list[str], allow_reserved: bool) -> list[str]:
    out: list[str] = []
    for r in roles:
        if not valid_role(r):
            raise MixunError("validation_failed", (f"未知角色：{r}", f"Unknown role: {r}"), field="roles")
        if Role(r) in RESERVED_ROLES and not allow_reserved:
            raise MixunError("reserved_role")
        if r not in out:
            out.append(r)
    return out or [Role.EMPLOYEE.value]


def create_user_txn(session: Session, ctx: Ctx, *, username: str, name: str, unit: str, password: str,
                    phone: str | None = None, position: str = "", roles: list[str] | None = None,
                    employee_no: str | None = None, must_change_password: bool = True,
                    allow_reserved_roles: bool = False, check_policy: bool = True,
                    password_hash: str | None = None, create_units: bool = True) -> User:
    username = username.strip()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise MixunError("validation_failed", ("用户名只能包含字母、数字和 . _ -", "A username may hold only letters, digits and . _ -"), field="username")
    if not name.strip():
        raise MixunError("validation_failed", ("姓名不能为空", "The name is empty"), field="name")
    if check_policy:
        failures = password_rule_failures(password, username, configured_words(ctx.rt.settings.extra))
        if failures:
            raise MixunError("weak_password", rules=failures)
    role_list = check_roles(roles or [Role.EMPLOYEE.value], allow_reserved_roles)
    if user_store.find_user_id_by_username(session, username) is not None:
        raise MixunError("username_taken")
    if employee_no and user_store.find_user_id_by_employee_no(session, employee_no) is not None:
        raise MixunError("employee_no_taken")
    unit_row = ensure_unit_path(session, unit, create=create_units)
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
        user.employee_no = placeholder_employee_no(user.id, role_list)
    index_user(session, user)
    stored_events.add_counter(session, user.id)
    session.add(PasswordHistory(user_id=user.id, password_hash=pw_hash))
    audit.record(session, ctx, AuditAction.ACCOUNT_CREATED, target=f"user:{user.id}", username=username,
                 roles=role_list, unit=unit_row.path)
    return user


def placeholder_employee_no(user_id: int, roles: list[str]) -> str:
    """The number an account made without HR's gets: ``ADM-000001`` for administrators and compliance
    officers, ``MX-000042`` for anyone else. Never a number HR's files could hold (theirs are HR's own,
    matched by the import, SCIM and the LDAP sync), so an HR row can never land on such an account."""
    return f"{'ADM' if is_privileged(roles) else 'MX'}-{user_id:06d}"


def create_user(ctx: Ctx, **kwargs: Any) -> User:
    with ctx.rt.db.write() as s:
        return create_user_txn(s, ctx, **kwargs)


def index_user(session: Session, user: User) -> None:
    """(Re)write a person's directory search keys; a disabled account has none, so search never finds it."""
    search_key_store.delete_keys(session, user.id)
    if user.disabled or is_administrator(user.roles):  # administrators are not staff: not in the directory
        return
    keys = search_keys(user.name, user.username, user.employee_no, user.position)
    search_key_store.insert_keys(session, user.id, keys)


def list_units(ctx: Ctx) -> list[dict[str, Any]]:
    """The open units (a closed one, 已撤销, is listed only in HR's tree: services/org.list_tree)."""
    with ctx.rt.db.read() as s:
        units = unit_store.list_tree(s, open_only=True)
        return [{"id": u.id, "name": u.name, "path": u.path, "parent_id": u.parent_id} for u in units]


def create_unit(ctx: Ctx, name: str, parent_id: int | None) -> dict[str, Any]:
    name = name.strip()
    if not name or "/" in name:
        raise MixunError("validation_failed", ("单位名称不正确", "The unit name is invalid"), field="name")
    with ctx.rt.db.write() as s:
        parent_path = ""
        if parent_id is not None:
            parent = unit_store.find_unit(s, parent_id)
            if parent is None:
                raise MixunError("not_found")
            parent_path = parent.path + "/"
        if unit_store.find_unit_id_by_path(s, parent_path + name) is not None:
            raise MixunError("unit_exists")
        unit = Unit(name=name, parent_id=parent_id, path=parent_path + name)
        s.add(unit)
        s.flush()
        audit.record(s, ctx, AuditAction.UNIT_CREATED, target=f"unit:{unit.id}", path=unit.path)
        return {"id": unit.id, "name": unit.name, "path": unit.path, "parent_id": unit.parent_id}


def admin_list_users(ctx: Ctx, q: str, limit: int, offset: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        rows = user_store.list_for_admin(s, q, offset, limit + 1)
        now = datetime.now(UTC)
        users = [admin_view(s, u, now) for u in rows[:limit]]
        # Requests waiting on each person, so the console shows 待审批 rather than inviting a duplicate.
        pending: dict[int, list[str]] = {}
        for uid, kind in approval_store.list_pending_kinds(s, [u["id"] for u in users]):
            pending.setdefault(uid, []).append(kind)
        for u in users:
            u["pending_approvals"] = pending.get(u["id"], [])
        return {"users": users, "next_offset": offset + limit if len(rows) > limit else None}


def admin_view(s: Session, u: User, now: datetime) -> dict[str, Any]:
    return {
        "id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no,
        "unit": unit_path(s, u.unit_id), "unit_id": u.unit_id, "position": u.position, "phone": u.phone,
        "roles": list(u.roles), "disabled": u.disabled, "locked": bool(u.locked_until and u.locked_until > now),
        "totp_enabled": u.totp_enabled, "must_change_password": u.must_change_password,
        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        "created_at": u.created_at.isoformat(),
        "departed": u.departed_at is not None,
        "departed_at": u.departed_at.isoformat() if u.departed_at else None,
        "departure_reason": u.departure_reason, "hr_verified": u.hr_verified,
        "privileged": is_privileged(u.roles),
    }


def admin_create_user(ctx: Ctx, *, roles: list[str] | None, unit: str, **kwargs: Any) -> dict[str, Any]:
    """The console's account creation: a plain employee in an existing unit (granting roles is secadmin's
    act, creating units is its own act)."""
    if any(r != Role.EMPLOYEE.value for r in (roles or [])):
        raise MixunError("role_grant_not_allowed")
    with ctx.rt.db.write() as s:
        user = create_user_txn(s, ctx, unit=unit, roles=[Role.EMPLOYEE.value], create_units=False, **kwargs)
        return admin_view(s, user, datetime.now(UTC))


def _not_self(ctx: Ctx, user: User) -> None:
    if ctx.principal is not None and ctx.principal.user_id == user.id:
        raise MixunError("self_action_forbidden")


def _filed(s: Session, ctx: Ctx, kind: str, user: User, payload: dict[str, Any], by: str) -> dict[str, Any]:
    return {"pending": True, "approval": file_txn(s, ctx, kind, user, payload, by)}


def _last_admin_check(s: Session, user: User) -> None:
    """Refuse to take away the last active holder of sysadmin, secadmin or auditor."""
    held = [r for r in user.roles if Role(r) in ADMIN_ROLES] if user.roles else []
    if not held:
        return
    others = user_store.list_enabled_roles_except(s, user.id)
    remaining = {r for roles in others for r in (roles or [])}
    missing = [r for r in held if r not in remaining]
    if missing:
        raise MixunError("last_administrator", roles=missing)



def _cli_actor(ctx: Ctx) -> dict[str, Any]:
    return {} if ctx.principal else {"actor": "cli"}


def _via(approval: dict[str, Any] | None) -> dict[str, Any]:
    return {"approval_id": approval["id"], "requested_by": approval["requested_by"]} if approval else {}


def admin_update_user(ctx: Ctx, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """sysadmin's edit of an account (unit, position, phone, disabled). Roles are secadmin's
    (``set_roles``); on a privileged account the whole change waits for approval."""
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        if changes.get("roles") is not None and list(changes["roles"]) != list(user.roles):
            raise MixunError("role_grant_not_allowed")
        # Only what actually changes (a request for nothing would wait for nobody's benefit).
        changes = {k: v for k, v in changes.items() if k != "roles" and v is not None and v != getattr(user, k)}
        _not_self(ctx, user)
        if changes.get("unit_id") is not None and unit_store.find_unit(s, changes["unit_id"]) is None:
            raise MixunError("unit_not_found", unit_id=changes["unit_id"])
        if changes.get("disabled") is False and user.departed_at is not None:
            raise MixunError("account_departed")
        if changes.get("disabled") is True and user.disabled is False:
            _last_admin_check(s, user)
        if is_privileged(user.roles) and changes:
            return _filed(s, ctx, "update", user, changes, Role.SYSADMIN.value)
        return _apply_update(s, ctx, user, changes, None)


def _apply_update(s: Session, ctx: Ctx, user: User, changes: dict[str, Any],
                  approval: dict[str, Any] | None) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    if changes.get("unit_id") is not None and changes["unit_id"] != user.unit_id:
        if unit_store.find_unit(s, changes["unit_id"]) is None:
            raise MixunError("unit_not_found", unit_id=changes["unit_id"])
        changed["unit_id"] = {"from": user.unit_id, "to": changes["unit_id"]}
        user.unit_id = changes["unit_id"]
    for field in ("position", "phone"):
        if changes.get(field) is not None and changes[field] != getattr(user, field):
            changed[field] = True
            setattr(user, field, changes[field])
    if changes.get("disabled") is not None and bool(changes["disabled"]) != user.disabled:
        if changes["disabled"]:
            _last_admin_check(s, user)
        elif user.departed_at is not None:
            raise MixunError("account_departed")
        user.disabled = bool(changes["disabled"])
        changed["disabled"] = user.disabled
        if user.disabled:
            revoke_user_sessions_txn(s, ctx, user.id, reason="account_disabled")
    if "position" in changed or "disabled" in changed:
        index_user(s, user)
    action = AuditAction.ACCOUNT_UPDATED
    if "disabled" in changed:
        action = AuditAction.ACCOUNT_DISABLED if user.disabled else AuditAction.ACCOUNT_ENABLED
    if changed:
        audit.record(s, ctx, action, target=f"user:{user.id}", changes=changed, **_via(approval))
        account_changed(s, ctx, user.id)
    return admin_view(s, user, datetime.now(UTC))


def set_roles(ctx: Ctx, user_id: int, roles: list[str]) -> dict[str, Any]:
    """secadmin's grant or removal of roles (授权). Administrator roles are never granted here; the
    compliance role, and any change on a privileged account, waits for a sysadmin's approval."""
    new_roles = check_roles(list(roles), allow_reserved=False)
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        _not_self(ctx, user)
        if any(Role(r) in RESERVED_ROLES for r in user.roles):
            raise MixunError("reserved_role")
        if user.disabled:
            raise MixunError("account_departed" if user.departed_at else "account_disabled")
        if new_roles == list(user.roles):
            return admin_view(s, user, datetime.now(UTC))
        if is_privileged(user.roles) or is_privileged(new_roles):
            return _filed(s, ctx, "roles", user, {"from": list(user.roles), "to": new_roles}, Role.SECADMIN.value)
        return _apply_roles(s, ctx, user, {"to": new_roles}, None)


def _apply_roles(s: Session, ctx: Ctx, user: User, payload: dict[str, Any],
                 approval: dict[str, Any] | None) -> dict[str, Any]:
    if any(Role(r) in RESERVED_ROLES for r in user.roles):
        raise MixunError("reserved_role")
    new_roles = check_roles(list(payload["to"]), allow_reserved=False)
    old = list(user.roles)
    user.roles = new_roles
    index_user(s, user)
    # Archive access starts from credentials nobody held before: whoever once reset or chose this person's
    # password (and may have signed in as them and enrolled their own authenticator) holds nothing that
    # opens the new compliance account. The one-time password goes to the approver, to hand over in person.
    reissue = approval is not None and Role.COMPLIANCE.value in new_roles and Role.COMPLIANCE.value not in old
    password = _reissue_credentials(s, ctx, user) if reissue else None
    reissued: dict[str, Any] = {"credentials_reissued": True} if reissue else {}
    audit.record(s, ctx, AuditAction.ACCOUNT_ROLES_CHANGED, target=f"user:{user.id}",
                 changes={"roles": {"from": old, "to": new_roles}}, **_via(approval), **reissued)
    account_changed(s, ctx, user.id)
    view = admin_view(s, user, datetime.now(UTC))
    return {**view, "password": password} if password else view


def _reissue_credentials(s: Session, ctx: Ctx, user: User) -> str:
    """A new one-time password, two-factor and recovery codes cleared, every session ended."""
    from mixun.domain.passwords import generate_password
    from mixun.services.auth import revoke_user_sessions_txn

    password = generate_password()
    user.password_hash = ctx.rt.hasher.hash(password)
    user.must_change_password = True
    user.password_changed_at = datetime.now(UTC)
    user.locked_until = None
    user.failed_logins = 0
    s.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = 0
    credential_store.delete_recovery_codes(s, user.id)
    revoke_user_sessions_txn(s, ctx, user.id, reason="credentials_reissued")
    return password


def admin_unlock(ctx: Ctx, user_id: int) -> None:
    """Unlocking only gives the owner back what they had: no approval needed."""
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        user.locked_until = None
        user.failed_logins = 0
        audit.record(s, ctx, AuditAction.ACCOUNT_UNLOCKED, target=f"user:{user.id}")


def admin_reset_password(ctx: Ctx, user_id: int) -> dict[str, Any]:
    """A new one-time password. On a privileged account the reset is only filed: the password is shown
    to the approving administrator (never to the requester), and the account's two-factor enrolment
    stays, so the password alone opens no session."""
    return _reset(ctx, user_id, "reset_password")


def _apply_reset_password(s: Session, ctx: Ctx, user: User, payload: dict[str, Any],
                          approval: dict[str, Any] | None) -> dict[str, Any]:
    from mixun.domain.passwords import generate_password

    if approval is not None and is_privileged(user.roles) and not user.totp_enabled:
        raise MixunError("reset_needs_two_factor")
    password = generate_password()
    user.password_hash = ctx.rt.hasher.hash(password)
    user.must_change_password = True
    user.password_changed_at = datetime.now(UTC)
    user.locked_until = None
    user.failed_logins = 0
    s.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    revoke_user_sessions_txn(s, ctx, user.id, reason="password_reset")
    audit.record(s, ctx, AuditAction.ACCOUNT_PASSWORD_RESET, target=f"user:{user.id}",
                 two_factor_kept=bool(user.totp_enabled), **_via(approval),
                 **_cli_actor(ctx))
    account_changed(s, ctx, user.id)
    return {"password": password, "disabled": user.disabled}


def admin_reset_two_factor(ctx: Ctx, user_id: int) -> dict[str, Any]:
    """Clears a lost authenticator: the person enrols again at the next login."""
    return _reset(ctx, user_id, "reset_two_factor")


def _reset(ctx: Ctx, user_id: int, kind: str) -> dict[str, Any]:
    """A reset by sysadmin: at once on a staff account, only filed for approval on a privileged one."""
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        _not_self(ctx, user)
        if user.departed_at is not None:
            raise MixunError("account_departed")
        if is_privileged(user.roles):
            if kind == "reset_password" and not user.totp_enabled:
                # The password alone would open the account (and let its holder enrol an authenticator):
                # only the server's own `mixun user reset-password`, with the person present, does this.
                raise MixunError("reset_needs_two_factor")
            return _filed(s, ctx, kind, user, {}, Role.SYSADMIN.value)
        return APPLY[kind](s, ctx, user, {}, None)


def _apply_reset_two_factor(s: Session, ctx: Ctx, user: User, payload: dict[str, Any],
                            approval: dict[str, Any] | None) -> dict[str, Any]:
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = 0
    credential_store.delete_recovery_codes(s, user.id)
    revoke_user_sessions_txn(s, ctx, user.id, reason="two_factor_reset")
    audit.record(s, ctx, AuditAction.ACCOUNT_TWO_FACTOR_RESET, target=f"user:{user.id}", **_via(approval))
    account_changed(s, ctx, user.id)
    return admin_view(s, user, datetime.now(UTC))


def active_session_count(s: Session, user_id: int) -> int:
    return session_store.count_active(s, user_id)




def depart(ctx: Ctx, user_id: int, reason: str, pledged: bool = False) -> dict[str, Any]:
    """A4: the account leaves the org at once — sessions end, live connections close, the person leaves
    every group — while everything they said stays in the archive. Final: see ``reinstate``. Recorded by
    sysadmin here or by HR (services/org.depart_person); ``pledged``: the exit confidentiality pledge."""
    if reason not in DEPARTURE_REASONS:
        raise MixunError("validation_failed", ("离职原因不正确", "Unknown departure reason"), field="reason",
                         allowed=list(DEPARTURE_REASONS))
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        _not_self(ctx, user)
        if any(Role(r) in RESERVED_ROLES for r in user.roles):
            raise MixunError("reserved_role")
        if user.departed_at is not None:
            raise MixunError("account_departed")
        payload = {"reason": reason, "pledged": bool(pledged)}
        if is_privileged(user.roles):
            return _filed(s, ctx, "depart", user, payload, Role.SYSADMIN.value)
        return _apply_depart(s, ctx, user, payload, None)


def _apply_depart(s: Session, ctx: Ctx, user: User, payload: dict[str, Any],
                  approval: dict[str, Any] | None) -> dict[str, Any]:
    from mixun.services.drive_handover import hand_over_txn

    if user.departed_at is not None:
        raise MixunError("account_departed")
    _last_admin_check(s, user)
    user.disabled = True
    user.departed_at = datetime.now(UTC)
    user.departure_reason = payload["reason"]
    user.departure_pledged = bool(payload.get("pledged"))
    index_user(s, user)
    sessions = revoke_user_sessions_txn(s, ctx, user.id, reason="departure")
    groups = remove_from_all_groups_txn(s, ctx, user.id)
    audit.record(s, ctx, AuditAction.ACCOUNT_DEPARTED, target=f"user:{user.id}", reason=payload["reason"],
                 pledged=bool(payload.get("pledged")), sessions_ended=len(sessions), groups_left=groups, unit=unit_path(s, user.unit_id), **_via(approval))
    drive = hand_over_txn(s, ctx, user)  # the drive goes whole to the unit's head (or waits for HR)
    account_changed(s, ctx, user.id)
    return {"user_id": user.id, "sessions_ended": len(sessions), "groups_left": groups, "drive": drive}


def reinstate(ctx: Ctx, user_id: int, reason: str) -> dict[str, Any]:
    """Undoing a departure is never one click: an explicit request with a reason, decided by secadmin."""
    reason = reason.strip()
    if len(reason) < 4:
        raise MixunError("validation_failed", ("请填写复职理由（至少 4 个字）", "Give a reason (4 characters or more)"),
                         field="reason")
    with ctx.rt.db.write() as s:
        user = get_user(s, user_id)
        _not_self(ctx, user)
        if user.departed_at is None:
            raise MixunError("conflict", ("该人员未办理离职", "This person has not departed"))
        return _filed(s, ctx, "reinstate", user, {"reason": reason}, Role.SYSADMIN.value)


def _apply_reinstate(s: Session, ctx: Ctx, user: User, payload: dict[str, Any],
                     approval: dict[str, Any] | None) -> dict[str, Any]:
    if user.departed_at is None:
        raise MixunError("conflict", ("该人员未办理离职", "This person has not departed"))
    user.departed_at = None
    user.departure_reason = None
    user.disabled = False
    index_user(s, user)
    audit.record(s, ctx, AuditAction.ACCOUNT_REINSTATED, target=f"user:{user.id}", reason=payload["reason"], **_via(approval))
    account_changed(s, ctx, user.id)
    return admin_view(s, user, datetime.now(UTC))


# What an approved request does; services/approvals.py calls it inside the approval's transaction.
APPLY = {
    "update": _apply_update,
    "roles": _apply_roles,
    "reset_password": _apply_reset_password,
    "reset_two_factor": _apply_reset_two_factor,
    "depart": _apply_depart,
    "reinstate": _apply_reinstate,
}


def cli_enable(ctx: Ctx, username: str, reason: str | None) -> dict[str, Any]:
    """`mixun user enable`: the server's holder brings an account back (the way out when the last
    administrator was locked out). A departed person comes back only with a stated reason."""

    with ctx.rt.db.write() as s:
        user = find_user_by_username(s, username)
        if user is None:
            raise MixunError("not_found")
        was = {"disabled": user.disabled, "departed": user.departed_at is not None}
        if user.departed_at is not None:
            if not reason or len(reason.strip()) < 4:
                raise MixunError("account_departed")
            user.departed_at = None
            user.departure_reason = None
            audit.record(s, ctx, AuditAction.ACCOUNT_REINSTATED, target=f"user:{user.id}", reason=reason.strip(), actor="cli")
        if user.disabled:
            user.disabled = False
            index_user(s, user)
            audit.record(s, ctx, AuditAction.ACCOUNT_ENABLED, target=f"user:{user.id}", actor="cli",
                         changes={"disabled": False})
        user.locked_until = None
        user.failed_logins = 0
        account_changed(s, ctx, user.id)
        return {"username": user.username, "id": user.id, **was}


def cli_depart(ctx: Ctx, username: str, reason: str, pledged: bool = False) -> dict[str, Any]:
    """`mixun user depart`: the same act as the console's, from the server (administrators excepted: their
    accounts are disabled, not departed)."""
    if reason not in DEPARTURE_REASONS:
        raise MixunError("validation_failed", ("离职原因不正确", "Unknown departure reason"), field="reason")
    with ctx.rt.db.write() as s:
        user = find_user_by_username(s, username)
        if user is None:
            raise MixunError("not_found")
        if any(Role(r) in RESERVED_ROLES for r in user.roles):
            raise MixunError("reserved_role")
        return _apply_depart(s, ctx, user, {"reason": reason, "pledged": pledged}, None)


def cli_reset_password(ctx: Ctx, username: str) -> dict[str, Any]:
    """`mixun user reset-password`: the server's holder issues a one-time password directly (no approval:
    whoever holds the server holds the data). It does not re-enable; the answer says whether the account
    is disabled or departed."""
    with ctx.rt.db.write() as s:
        user = find_user_by_username(s, username)
        if user is None:
            raise MixunError("not_found")
        out = _apply_reset_password(s, ctx, user, {}, None)
        return {**out, "username": user.username, "departed": user.departed_at is not None}
