"""HR's organisation (issue 21, A2-A4): the unit tree (create, rename, move, merge, close), people's units,
positions and real names (HR-verified), and departures recorded by HR.

HR owns who is where and under which name; it never reaches message content and never grants roles
(三员分立, docs/organisation.md). Administrators' and compliance officers' accounts stay with sysadmin.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mixun.db.models import Unit, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.names import pinyin_keys
from mixun.domain.roles import Role, is_privileged
from mixun.errors import MixunError
from mixun.services import audit, users
from mixun.services.runtime import Ctx
from mixun.storage import Session
from mixun.storage import units as unit_store
from mixun.storage import users as user_store

# What HR may set on a person (anything else sent is a 422 naming the field: nothing is silently ignored).
HR_FIELDS = ("name", "employee_no", "position", "unit_id", "phone")


def _unit_view(u: Unit, people: int = 0) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "path": u.path, "parent_id": u.parent_id,
            "closed": u.closed_at is not None, "people": people}


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or "/" in name or len(name) > 100:
        raise MixunError("validation_failed", ("单位名称不正确", "The unit name is invalid"), field="name")
    return name


def get_unit(s: Session, unit_id: int, open_only: bool = True) -> Unit:
    unit = unit_store.find_unit(s, unit_id)
    if unit is None:
        raise MixunError("unit_not_found", unit_id=unit_id)
    if open_only and unit.closed_at is not None:
        raise MixunError("unit_closed", unit_id=unit_id)
    return unit


def list_tree(ctx: Ctx) -> list[dict[str, Any]]:
    """Every unit, closed ones flagged, with the number of people (not departed) directly in it."""
    with ctx.rt.db.read() as s:
        counts = user_store.count_by_unit(s)
        return [_unit_view(u, counts.get(u.id, 0)) for u in unit_store.list_tree(s)]


def _move_subtree(s: Session, unit: Unit, new_path: str) -> int:
    """Give ``unit`` the path ``new_path`` and carry its sub-units along; returns how many units moved."""
    if unit_store.find_unit_id_by_path(s, new_path, except_id=unit.id) is not None:
        raise MixunError("unit_exists", path=new_path)
    below = [(u, u.path[len(unit.path):]) for u in unit_store.list_descendants(s, unit)]
    for u, _tail in [(unit, ""), *below]:  # two steps: no intermediate state collides on the unique path
        u.path = f"~moving~/{u.id}"
    s.flush()
    unit.path = new_path
    for u, tail in below:
        u.path = new_path + tail
    s.flush()
    return 1 + len(below)


def update_unit(ctx: Ctx, unit_id: int, name: str | None, parent_id: int | None, move: bool) -> dict[str, Any]:
    """Rename and/or move a unit (``move`` with ``parent_id`` None makes it a top-level unit)."""
    with ctx.rt.db.write() as s:
        return update_unit_txn(s, ctx, get_unit(s, unit_id), name, parent_id, move)


def update_unit_txn(s: Session, ctx: Ctx, unit: Unit, name: str | None, parent_id: int | None,
                    move: bool) -> dict[str, Any]:
    """update_unit inside the caller's transaction (HR's screen, SCIM's Group replacement)."""
    new_name = _check_name(name) if name is not None else unit.name
    new_parent = unit.parent_id
    if move:
        if parent_id is not None:
            parent = get_unit(s, parent_id)
            if parent.id == unit.id or parent.path.startswith(unit.path + "/"):
                raise MixunError("unit_move_invalid")
        new_parent = parent_id
    if new_name == unit.name and new_parent == unit.parent_id:
        return _unit_view(unit)
    parent_path = users.unit_path(s, new_parent)
    old_path = unit.path
    moved = _move_subtree(s, unit, (parent_path + "/" if parent_path else "") + new_name)
    renamed, relocated = new_name != unit.name, new_parent != unit.parent_id
    unit.name, unit.parent_id = new_name, new_parent
    audit.record(s, ctx, AuditAction.UNIT_MOVED if relocated else AuditAction.UNIT_RENAMED, target=f"unit:{unit.id}",
                 **{"from": old_path, "to": unit.path, "units": moved, "renamed": renamed})  # type: ignore[arg-type]
    return _unit_view(unit)


def merge_unit(ctx: Ctx, unit_id: int, into_id: int) -> dict[str, Any]:
    """Everyone and every sub-unit of ``unit_id`` moves into ``into_id``; the emptied unit is closed."""
    with ctx.rt.db.write() as s:
        unit = get_unit(s, unit_id)
        into = get_unit(s, into_id)
        if into.id == unit.id or into.path.startswith(unit.path + "/"):
            raise MixunError("unit_move_invalid")
        people = user_store.update_unit_id(s, unit.id, into.id)
        children = unit_store.list_children(s, unit.id)
        for child in children:
            _move_subtree(s, child, into.path + "/" + child.name)
            child.parent_id = into.id
        unit.closed_at = datetime.now(UTC)
        audit.record(s, ctx, AuditAction.UNIT_MERGED, target=f"unit:{unit.id}", into=f"unit:{into.id}",
                     **{"from": unit.path, "to": into.path, "people": people, "sub_units": len(children)})  # type: ignore[arg-type]
        _people_changed(s, ctx)
        return {"merged": _unit_view(unit), "into": _unit_view(into), "people_moved": people,
                "sub_units_moved": len(children)}


def close_unit(ctx: Ctx, unit_id: int) -> dict[str, Any]:
    """撤销: an empty unit (no one still in it, no open sub-unit) is closed; it stays in the history."""
    with ctx.rt.db.write() as s:
        unit = get_unit(s, unit_id)
        people = user_store.count_in_unit(s, unit.id)
        open_children = unit_store.count_open_children(s, unit.id)
        if people or open_children:
            raise MixunError("unit_not_empty", people=people, sub_units=open_children)
        unit.closed_at = datetime.now(UTC)
        audit.record(s, ctx, AuditAction.UNIT_CLOSED, target=f"unit:{unit.id}", path=unit.path)
        return _unit_view(unit)


def _people_changed(s: Session, ctx: Ctx) -> None:
    """Many people changed at once: one epoch move drops every server's cached sessions (names, units)."""
    from mixun.services.auth import bump_epoch

    bump_epoch(s)


# ---- people ---------------------------------------------------------------------------------------------

def _person_view(s: Session, u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no,
            "unit_id": u.unit_id, "unit": users.unit_path(s, u.unit_id), "position": u.position,
            "phone": u.phone, "hr_verified": u.hr_verified, "departed": u.departed_at is not None,
            "departure_reason": u.departure_reason, "disabled": u.disabled,
            "administrator": any(r in (Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR) for r in u.roles),
            "privileged": is_privileged(u.roles)}


def list_people(ctx: Ctx, q: str, unit_id: int | None, limit: int, offset: int) -> dict[str, Any]:
    """HR's people list: staff (administrators are not staff and are not HR's to edit)."""
    with ctx.rt.db.read() as s:
        rows = user_store.list_for_hr(s, q, unit_id, offset, limit + 1)
        return {"people": [_person_view(s, u) for u in rows[:limit]],
                "next_offset": offset + limit if len(rows) > limit else None}


def refuse_fields(extra: dict[str, Any] | None, allowed: tuple[str, ...]) -> None:
    """A field the caller may not change is a 422 that names it (issue 21 item 3)."""
    bad = sorted(k for k in (extra or {}) if k not in allowed)
    if bad:
        raise MixunError("field_not_changeable", field=bad[0], fields=bad)


def apply_hr_fields(s: Session, ctx: Ctx, user: User, changes: dict[str, Any], source: str) -> dict[str, Any]:
    """Set HR's fields on ``user`` (the one place a real name changes) and mark the person HR-verified.
    ``source`` is ``hr`` (the correction screen), ``import`` or ``scim``. Returns what changed."""
    changed: dict[str, Any] = {}
    if changes.get("name") is not None:
        name = str(changes["name"]).strip()
        if not name or len(name) > 100:
            raise MixunError("validation_failed", ("姓名不能为空", "The name is empty"), field="name")
        if name != user.name:
            changed["name"] = {"from": user.name, "to": name}
            user.name = name
            user.name_pinyin, user.name_initials = pinyin_keys(name)
    if changes.get("employee_no") is not None:
        no = str(changes["employee_no"]).strip()
        if not no or len(no) > 64:
            raise MixunError("validation_failed", ("工号不正确", "The employee number is invalid"), field="employee_no")
        if no != user.employee_no:
            if user_store.find_user_id_by_employee_no(s, no, except_id=user.id) is not None:
                raise MixunError("employee_no_taken")
            changed["employee_no"] = {"from": user.employee_no, "to": no}
            user.employee_no = no
    if changes.get("unit_id") is not None and changes["unit_id"] != user.unit_id:
        unit = get_unit(s, int(changes["unit_id"]))
        changed["unit"] = {"from": users.unit_path(s, user.unit_id), "to": unit.path}
        user.unit_id = unit.id
    if changes.get("position") is not None and str(changes["position"]).strip() != user.position:
        changed["position"] = {"from": user.position, "to": str(changes["position"]).strip()[:100]}
        user.position = str(changes["position"]).strip()[:100]
    if "phone" in changes and changes["phone"] is not None and (changes["phone"] or None) != user.phone:
        changed["phone"] = True  # a phone number is personal data: the trail says it changed, not to what
        user.phone = changes["phone"] or None
    first_verification = not user.hr_verified
    user.hr_verified = True
    if changed or first_verification:
        users.index_user(s, user)
        audit.record(s, ctx, AuditAction.PERSON_HR_UPDATED, target=f"user:{user.id}", source=source, changes=changed,
                     hr_verified=True)
    return changed


def _hr_target(s: Session, user_id: int) -> User:
    user = users.get_user(s, user_id)
    if is_privileged(user.roles):
        raise MixunError("hr_privileged_account")
    return user


def update_person(ctx: Ctx, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """HR's correction screen: real name, employee number, unit, position, phone; audited, HR-verified."""
    from mixun.services.auth import account_changed

    with ctx.rt.db.write() as s:
        user = _hr_target(s, user_id)
        if user.departed_at is not None:
            raise MixunError("account_departed")
        changed = apply_hr_fields(s, ctx, user, changes, "hr")
        if changed:
            account_changed(s, ctx, user.id)
        return {**_person_view(s, user), "changed": sorted(changed)}


def depart_person(ctx: Ctx, user_id: int, reason: str, pledged: bool) -> dict[str, Any]:
    """HR records a departure: the same act as sysadmin's (services/users.depart). Privileged accounts
    stay with sysadmin, under dual control."""
    with ctx.rt.db.read() as s:
        _hr_target(s, user_id)
    return users.depart(ctx, user_id, reason, pledged=pledged)
