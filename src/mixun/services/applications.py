"""Accounts by application (issue 21 item 1, A1): anyone files one for a new employee; the unit head
approves, HR approves (the person becomes HR-verified), sysadmin allocates the account with a one-time
password shown once. Each step may reject with a reason; each is audited; whoever acts next is told.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from mixun.db.models import AccountApplication, Unit
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.passwords import generate_password
from mixun.domain.roles import Role
from mixun.errors import MixunError
from mixun.services import audit, events, users
from mixun.services.runtime import Ctx
from mixun.storage import applications as stored
from mixun.storage import users as stored_users
from mixun.storage.units import find_unit

# The steps in order, and the role that decides each.
STAGES = ("pending_unit_head", "pending_hr", "pending_sysadmin")
STAGE_ROLE = {"pending_unit_head": Role.UNIT_HEAD.value, "pending_hr": Role.HR.value,
              "pending_sysadmin": Role.SYSADMIN.value}
# The functions an applicant may ask for (recorded for the approvers; switched on and off by secadmin's
# function permissions, not here).
FUNCTIONS = ("chat", "files", "groups", "drive", "cross_unit")
NEXT = {"pending_unit_head": "pending_hr", "pending_hr": "pending_sysadmin", "pending_sysadmin": "allocated"}


def _unit_heads(s: Session, unit: Unit, exclude: int | None) -> list[int]:
    """The unit heads of ``unit`` or, when it has none, of the nearest unit above it that has one."""
    path = unit.path
    while path:
        rows = stored_users.list_enabled_with_roles(s, path)
        heads = [uid for uid, roles in rows if Role.UNIT_HEAD.value in (roles or []) and uid != exclude]
        if heads:
            return heads
        path = path.rsplit("/", 1)[0] if "/" in path else ""
    return []


def _holders(s: Session, role: str, exclude: int | None) -> list[int]:
    rows = stored_users.list_enabled_with_roles(s)
    return [uid for uid, roles in rows if role in (roles or []) and uid != exclude]


def _deciders(s: Session, app: AccountApplication) -> list[int]:
    if app.status == "pending_unit_head":
        return _unit_heads(s, find_unit(s, app.unit_id), app.applicant_id)  # type: ignore[arg-type]
    if app.status in STAGE_ROLE:
        return _holders(s, STAGE_ROLE[app.status], app.applicant_id)
    return []


def _person(s: Session, user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    u = stored_users.find_user(s, user_id)
    return {"id": u.id, "name": u.name, "username": u.username} if u else None


def _may_decide(s: Session, ctx: Ctx, app: AccountApplication) -> bool:
    p = ctx.principal
    if p is None or app.status not in STAGE_ROLE or p.user_id == app.applicant_id:
        return False
    if STAGE_ROLE[app.status] not in p.roles:
        return False
    return app.status != "pending_unit_head" or p.user_id in _deciders(s, app)


def _view(s: Session, ctx: Ctx, app: AccountApplication) -> dict[str, Any]:
    steps = [{**st, "by": _person(s, st.get("by"))} for st in (app.steps or [])]  # type: ignore[arg-type]
    return {
        "id": app.id, "status": app.status, "name": app.name, "employee_no": app.employee_no,
        "unit_id": app.unit_id, "unit": users.unit_path(s, app.unit_id), "position": app.position,
        "phone": app.phone, "functions": list(app.functions or []), "username": app.username,
        "note": app.note, "applicant": _person(s, app.applicant_id), "created_at": app.created_at.isoformat(),
        "steps": steps, "user_id": app.user_id, "reject_reason": app.reject_reason,
        "waiting_for": STAGE_ROLE.get(app.status), "can_decide": _may_decide(s, ctx, app),
    }


def _tell(s: Session, ctx: Ctx, app: AccountApplication) -> None:
    """Whoever must act next, and the applicant, hear of the change (an event on their own stream)."""
    recipients = set(_deciders(s, app)) | {app.applicant_id}
    events.emit(s, ctx, sorted(recipients), EventType.APPLICATION_CHANGED,
                {"application_id": app.id, "status": app.status, "name": app.name})


def _check_username(s: Session, username: str | None) -> str | None:
    if username is None or not username.strip():
        return None
    username = username.strip()
    if len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise MixunError("validation_failed", ("用户名只能包含字母、数字和 . _ -",
                                               "A username may hold only letters, digits and . _ -"), field="username")
    if users.find_user_by_username(s, username) is not None:
        raise MixunError("username_taken")
    return username


def file_application(ctx: Ctx, *, name: str, employee_no: str, unit_id: int, position: str = "",
                     phone: str | None = None, functions: list[str] | None = None, username: str | None = None,
                     note: str = "") -> dict[str, Any]:
    from mixun.services.org import get_unit

    name, employee_no = name.strip(), employee_no.strip()
    if not name:
        raise MixunError("validation_failed", ("姓名不能为空", "The name is empty"), field="name")
    if not employee_no:
        raise MixunError("validation_failed", ("工号不能为空", "The employee number is empty"), field="employee_no")
    wanted = list(dict.fromkeys(functions or ["chat"]))
    for f in wanted:
        if f not in FUNCTIONS:
            raise MixunError("validation_failed", (f"未知功能：{f}", f"Unknown function: {f}"), field="functions",
                             allowed=list(FUNCTIONS))
    assert ctx.principal is not None
    with ctx.rt.db.write() as s:
        unit = get_unit(s, unit_id)
        if (stored_users.find_user_id_by_employee_no(s, employee_no) is not None
                or stored.find_open_id_by_employee_no(s, employee_no, STAGES) is not None):
            raise MixunError("employee_no_taken")
        app = AccountApplication(
            status="pending_unit_head", name=name, employee_no=employee_no, unit_id=unit.id,
            position=position.strip(), phone=(phone or "").strip() or None, functions=wanted,
            username=_check_username(s, username), note=note.strip(), applicant_id=ctx.principal.user_id,
            created_at=datetime.now(UTC), steps=[])
        s.add(app)
        s.flush()
        audit.record(s, ctx, AuditAction.APPLICATION_FILED, target=f"application:{app.id}", unit=unit.path,
                     employee_no=employee_no, functions=wanted)
        if not _deciders(s, app):
            # No unit head over this unit (other than the applicant): the step is recorded as skipped and
            # HR, who approves next anyway, decides alone.
            app.steps = [{"stage": "pending_unit_head", "decision": "skipped", "reason": "no_unit_head",
                          "at": datetime.now(UTC).isoformat()}]
            app.status = "pending_hr"
        _tell(s, ctx, app)
        return _view(s, ctx, app)


def _visible(s: Session, ctx: Ctx, app: AccountApplication) -> bool:
    """HR and sysadmin see every application; a unit head those of the units they head; anyone their own."""
    p = ctx.principal
    assert p is not None
    if app.applicant_id == p.user_id or {Role.HR.value, Role.SYSADMIN.value} & set(p.roles):
        return True
    unit = find_unit(s, app.unit_id)
    return Role.UNIT_HEAD.value in p.roles and unit is not None and p.user_id in _unit_heads(s, unit, None)


def list_applications(ctx: Ctx, scope: str, limit: int, offset: int) -> dict[str, Any]:
    """``mine``: filed by the caller; ``todo``: waiting for the caller's decision; ``all``: every one the
    caller may see (``_visible``)."""
    if scope not in ("mine", "todo", "all"):
        raise MixunError("validation_failed", ("范围只能是 mine、todo 或 all", "scope is mine, todo or all"),
                         field="scope")
    p = ctx.principal
    assert p is not None
    with ctx.rt.db.read() as s:
        pending = [a for a in stored.list_applications(s, statuses=STAGES) if _may_decide(s, ctx, a)]
        if scope == "mine":
            rows = stored.list_applications(s, applicant_id=p.user_id, limit=limit + 1, offset=offset)
        elif scope == "todo":
            rows = pending[offset:offset + limit + 1]
        else:
            rows = [a for a in stored.list_applications(s) if _visible(s, ctx, a)][offset:offset + limit + 1]
        return {"applications": [_view(s, ctx, a) for a in rows[:limit]], "todo_count": len(pending),
                "next_offset": offset + limit if len(rows) > limit else None}


def _for_decision(s: Session, ctx: Ctx, app_id: int) -> AccountApplication:
    app = stored.get_application(s, app_id, lock=True)
    if app.status not in STAGES:
        raise MixunError("application_not_pending", status=app.status)
    if not _may_decide(s, ctx, app):
        raise MixunError("application_not_your_step", waiting_for=STAGE_ROLE[app.status])
    return app


def _step(app: AccountApplication, ctx: Ctx, decision: str, reason: str = "") -> None:
    assert ctx.principal is not None
    app.steps = [*(app.steps or []), {"stage": app.status, "decision": decision, "by": ctx.principal.user_id,
                                      "at": datetime.now(UTC).isoformat(), "reason": reason}]


def approve(ctx: Ctx, app_id: int, username: str | None = None) -> dict[str, Any]:
    """Approve the step the caller owns. At sysadmin's step the account is created: the answer carries
    its one-time password, shown this once and never stored or audited."""
    with ctx.rt.db.write() as s:
        app = _for_decision(s, ctx, app_id)
        stage = app.status
        if stage != "pending_sysadmin":
            _step(app, ctx, "approved")
            app.status = NEXT[stage]
            audit.record(s, ctx, AuditAction.APPLICATION_APPROVED, target=f"application:{app.id}", stage=stage)
            _tell(s, ctx, app)
            return _view(s, ctx, app)
        chosen = _check_username(s, username) or app.username or _default_username(s, app.employee_no)
        password = generate_password()
        user = users.create_user_txn(
            s, ctx, username=chosen, name=app.name, unit=users.unit_path(s, app.unit_id), password=password,
            phone=app.phone, position=app.position, roles=[Role.EMPLOYEE.value], employee_no=app.employee_no,
            must_change_password=True, check_policy=False, create_units=False)
        user.hr_verified = True  # HR approved this person's record at its step
        _step(app, ctx, "allocated")
        app.status, app.user_id, app.username = "allocated", user.id, user.username
        audit.record(s, ctx, AuditAction.APPLICATION_ALLOCATED, target=f"application:{app.id}", user=f"user:{user.id}",
                     username=user.username)
        _tell(s, ctx, app)
        return {**_view(s, ctx, app), "password": password}


def _default_username(s: Session, employee_no: str) -> str:
    base = "".join(c for c in employee_no.lower() if c.isalnum() or c in "._-") or "user"
    candidate, n = base, 1
    while stored_users.find_user_id_by_username(s, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def reject(ctx: Ctx, app_id: int, reason: str) -> dict[str, Any]:
    reason = reason.strip()
    if len(reason) < 2:
        raise MixunError("validation_failed", ("请填写驳回理由", "Give a reason for the rejection"), field="reason")
    with ctx.rt.db.write() as s:
        app = _for_decision(s, ctx, app_id)
        stage = app.status
        _step(app, ctx, "rejected", reason)
        app.status, app.reject_reason = "rejected", reason
        audit.record(s, ctx, AuditAction.APPLICATION_REJECTED, target=f"application:{app.id}", stage=stage, reason=reason)
        _tell(s, ctx, app)
        return _view(s, ctx, app)
