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

from mixun.db.models import ScimDeletion, ScimExternalId, ScimToken, Unit, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import is_privileged
from mixun.errors import MixunError
from mixun.services import audit, users
from mixun.services.runtime import Ctx
from mixun.storage import Session
from mixun.storage import scim as scim_store
from mixun.storage import units as unit_store
from mixun.storage import users as user_store

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(ctx: Ctx) -> str:
    """A new bearer token, returned once; earlier tokens stop working."""
    token = "scim_" + secrets.token_urlsafe(32)
    with ctx.rt.db.write() as s:
        now = datetime.now(UTC)
        scim_store.update_tokens_revoked(s, now)
        s.add(ScimToken(token_hash=_digest(token), created_at=now))
        audit.record(s, ctx, AuditAction.SCIM_TOKEN_CREATED, target="scim", actor="cli")
    return token


def check_token(ctx: Ctx, token: str) -> bool:
    if not token:
        return False
    digest = _digest(token)
    with ctx.rt.db.read() as s:
        live = scim_store.list_live_token_hashes(s)
    return any(hmac.compare_digest(digest, h) for h in live)


# ---- externalId (the client's own identifier, kept as given) --------------------------------------------------

def _external(s: Session, kind: str, rid: int) -> str | None:
    row = scim_store.find_external(s, kind, rid)
    return row.external_id if row else None


def _set_external(s: Session, kind: str, rid: int, value: str | None) -> None:
    value = (value or "").strip() or None
    if value is not None and len(value) > 255:
        raise MixunError("validation_failed", ("externalId 过长", "externalId is too long"), field="externalId")
    row = scim_store.find_external(s, kind, rid)
    if value is None:
        if row is not None:
            s.delete(row)
    elif row is None:
        s.add(ScimExternalId(kind=kind, resource_id=rid, external_id=value))
    else:
        row.external_id = value


# ---- Users ------------------------------------------------------------------------------------------------

def _deleted(s: Session) -> set[int]:
    """Users the SCIM client deleted and who have not been reinstated since (RFC 7644 §3.6: 404 for
    them from then on; their accounts and history stay)."""
    return scim_store.list_deleted_ids(s)


def _staff(s: Session, user_id: int) -> User:
    user = user_store.find_user(s, user_id)
    if user is None or is_privileged(user.roles) or user_id in _deleted(s):
        raise MixunError("not_found")
    return user


def user_record(s: Session, u: User) -> dict[str, Any]:
    """The plain facts the edge renders as a SCIM User."""
    return {"id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no,
            "position": u.position, "phone": u.phone, "unit": users.unit_path(s, u.unit_id),
            "active": u.departed_at is None and not u.disabled, "departed": u.departed_at is not None,
            "departure_reason": u.departure_reason, "created_at": u.created_at,
            "external_id": _external(s, "user", u.id), "version": _version(u)}


def _version(u: User) -> str:
    basis = f"{u.id}|{u.name}|{u.employee_no}|{u.position}|{u.phone}|{u.unit_id}|{u.departed_at}|{u.disabled}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def get_user(ctx: Ctx, user_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        return user_record(s, _staff(s, user_id))


def list_users(ctx: Ctx, attr: str | None, value: str | None, start: int, count: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of staff accounts, optionally where ``attr`` (id, username, employee_no, name) equals
    ``value`` (userName compares case-insensitively, RFC 7643 caseExact false)."""
    with ctx.rt.db.read() as s:
        gone = _deleted(s)
        # externalId: the client's own, or (when it gave none) the employee number.
        rows = [u for u in scim_store.list_users(s, attr, value) if not is_privileged(u.roles) and u.id not in gone]
        page = rows[max(start - 1, 0): max(start - 1, 0) + count]
        return len(rows), [user_record(s, u) for u in page]


def _unit_for(s: Session, ctx: Ctx, path: str) -> Unit:
    from mixun.services.org_import import Outcome, _State, _unit

    return _unit(s, ctx, _State(s), Outcome(dry_run=False), path)


_SCIM_NAMES = {"username": "userName", "name": "name.formatted", "employee_no": f"{ENTERPRISE}:employeeNumber",
               "unit": f"{ENTERPRISE}:department"}


_LIMITS = {"employee_no": 64, "name": 100, "phone": 32, "username": 64}


def _require(data: dict[str, Any]) -> None:
    """What Mixun needs of every User (its published schema marks them required), and no value longer
    than Mixun keeps (a 400 naming it, never a database error)."""
    for key, scim_name in _SCIM_NAMES.items():
        if not str(data.get(key) or "").strip():
            raise MixunError("validation_failed", (f"缺少：{scim_name}", f"missing: {scim_name}"), field=scim_name)
    for key, limit in _LIMITS.items():
        if len(str(data.get(key) or "").strip()) > limit:
            name = _SCIM_NAMES.get(key, "phoneNumbers" if key == "phone" else key)
            raise MixunError("validation_failed", (f"{name} 超过 {limit} 个字符", f"{name} is longer than {limit}"),
                             field=name)


def create_user(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """``data``: username, name, employee_no, unit (path, created when missing), position, phone."""
    from mixun.services.org_import import create_person_txn

    _require(data)
    with ctx.rt.db.write() as s:
        if users.find_user_by_username(s, data["username"]) is not None:
            raise MixunError("username_taken")
        if user_store.find_user_id_by_employee_no(s, data["employee_no"].strip()) is not None:
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
        _set_external(s, "user", user.id, data.get("external_id"))
        if data.get("active") is False:  # HR records someone who has already left
            _depart_txn(s, ctx, user, data.get("departure_reason"))
        return user_record(s, user)


def _depart_txn(s: Session, ctx: Ctx, user: User, reason: str | None) -> None:
    reason = reason or "other"
    if reason not in users.DEPARTURE_REASONS:
        raise MixunError("validation_failed", ("离职原因不正确", "Unknown departure reason"), field="departureReason")
    users._apply_depart(s, ctx, user, {"reason": reason, "pledged": False, "source": "scim"}, None)


def replace_user(ctx: Ctx, user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """PUT/PATCH: HR's fields set; ``active`` false records a departure (``departure_reason`` or
    ``other``). A departed person's HR fields may still be corrected, but they are brought back only by a
    reinstatement (secadmin's decision), never by SCIM: ``active`` true for them is a 409."""
    from mixun.services.auth import account_changed
    from mixun.services.org import apply_hr_fields

    _require(data)
    with ctx.rt.db.write() as s:
        user = _staff(s, user_id)
        if data.get("username") and data["username"].lower() != user.username.lower():
            raise MixunError("field_not_changeable", field="userName")
        departed = user.departed_at is not None
        if departed and data.get("active") is True:
            raise MixunError("account_departed")
        _set_external(s, "user", user.id, data.get("external_id"))
        changes: dict[str, Any] = {k: data.get(k) for k in ("name", "employee_no", "position", "phone")}
        if data.get("unit"):
            changes["unit_id"] = _unit_for(s, ctx, data["unit"]).id
        changed = apply_hr_fields(s, ctx, user, changes, "scim")
        if not departed and data.get("active") is False:
            _depart_txn(s, ctx, user, data.get("departure_reason"))
        elif changed:
            account_changed(s, ctx, user.id)
        return user_record(s, user)


def depart_user(ctx: Ctx, user_id: int) -> None:
    """DELETE: the account leaves the organisation (departure ``other``, unless it had already departed);
    its history stays, and SCIM answers 404 for it from then on."""
    with ctx.rt.db.write() as s:
        user = _staff(s, user_id)
        if user.departed_at is None:
            users._apply_depart(s, ctx, user, {"reason": "other", "pledged": False, "source": "scim"}, None)
        row = scim_store.find_deletion(s, user.id)
        if row is None:
            s.add(ScimDeletion(user_id=user.id, deleted_at=datetime.now(UTC)))
        else:
            row.deleted_at = datetime.now(UTC)
        audit.record(s, ctx, AuditAction.SCIM_USER_DELETED, target=f"user:{user.id}")


# ---- Groups (org units) -------------------------------------------------------------------------------------

def _group(s: Session, unit: Unit, with_members: bool = True) -> dict[str, Any]:
    members: list[dict[str, Any]] = []
    if with_members:
        for uid, name, roles in user_store.list_in_unit(s, unit.id):
            if not is_privileged(roles):
                members.append({"id": uid, "name": name})
    version = hashlib.sha256(f"{unit.id}|{unit.path}|{[m['id'] for m in members]}".encode()).hexdigest()[:16]
    return {"id": unit.id, "name": unit.name, "path": unit.path, "parent_id": unit.parent_id,
            "closed": unit.closed_at is not None, "created_at": unit.created_at, "members": members,
            "external_id": _external(s, "group", unit.id), "version": version}


def list_groups(ctx: Ctx, attr: str | None, value: str | None, start: int, count: int
                ) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of open units, optionally where ``attr`` (id, or name: the path or the unit's own
    name) equals ``value``."""
    with ctx.rt.db.read() as s:
        rows = scim_store.list_groups(s, attr, value)
        page = rows[max(start - 1, 0): max(start - 1, 0) + count]
        return len(rows), [_group(s, u) for u in page]


def get_group(ctx: Ctx, unit_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        unit = unit_store.find_unit(s, unit_id)
        if unit is None or unit.closed_at is not None:
            raise MixunError("not_found")
        return _group(s, unit)


def _parts(path: str) -> list[str]:
    parts = [p.strip() for p in (path or "").replace("\\", "/").split("/") if p.strip()]
    if not parts:
        raise MixunError("validation_failed", ("单位路径不能为空", "The unit path is empty"), field="displayName")
    return parts


def create_group(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """A unit by its path (``总行/数据管理部``; missing parents are created too)."""
    with ctx.rt.db.write() as s:
        parts = _parts(data.get("path") or "")
        if unit_store.find_unit_id_by_path(s, "/".join(parts)) is not None:
            raise MixunError("unit_exists")
        unit = _unit_for(s, ctx, "/".join(parts))
        _set_external(s, "group", unit.id, data.get("external_id"))
        return _group(s, unit)


def replace_group(ctx: Ctx, unit_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """PUT/PATCH of a Group's displayName (its path): the unit is renamed and/or moved, its parent made
    when missing; its people and sub-units go with it (services/org.update_unit_txn)."""
    from mixun.services.org import get_unit, update_unit_txn

    with ctx.rt.db.write() as s:
        unit = get_unit(s, unit_id)
        parts = _parts(data.get("path") or "")
        if "/".join(parts) != unit.path:
            if unit_store.find_unit_id_by_path(s, "/".join(parts), open_only=True) is not None:
                raise MixunError("unit_exists")
            parent_id = _unit_for(s, ctx, "/".join(parts[:-1])).id if len(parts) > 1 else None
            update_unit_txn(s, ctx, unit, parts[-1], parent_id, True)
        _set_external(s, "group", unit.id, data.get("external_id"))
        return _group(s, unit)


def close_group(ctx: Ctx, unit_id: int) -> None:
    from mixun.services.org import close_unit

    close_unit(ctx, unit_id)
