"""Dual control (双人原则) for a compliance officer's heaviest access to content.

secadmin decides, per kind, whether an access needs a second compliance officer's approval: exporting a
person's whole history (``export_person``), a unit's (``export_unit``), and reading the unmasked
originals of masked messages (``originals``). Shortening a retention policy (``retention_policy``) and
releasing a legal hold (``hold_release``) always need the second officer. When a kind is on, asking for it files a pending request;
another compliance officer approves or rejects it (nobody decides their own); the officer who asked
then carries it out once. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mixun.db.engine import affected
from mixun.db.models_compliance import AccessRequest, ComplianceSetting
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.runtime import Ctx
from mixun.storage import users as user_store


@dataclass(frozen=True)
class Reason:
    """Why an officer reads archive content: a category code and a text (services/archive checks both)."""

    category: str
    text: str

    def audit(self) -> dict[str, Any]:
        return {"reason_category": self.category, "reason": self.text}

KINDS = ("export_person", "export_unit", "originals")
# Destroying acts that always need a second compliance officer, whatever secadmin's setting: shortening
# a retention policy and releasing a legal hold (else one officer could shorten retention to a day,
# release the holds and run retention: the archive gone on one person's word).
ALWAYS = ("retention_policy", "hold_release")
SETTING_KEY = "dual_control"
STATUSES = ("pending", "approved", "rejected", "used")


def _settings(s: Session) -> dict[str, bool]:
    row = s.get(ComplianceSetting, SETTING_KEY)
    stored = row.value if row is not None else {}
    return {k: bool(stored.get(k, False)) for k in KINDS}


def settings(ctx: Ctx) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        return {"dual_control": _settings(s), "kinds": list(KINDS)}


def set_settings(ctx: Ctx, values: dict[str, bool]) -> dict[str, Any]:
    """secadmin turns dual control on or off per kind (unknown kinds are a 422); audited."""
    bad = [k for k in values if k not in KINDS]
    if bad:
        raise MixunError("validation_failed", ("未知的双人复核类型", "Unknown dual-control kind"),
                         field="dual_control", allowed=list(KINDS))
    with ctx.rt.db.write() as s:
        row = s.get(ComplianceSetting, SETTING_KEY, with_for_update=True)
        before = _settings(s)
        after: dict[str, object] = {**before, **{k: bool(v) for k, v in values.items()}}
        if row is None:
            s.add(ComplianceSetting(key=SETTING_KEY, value=after, updated_by=ctx.user_id))
        else:
            row.value, row.updated_by, row.updated_at = after, ctx.user_id, datetime.now(UTC)
        audit.record(s, ctx, AuditAction.COMPLIANCE_DUAL_CONTROL_CHANGED, target="dual_control", before=before, after=after)
    return {"dual_control": after, "kinds": list(KINDS)}


def kinds_on(ctx: Ctx, kinds: list[str]) -> list[str]:
    """Which of ``kinds`` need a second officer now."""
    with ctx.rt.db.read() as s:
        on = _settings(s)
    return [k for k in kinds if on.get(k)]


def require_off(ctx: Ctx, kind: str) -> None:
    """For doors that cannot wait for an approval (the conversation view's originals switch)."""
    if kinds_on(ctx, [kind]):
        raise MixunError("approval_required", kind=kind)


def file_request(ctx: Ctx, kinds: list[str], params: dict[str, Any], reason: Reason) -> dict[str, Any]:
    """A pending request for an access that needs a second officer."""
    with ctx.rt.db.write() as s:
        r = AccessRequest(kind=kinds[0], params={**params, "kinds": kinds}, reason_category=reason.category,
                          reason=reason.text, status="pending", requested_by=ctx.user_id, decision_note="")
        s.add(r)
        s.flush()
        audit.record(s, ctx, AuditAction.ACCESS_REQUEST_FILED, target=f"access_request:{r.id}", kinds=kinds,
                     **reason.audit())
        return _views(s, [r])[0]


def _views(s: Session, rows: list[AccessRequest]) -> list[dict[str, Any]]:
    ids = {r.requested_by for r in rows} | {r.decided_by for r in rows if r.decided_by}
    names = user_store.list_names(s, ids)
    return [{"id": r.id, "kind": r.kind, "kinds": r.params.get("kinds", [r.kind]),
             "params": {k: v for k, v in r.params.items() if k != "kinds"},
             "reason_category": r.reason_category, "reason": r.reason, "status": r.status,
             "requested_by": {"id": r.requested_by, "name": names.get(r.requested_by, "")},
             "requested_at": r.requested_at.isoformat(),
             "decided_by": {"id": r.decided_by, "name": names.get(r.decided_by, "")} if r.decided_by else None,
             "decided_at": r.decided_at.isoformat() if r.decided_at else None, "decision_note": r.decision_note,
             "used_at": r.used_at.isoformat() if r.used_at else None} for r in rows]


def list_requests(ctx: Ctx, status: str | None, limit: int, offset: int) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise MixunError("validation_failed", ("状态应为 pending、approved、rejected 或 used",
                                               "status must be pending, approved, rejected or used"),
                         field="status")
    with ctx.rt.db.read() as s:
        stmt = select(AccessRequest).order_by(AccessRequest.id.desc())
        if status:
            stmt = stmt.where(AccessRequest.status == status)
        rows = list(s.execute(stmt.offset(offset).limit(limit + 1)).scalars())
        return {"requests": _views(s, rows[:limit]), "next_offset": offset + limit if len(rows) > limit else None,
                **{"dual_control": _settings(s)}}


def decide(ctx: Ctx, request_id: int, approve: bool, note: str = "") -> dict[str, Any]:
    """Another compliance officer approves or rejects a pending request; never its own."""
    with ctx.rt.db.write() as s:
        r = s.get(AccessRequest, request_id, with_for_update=True)
        if r is None:
            raise MixunError("not_found")
        if r.requested_by == ctx.user_id:
            raise MixunError("own_request")
        if r.status != "pending":
            raise MixunError("request_not_pending", status=r.status)
        r.status = "approved" if approve else "rejected"
        r.decided_by, r.decided_at, r.decision_note = ctx.user_id, datetime.now(UTC), note.strip()[:500]
        audit.record(s, ctx, AuditAction.ACCESS_REQUEST_APPROVED if approve else AuditAction.ACCESS_REQUEST_REJECTED,
                     target=f"access_request:{r.id}", kinds=r.params.get("kinds", [r.kind]),
                     requested_by=r.requested_by, note=r.decision_note)
        return _views(s, [r])[0]


def claim(ctx: Ctx, request_id: int) -> tuple[dict[str, Any], Reason]:
    """Takes the caller's own approved request for carrying out: in one statement the approval becomes
    used, so two runs at once (or one after another) cannot both proceed on one approval. Returns the
    request's parameters and reason; ``release`` gives it back if the work then fails."""
    with ctx.rt.db.write() as s:
        taken = affected(s.execute(update(AccessRequest).where(AccessRequest.id == request_id,
                                                      AccessRequest.requested_by == ctx.user_id,
                                                      AccessRequest.status == "approved")
                          .values(status="used", used_at=datetime.now(UTC))))
        r = s.get(AccessRequest, request_id)
        if r is None or r.requested_by != ctx.user_id:
            raise MixunError("not_found")
        if not taken:
            raise MixunError("request_not_approved", status=r.status)
        audit.record(s, ctx, AuditAction.ACCESS_REQUEST_USED, target=f"access_request:{request_id}")
        return dict(r.params), Reason(r.reason_category, r.reason)


def release(ctx: Ctx, request_id: int) -> None:
    """The approved work failed before producing anything: the approval may be used again, once."""
    with ctx.rt.db.write() as s:
        back = affected(s.execute(update(AccessRequest).where(AccessRequest.id == request_id,
                                                     AccessRequest.status == "used")
                         .values(status="approved", used_at=None)))
        if back:
            audit.record(s, ctx, AuditAction.ACCESS_REQUEST_RELEASED, target=f"access_request:{request_id}",
                         outcome="failed")
