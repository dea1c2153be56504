"""Approval requests: dual control (双人原则) over privileged accounts and the compliance role.

A request is filed by the act itself (services/users.py) and decided by a second administrator:
- filed by a sysadmin (disable, enable, edit, password reset, two-factor reset, departure or
  reinstatement of an administrator or compliance officer; every reinstatement) -> decided by a secadmin;
- filed by a secadmin (a role change that grants or removes compliance, or touches a compliance
  officer) -> decided by a sysadmin.
Never by the requester, never by the person the request is about. Both the filing and the decision
are audited, and the act itself is audited with the approver as actor and the request's id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mixun.db.models import Approval, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import Role
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.runtime import Ctx
from mixun.storage import approvals as stored
from mixun.storage.audit import find_record_id
from mixun.storage.users import find_user

RESET_MEMORY_DAYS = 365
KINDS = ("update", "roles", "reset_password", "reset_two_factor", "depart", "reinstate")
# The role a request was filed under -> the role that decides it.
DECIDER = {Role.SYSADMIN.value: Role.SECADMIN.value, Role.SECADMIN.value: Role.SYSADMIN.value}


def file_txn(s: Session, ctx: Ctx, kind: str, target: User, payload: dict[str, Any], requester_role: str
             ) -> dict[str, Any]:
    assert kind in KINDS and requester_role in DECIDER and ctx.principal is not None
    pending = stored.find_pending_id(s, target.id, kind)
    if pending is not None:
        raise MixunError("approval_pending_exists", approval_id=pending)
    row = Approval(kind=kind, target_user_id=target.id, payload=payload, requested_by=ctx.principal.user_id,
                   requester_role=requester_role, requested_at=datetime.now(UTC), status="pending")
    s.add(row)
    s.flush()
    audit.record(s, ctx, AuditAction.APPROVAL_REQUESTED, target=f"user:{target.id}", approval_id=row.id, kind=kind,
                 payload=_audited(payload), decided_by_role=DECIDER[requester_role])
    return _view(s, ctx, row)


def _audited(payload: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a request: field names, not personal values such as a phone number."""
    return {k: (v if k in ("disabled", "unit_id", "from", "to", "reason") else True) for k, v in payload.items()}


def _person(s: Session, user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    u = find_user(s, user_id)
    return {"id": u.id, "name": u.name, "username": u.username, "roles": list(u.roles)} if u else None


def _may_decide(ctx: Ctx, row: Approval) -> bool:
    p = ctx.principal
    return (p is not None and row.status == "pending" and DECIDER[row.requester_role] in p.roles
            and p.user_id not in (row.requested_by, row.target_user_id))


def _view(s: Session, ctx: Ctx, row: Approval) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "status": row.status, "payload": dict(row.payload or {}),
        "target": _person(s, row.target_user_id), "requested_by": _person(s, row.requested_by),
        "requester_role": row.requester_role, "decider_role": DECIDER[row.requester_role],
        "requested_at": row.requested_at.isoformat(), "decided_by": _person(s, row.decided_by),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decision_reason": row.decision_reason, "can_decide": _may_decide(ctx, row),
    }


def list_approvals(ctx: Ctx, status: str, limit: int, offset: int) -> dict[str, Any]:
    if status not in ("pending", "decided", "all"):
        raise MixunError("validation_failed", ("状态只能是 pending、decided 或 all", "status is pending, decided or all"),
                         field="status")
    with ctx.rt.db.read() as s:
        rows = stored.list_approvals(s, status, limit + 1, offset)
        pending = stored.count_pending(s)
        return {"approvals": [_view(s, ctx, r) for r in rows[:limit]], "pending_count": pending,
                "next_offset": offset + limit if len(rows) > limit else None}


def _pending_for_decision(s: Session, ctx: Ctx, approval_id: int) -> Approval:
    row = stored.get_approval(s, approval_id, lock=True)
    if row.status != "pending":
        raise MixunError("approval_not_pending", status=row.status)
    if not _may_decide(ctx, row) or _reset_it_before(s, ctx, row) or _holds_other_half(s, ctx, row):
        raise _Refused(row.id, row.kind, row.target_user_id, DECIDER[row.requester_role])
    return row


def _reset_it_before(s: Session, ctx: Ctx, row: Approval) -> bool:
    """A sysadmin who reset this person's password or two-factor (and so may hold their login) must not be
    the one who approves their compliance grant: that would be one person reaching the archive."""
    payload: dict[str, Any] = dict(row.payload or {})
    if row.kind != "roles" or "compliance" not in payload.get("to", []) or "compliance" in payload.get("from", []):
        return False
    assert ctx.principal is not None
    since = datetime.now(UTC) - timedelta(days=RESET_MEMORY_DAYS)
    return find_record_id(s, actor_id=ctx.principal.user_id, target=f"user:{row.target_user_id}",
                          actions=("account.password_reset", "account.two_factor_reset"), since=since) is not None


_RESET_HALVES = {"reset_password": "reset_two_factor", "reset_two_factor": "reset_password"}


def _holds_other_half(s: Session, ctx: Ctx, row: Approval) -> bool:
    """A password reset's one-time password goes to its approver, and a two-factor reset lets the next
    login enrol a new authenticator: one person approving both for the same account would hold its whole
    login. So whoever approved one half may not approve the other for that account."""
    other = _RESET_HALVES.get(row.kind)
    if other is None:
        return False
    assert ctx.principal is not None
    since = datetime.now(UTC) - timedelta(days=RESET_MEMORY_DAYS)
    return stored.find_approved_id(s, decided_by=ctx.principal.user_id, target_user_id=row.target_user_id,
                                   kind=other, since=since) is not None


class _Refused(Exception):
    def __init__(self, approval_id: int, kind: str, target: int, decider_role: str) -> None:
        super().__init__(approval_id)
        self.approval_id, self.kind, self.target, self.decider_role = approval_id, kind, target, decider_role


def _refused(ctx: Ctx, exc: _Refused) -> MixunError:
    """A refused attempt to decide is itself audited (in its own transaction: the attempt changed nothing)."""
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.APPROVAL_DECISION_REFUSED, target=f"user:{exc.target}", outcome="denied",
                     approval_id=exc.approval_id, kind=exc.kind)
    return MixunError("approval_not_allowed", decider_role=exc.decider_role)


# What carries out an approved request of one kind: (session, ctx, target, payload, via) -> answer.
# services/users.py owns them (APPLY) and the edge passes them in, so this module never imports users.
Apply = Callable[[Session, Ctx, User, dict[str, Any], dict[str, Any]], dict[str, Any]]


def approve(ctx: Ctx, approval_id: int, apply: Mapping[str, Apply]) -> dict[str, Any]:
    """Carries the request out as the approver; a password reset's one-time password is in this answer
    only (shown to the approver, never stored, never to the requester)."""
    assert ctx.principal is not None
    try:
        return _approve(ctx, approval_id, apply)
    except _Refused as exc:
        raise _refused(ctx, exc) from None


def _approve(ctx: Ctx, approval_id: int, apply: Mapping[str, Apply]) -> dict[str, Any]:
    assert ctx.principal is not None
    with ctx.rt.db.write() as s:
        row = _pending_for_decision(s, ctx, approval_id)
        user = find_user(s, row.target_user_id)
        if user is None:
            raise MixunError("not_found")
        via = {"id": row.id, "requested_by": row.requested_by}
        result = apply[row.kind](s, ctx, user, dict(row.payload or {}), via)
        row.status, row.decided_by, row.decided_at = "approved", ctx.principal.user_id, datetime.now(UTC)
        audit.record(s, ctx, AuditAction.APPROVAL_APPROVED, target=f"user:{row.target_user_id}", approval_id=row.id,
                     kind=row.kind, requested_by=row.requested_by)
        return {"approval": _view(s, ctx, row), "result": result}


def reject(ctx: Ctx, approval_id: int, reason: str) -> dict[str, Any]:
    assert ctx.principal is not None
    reason = reason.strip()
    if len(reason) < 2:
        raise MixunError("validation_failed", ("请填写驳回理由", "Give a reason for the rejection"), field="reason")
    try:
        return _reject(ctx, approval_id, reason)
    except _Refused as exc:
        raise _refused(ctx, exc) from None


def _reject(ctx: Ctx, approval_id: int, reason: str) -> dict[str, Any]:
    assert ctx.principal is not None
    with ctx.rt.db.write() as s:
        row = _pending_for_decision(s, ctx, approval_id)
        row.status, row.decided_by, row.decided_at = "rejected", ctx.principal.user_id, datetime.now(UTC)
        row.decision_reason = reason[:500]
        audit.record(s, ctx, AuditAction.APPROVAL_REJECTED, target=f"user:{row.target_user_id}", approval_id=row.id,
                     kind=row.kind, requested_by=row.requested_by, reason=reason[:500])
        return {"approval": _view(s, ctx, row)}
