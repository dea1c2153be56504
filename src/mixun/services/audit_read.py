"""Reading and verifying the audit trail (the auditor's side); reads are themselves audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mixun.db.models import AuditLog, User
from mixun.domain.audit_chain import ChainReport, verify_chain
from mixun.services import audit
from mixun.services.runtime import Ctx


def _view(r: AuditLog, names: dict[int, tuple[str, str]]) -> dict[str, Any]:
    username, name = names.get(r.actor_id or 0, ("", ""))
    return {"id": r.id, "at": r.at, "actor_id": r.actor_id, "actor_username": username, "actor_name": name,
            "actor_role": r.actor_role, "ip": r.ip, "client": r.client, "action": r.action, "target": r.target,
            "outcome": r.outcome, "details": r.details, "hash": r.hash}


def search(ctx: Ctx, action: str | None, actor: int | None, limit: int, offset: int,
           actor_username: str | None = None, since: str | None = None, until: str | None = None
           ) -> dict[str, Any]:
    """Newest first. ``since``/``until`` are ISO 8601 UTC times (records store their time as written)."""
    with ctx.rt.db.read() as s:
        stmt = select(AuditLog).order_by(AuditLog.id.desc())
        if action:
            stmt = stmt.where(AuditLog.action.startswith(action))
        if actor:
            stmt = stmt.where(AuditLog.actor_id == actor)
        if actor_username:
            stmt = stmt.where(AuditLog.actor_id.in_(select(User.id).where(User.username == actor_username)))
        if since:
            stmt = stmt.where(AuditLog.at >= _iso(since))
        if until:
            stmt = stmt.where(AuditLog.at < _iso(until))
        rows = list(s.execute(stmt.offset(offset).limit(limit + 1)).scalars())
        actor_ids = {r.actor_id for r in rows if r.actor_id}
        names = {uid: (un, nm) for uid, un, nm in s.execute(
            select(User.id, User.username, User.name).where(User.id.in_(actor_ids))).all()} if actor_ids else {}
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, "audit.searched", action_filter=action or "", actor_filter=actor)
    return {"records": [_view(r, names) for r in rows[:limit]],
            "next_offset": offset + limit if len(rows) > limit else None}


def _iso(value: str) -> str:
    from datetime import UTC, datetime

    from mixun.errors import MixunError

    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MixunError("validation_failed", ("时间格式应为 ISO 8601", "Times must be ISO 8601"), field="since/until") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat()


def verify(ctx: Ctx, batch: int = 5000) -> ChainReport:
    """Walk the whole trail in id order, in batches, with constant memory."""
    from mixun.domain.audit_chain import GENESIS

    prev_hash, prev_id, total = GENESIS, None, 0
    fields = [AuditLog.id, AuditLog.at, AuditLog.actor_id, AuditLog.actor_role, AuditLog.ip, AuditLog.client,
              AuditLog.action, AuditLog.target, AuditLog.outcome, AuditLog.details, AuditLog.prev_hash,
              AuditLog.hash]
    with ctx.rt.db.read() as s:
        while True:
            stmt = select(*fields).order_by(AuditLog.id).limit(batch)
            if prev_id is not None:
                stmt = stmt.where(AuditLog.id > prev_id)
            rows = [dict(r._mapping) for r in s.execute(stmt).all()]
            if not rows:
                break
            if prev_id is None and rows[0]["id"] != 1:
                return ChainReport(False, 0, None, prev_hash, rows[0]["id"], "the first records were removed")
            report = verify_chain(rows, prev_hash, prev_id)
            total += report.count
            if not report.ok:
                return ChainReport(False, total, report.last_id, report.last_hash, report.first_bad_id,
                                   report.reason)
            prev_hash, prev_id = report.last_hash, report.last_id
    return ChainReport(True, total, prev_id, prev_hash)
