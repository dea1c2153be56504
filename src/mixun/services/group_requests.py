"""Groups with other units that need the unit head's approval (issue 21 item 8, NAFMII No.222 三(二)).

When secadmin switches ``cross_unit_groups_unreviewed`` off for a unit (or a person), creating a group
that includes people of other units does not make the group: it files a request here. The unit head of
the requester's unit (or, when it has none, of the nearest unit above: services/applications.py's
rule) approves it, and the group is made then, as the requester would have made it, or rejects it with a
reason. Each step is audited and heard of at once by whoever must act next and by the requester, who
sees where the request stands in the web client.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from mixun.db.models import GroupRequest, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.roles import Role, permissions_for
from mixun.errors import MixunError
from mixun.services import audit, events, functions
from mixun.services.runtime import Ctx, Principal
from mixun.storage import group_requests as stored
from mixun.storage import users as stored_users
from mixun.storage.units import find_unit

STATUSES = ("pending", "approving", "approved", "rejected", "withdrawn")


def _deciders(s: Session, req: GroupRequest) -> list[int]:
    from mixun.services.applications import _unit_heads

    unit = find_unit(s, req.unit_id) if req.unit_id else None
    return _unit_heads(s, unit, req.requester_id) if unit is not None else []


def _path(s: Session, unit_id: int | None) -> str:
    unit = find_unit(s, unit_id) if unit_id else None
    return unit.path if unit is not None else ""


def _person(s: Session, user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    u = stored_users.find_user(s, user_id)
    return {"id": u.id, "name": u.name, "username": u.username} if u else None


def _view(s: Session, ctx: Ctx, req: GroupRequest) -> dict[str, Any]:
    people = stored_users.list_names_and_unit_paths(s, req.members)
    deciders = _deciders(s, req) if req.status == "pending" else []
    return {"id": req.id, "name": req.name, "status": req.status, "requester": _person(s, req.requester_id),
            "unit": _path(s, req.unit_id),
            "members": [{"id": uid, "name": people.get(uid, ("", ""))[0], "unit": people.get(uid, ("", ""))[1] or ""}
                        for uid in req.members],
            "created_at": req.created_at.isoformat(), "decided_by": _person(s, req.decided_by),
            "decided_at": req.decided_at.isoformat() if req.decided_at else None, "reason": req.reason,
            "conversation_id": req.conversation_id,
            "approvers": [p for p in (_person(s, d) for d in deciders) if p],
            "can_decide": ctx.principal is not None and ctx.user_id in deciders}


def _tell(s: Session, ctx: Ctx, req: GroupRequest) -> None:
    recipients = set(_deciders(s, req)) | {req.requester_id}
    events.emit(s, ctx, sorted(recipients), EventType.GROUP_REQUEST_CHANGED,
                {"request_id": req.id, "status": req.status, "name": req.name})


def file_request(ctx: Ctx, name: str, members: list[int]) -> dict[str, Any]:
    """The request a refused creation (``group_approval_required``) becomes; it names who will decide."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise MixunError("validation_failed", ("群名称为 1–100 个字符", "A group name must be 1–100 characters"), field="name")
    ids = [m for m in dict.fromkeys(members) if m != ctx.user_id]
    with ctx.rt.db.write() as s:
        me = stored_users.find_user(s, ctx.user_id)
        assert me is not None
        found = stored_users.list_enabled_ids(s, ids)
        if not ids or len(found) != len(ids):
            raise MixunError("invalid_members", ("成员不存在或已停用", "A member does not exist or is disabled"))
        req = GroupRequest(requester_id=me.id, unit_id=me.unit_id, name=name, members=ids, status="pending",
                           created_at=datetime.now(UTC))
        s.add(req)
        s.flush()
        if not _deciders(s, req):
            raise MixunError("no_unit_head")
        audit.record(s, ctx, AuditAction.GROUP_REQUEST_FILED, target=f"group_request:{req.id}", members=len(ids),
                     unit=_path(s, me.unit_id))
        _tell(s, ctx, req)
        return _view(s, ctx, req)


def list_requests(ctx: Ctx, scope: str, limit: int = 50) -> dict[str, Any]:
    """``mine``: the caller's own requests; ``todo``: pending ones the caller decides."""
    if scope not in ("mine", "todo"):
        raise MixunError("validation_failed", ("范围只能是 mine 或 todo", "scope is mine or todo"), field="scope")
    with ctx.rt.db.read() as s:
        if scope == "mine":
            rows = stored.list_by_requester(s, ctx.user_id, limit)
            todo = [r for r in stored.list_pending(s)
                    if ctx.user_id in _deciders(s, r)] if Role.UNIT_HEAD.value in (ctx.principal.roles if ctx.principal else ()) else []
        else:
            todo = [r for r in stored.list_pending(s) if ctx.user_id in _deciders(s, r)]
            rows = todo[:limit]
        return {"requests": [_view(s, ctx, r) for r in rows], "todo_count": len(todo)}


def _pending_for_me(s: Session, ctx: Ctx, request_id: int) -> GroupRequest:
    """The request, locked, when it is still pending and the caller is one who decides it."""
    req = stored.get_request(s, request_id, lock=True)
    if req.status != "pending":
        raise MixunError("group_request_not_pending", status=req.status)
    if ctx.user_id not in _deciders(s, req):
        raise MixunError("group_request_not_yours")
    return req


def _claim(ctx: Ctx, request_id: int) -> None:
    with ctx.rt.db.write() as s:
        _pending_for_me(s, ctx, request_id).status = "approving"


def _requester_ctx(ctx: Ctx, user: User) -> Ctx:
    roles = tuple(user.roles or ())
    principal = Principal(user_id=user.id, username=user.username, name=user.name, roles=roles,
                          perms=permissions_for(roles), session_id=None)
    return replace(ctx, principal=principal)


def approve(ctx: Ctx, request_id: int) -> dict[str, Any]:
    """The unit head's yes: the group is made as the requester asked (every other rule still applies:
    the requester may create groups, the size limit, members still active); then the request is
    approved and both hear of it. A group that can no longer be made leaves the request pending."""
    from mixun.services import conversations

    _claim(ctx, request_id)
    try:
        with ctx.rt.db.read() as s:
            req = stored.get_request(s, request_id)
            requester = stored_users.find_user(s, req.requester_id)
            assert requester is not None
            if requester.disabled or requester.departed_at is not None:
                raise MixunError("account_departed")
            as_requester, name, members = _requester_ctx(ctx, requester), req.name, list(req.members)
        token = functions.APPROVED_GROUP.set(True)
        try:
            conv = conversations.create_conversation(as_requester, "group", members, name)
        finally:
            functions.APPROVED_GROUP.reset(token)
    except BaseException:
        with ctx.rt.db.write() as s:
            back = stored.find_request(s, request_id)
            if back is not None and back.status == "approving":
                back.status = "pending"
        raise
    with ctx.rt.db.write() as s:
        req = stored.get_request(s, request_id)
        req.status, req.decided_by, req.decided_at = "approved", ctx.user_id, datetime.now(UTC)
        req.conversation_id = int(conv["id"])
        audit.record(s, ctx, AuditAction.GROUP_REQUEST_APPROVED, target=f"group_request:{req.id}",
                     conversation=f"conversation:{conv['id']}", requester=f"user:{req.requester_id}")
        _tell(s, ctx, req)
        return _view(s, ctx, req)


def reject(ctx: Ctx, request_id: int, reason: str) -> dict[str, Any]:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise MixunError("validation_failed", ("请填写驳回理由", "Give a reason for the rejection"), field="reason")
    with ctx.rt.db.write() as s:
        req = _pending_for_me(s, ctx, request_id)
        # _tell before the status changes would name the approvers; afterwards the requester hears
        recipients = sorted(set(_deciders(s, req)) | {req.requester_id})
        req.status, req.decided_by, req.decided_at, req.reason = "rejected", ctx.user_id, datetime.now(UTC), reason
        audit.record(s, ctx, AuditAction.GROUP_REQUEST_REJECTED, target=f"group_request:{req.id}", reason=reason,
                     requester=f"user:{req.requester_id}")
        events.emit(s, ctx, recipients, EventType.GROUP_REQUEST_CHANGED,
                    {"request_id": req.id, "status": req.status, "name": req.name})
        return _view(s, ctx, req)


def withdraw(ctx: Ctx, request_id: int) -> dict[str, Any]:
    """The requester takes back a pending request."""
    with ctx.rt.db.write() as s:
        req = stored.get_request(s, request_id, lock=True)
        if req.requester_id != ctx.user_id:
            raise MixunError("not_found")
        if req.status != "pending":
            raise MixunError("group_request_not_pending", status=req.status)
        recipients = sorted(set(_deciders(s, req)) | {req.requester_id})
        req.status, req.decided_at = "withdrawn", datetime.now(UTC)
        audit.record(s, ctx, AuditAction.GROUP_REQUEST_WITHDRAWN, target=f"group_request:{req.id}")
        events.emit(s, ctx, recipients, EventType.GROUP_REQUEST_CHANGED,
                    {"request_id": req.id, "status": req.status, "name": req.name})
        return _view(s, ctx, req)
