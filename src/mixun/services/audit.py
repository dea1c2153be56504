"""Writes to the hash-chained audit trail, inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from mixun.db.engine import on_commit
from mixun.db.models import AuditLog
from mixun.domain.audit_actions import AuditAction
from mixun.domain.audit_chain import GENESIS, chain_hash, record_mac
from mixun.services import texts
from mixun.services.audit_checkpoints import note_head, record_key
from mixun.services.runtime import Ctx

_AUDIT_LOCK_KEY = 0x6D69786E  # "mixn": serialises audit appends on PostgreSQL


def record(session: Session, ctx: Ctx, action: AuditAction, target: str = "", outcome: str = "success",
           actor_id: int | None = None, **details: Any) -> None:
    """Append one audit record. Never pass raw secrets or sensitive values in ``details``. DLP findings
    (``findings=[{..., "masked": ...}]``) are kept with their masked excerpts sealed (docs/keys.md); the
    chain hashes what is stored, and the console opens them (services/audit_read.py)."""
    if "findings" in details:
        details["findings"] = texts.sealed_findings(ctx.rt, session, target, datetime.now(UTC), details["findings"])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    last = session.execute(select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).first()
    prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    row: dict[str, Any] = {
        "id": prev_id + 1,
        "at": datetime.now(UTC).isoformat(),
        "actor_id": actor_id if actor_id is not None else (ctx.principal.user_id if ctx.principal else None),
        "actor_role": ctx.role_label,
        "ip": ctx.ip,
        "client": ctx.client[:300],
        "action": action,
        "target": target[:200],
        "outcome": outcome,
        "details": details,
    }
    row["prev_hash"] = prev_hash
    row["hash"] = chain_hash(prev_hash, row)
    # The MAC needs a key the database does not hold: whoever can only write rows cannot forge one.
    mac_key, _from = record_key(ctx.rt.settings, row["id"])
    row["mac"] = record_mac(mac_key, row["id"], row["hash"])
    session.add(AuditLog(**row))
    session.flush()
    # The signed head (keys/audit-head.json) follows every commit, so a cut-off tail is detectable.
    settings, audit_id, head = ctx.rt.settings, row["id"], row["hash"]
    on_commit(session, lambda: note_head(settings, audit_id, head))


def record_many(session: Session, ctx: Ctx, entries: list[tuple[AuditAction, str, dict[str, Any]]]) -> None:
    """Append several records (action, target, details) in one statement, chained exactly as ``record``
    chains them one by one: for bulk acts (an HR import of thousands of people) that still want one
    record per person."""
    if not entries:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    session.flush()
    last = session.execute(select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).first()
    prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    actor_id = ctx.principal.user_id if ctx.principal else None
    at = datetime.now(UTC).isoformat()
    rows: list[dict[str, Any]] = []
    for action, target, details in entries:
        if "findings" in details:
            details = dict(details, findings=texts.sealed_findings(ctx.rt, session, target, datetime.now(UTC),
                                                                    details["findings"]))
        prev_id += 1
        row: dict[str, Any] = {"id": prev_id, "at": at, "actor_id": actor_id, "actor_role": ctx.role_label,
                               "ip": ctx.ip, "client": ctx.client[:300], "action": action, "target": target[:200],
                               "outcome": "success", "details": details, "prev_hash": prev_hash}
        row["hash"] = chain_hash(prev_hash, row)
        mac_key, _from = record_key(ctx.rt.settings, prev_id)
        row["mac"] = record_mac(mac_key, prev_id, row["hash"])
        rows.append(row)
        prev_hash = row["hash"]
    session.execute(insert(AuditLog), rows)
    settings, audit_id, head = ctx.rt.settings, prev_id, prev_hash
    on_commit(session, lambda: note_head(settings, audit_id, head))
