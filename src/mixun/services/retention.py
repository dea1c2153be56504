"""Retention policies, legal holds and the retention run that destroys what expired (C6).

Only this module deletes from the append-only archive: inside its transaction it opens the permit the
triggers check (PostgreSQL `SET LOCAL mixun.retention = 'on'`; SQLite a row in retention_permit),
which ends with the transaction. Files are destroyed by deleting their wrapped data keys (and blobs).
Before trimming the oldest audit records it stores a signed checkpoint so the trail still verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from mixun.db.engine import on_commit
from mixun.db.models import (
    Attachment,
    AuditLog,
    Conversation,
    Member,
    MembershipLog,
    Message,
    MessageVersion,
    Unit,
    User,
)
from mixun.db.models_archive import (
    LegalHold,
    RetentionDestroyed,
    RetentionPermit,
    RetentionPolicy,
    RetentionRun,
)
from mixun.db.models_drive import DriveItem, DriveReport
from mixun.domain import retention as rules
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit, dual_control
from mixun.services.archive import check_reason, unindex
from mixun.services.audit_checkpoints import add_checkpoint
from mixun.services.retention_groups import policies as _policies
from mixun.services.runtime import Ctx
from mixun.storage import events as stored_events

BATCH = 2000


# --- policies ---------------------------------------------------------------------------------------

def list_policies(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        return [{"scope": p.scope, "messages_days": p.messages_days, "files_days": p.files_days}
                for p in sorted(_policies(s).values(), key=lambda p: p.scope)]


def _current_days(policies: dict[str, rules.Policy], scope: str) -> tuple[int, int]:
    """What now governs ``scope``: its own policy, else the longest of those it would override (a new
    unit policy replaces the default, the kind policies and any parent unit's for that unit)."""
    if scope in policies:
        return policies[scope].messages_days, policies[scope].files_days
    if scope == "audit":
        return rules.DEFAULT_AUDIT_DAYS, rules.DEFAULT_AUDIT_DAYS
    if scope.startswith("kind:"):
        covered = [policies["default"]]
    else:
        unit = scope[5:].rstrip("/")
        covered = [p for sc, p in policies.items() if sc in ("default", "kind:direct", "kind:group") or (
            sc.startswith("unit:") and (unit == sc[5:].rstrip("/") or unit.startswith(sc[5:].rstrip("/") + "/")))]
    return max(p.messages_days for p in covered), max(p.files_days for p in covered)


def set_policy(ctx: Ctx, scope: str, messages_days: int, files_days: int, *,
               approved_request: int | None = None) -> dict[str, Any]:
    """Set a policy. Lengthening takes effect at once; shortening (any value below what now governs the
    scope) by an officer files a request that a second compliance officer approves, and the asker then
    carries it out once (``approved_request``). The server's own CLI (no principal) is not asked."""
    if not rules.valid_scope(scope):
        raise MixunError("validation_failed", ("范围应为 default、audit、kind:direct、kind:group 或 unit:<路径>",
                                               "The scope must be default, audit, kind:direct, kind:group or unit:<path>"),
                         field="scope")
    problem = rules.check_days(scope, messages_days, files_days)
    if problem:
        raise MixunError("validation_failed", problem, field="messages_days")
    if ctx.principal is not None and approved_request is None:
        with ctx.rt.db.read() as s:
            cur_m, cur_f = _current_days(_policies(s), scope)
        if messages_days < cur_m or (scope != "audit" and files_days < cur_f):
            req = dual_control.file_request(
                ctx, ["retention_policy"], {"scope": scope, "messages_days": messages_days, "files_days": files_days},
                dual_control.Reason("other", f"缩短保存期限：{scope} {cur_m}→{messages_days} 天"))
            return {"status": "pending", "request": req}
    with ctx.rt.db.write() as s:
        row = s.execute(select(RetentionPolicy).where(RetentionPolicy.scope == scope)).scalar_one_or_none()
        before = (row.messages_days, row.files_days) if row else None
        if row is None:
            row = RetentionPolicy(scope=scope, messages_days=messages_days, files_days=files_days)
            s.add(row)
        row.messages_days, row.files_days = messages_days, files_days
        row.updated_by, row.updated_at = ctx.principal.user_id if ctx.principal else None, datetime.now(UTC)
        audit.record(s, ctx, AuditAction.RETENTION_POLICY_CHANGED, target=scope, before=before,
                     messages_days=messages_days, files_days=files_days, request_id=approved_request)
    return {"status": "done", "scope": scope, "messages_days": messages_days, "files_days": files_days}


# --- legal holds ------------------------------------------------------------------------------------

def _hold_view(h: LegalHold) -> dict[str, Any]:
    return {"id": h.id, "user_id": h.user_id, "conversation_id": h.conversation_id,
            "since": h.since.isoformat() if h.since else None, "until": h.until.isoformat() if h.until else None,
            "reason": h.reason, "placed_by": h.placed_by, "placed_at": h.placed_at.isoformat(),
            "released_at": h.released_at.isoformat() if h.released_at else None,
            "released_by": h.released_by, "release_reason": h.release_reason}


def place_hold(ctx: Ctx, *, reason: str | None, user_id: int | None = None, conversation_id: int | None = None,
               since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    why = check_reason(reason)
    if user_id is None and conversation_id is None and since is None and until is None:
        raise MixunError("validation_failed", ("须指定人员、会话或时间范围", "Name a person, a conversation or a time range"), field="user_id")
    with ctx.rt.db.write() as s:
        if user_id is not None and s.get(User, user_id) is None:
            raise MixunError("not_found")
        if conversation_id is not None and s.get(Conversation, conversation_id) is None:
            raise MixunError("not_found")
        h = LegalHold(user_id=user_id, conversation_id=conversation_id, since=since, until=until, reason=why,
                      placed_by=ctx.user_id)
        s.add(h)
        s.flush()
        audit.record(s, ctx, AuditAction.LEGAL_HOLD_PLACED, target=f"hold:{h.id}", reason=why, user_id=user_id,
                     conversation_id=conversation_id, since=since.isoformat() if since else None,
                     until=until.isoformat() if until else None)
        view = _hold_view(h)
    if conversation_id is not None:
        # The held conversation's data keys move under period keys of its own (ADR 0020, "Groups"): kept, it
        # no longer keeps its neighbours' period keys alive. A hold on a person does not move anything.
        ctx.rt.keys.data_keys.regroup(f"c:{conversation_id}", rules.key_group({}, "", set(), conversation_id))
    return view


def release_hold(ctx: Ctx, hold_id: int, reason: str | None, *,
                 approved_request: int | None = None) -> dict[str, Any]:
    """An officer's release files a request for a second compliance officer (the hold stays until the
    asker carries out the approved request, ``approved_request``); the server's CLI is not asked."""
    why = check_reason(reason)
    if ctx.principal is not None and approved_request is None:
        with ctx.rt.db.read() as s:
            h = s.get(LegalHold, hold_id)
            if h is None:
                raise MixunError("not_found")
            if h.released_at is not None:
                raise MixunError("hold_already_released")
        req = dual_control.file_request(ctx, ["hold_release"], {"hold_id": hold_id, "release_reason": why},
                                        dual_control.Reason("other", why))
        return {"status": "pending", "request": req}
    with ctx.rt.db.write() as s:
        h = s.get(LegalHold, hold_id, with_for_update=True)
        if h is None:
            raise MixunError("not_found")
        if h.released_at is not None:
            raise MixunError("hold_already_released")
        h.released_at, h.released_by, h.release_reason = datetime.now(UTC), ctx.user_id, why
        audit.record(s, ctx, AuditAction.LEGAL_HOLD_RELEASED, target=f"hold:{h.id}", reason=why,
                     request_id=approved_request)
        return {"status": "done", **_hold_view(h)}


def list_holds(ctx: Ctx, active_only: bool = False) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        stmt = select(LegalHold).order_by(LegalHold.id.desc())
        if active_only:
            stmt = stmt.where(LegalHold.released_at.is_(None))
        return [_hold_view(h) for h in s.execute(stmt).scalars()]


# --- the run ----------------------------------------------------------------------------------------

def _permit(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL mixun.retention = 'on'"))
    else:
        s.add(RetentionPermit(id=1))
        s.flush()


def _close_permit(s: Session) -> None:
    if s.get_bind().dialect.name != "postgresql":
        s.execute(delete(RetentionPermit))


def _unlink_later(s: Session, paths: list[Path]) -> None:
    def unlink() -> None:
        for p in paths:
            p.unlink(missing_ok=True)

    if paths:
        on_commit(s, unlink)


def run(ctx: Ctx, *, dry_run: bool = False, now: datetime | None = None,
        progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Destroy expired messages, versions, files and audit records unless held; record what went. One
    transaction: interrupted, it destroys nothing. ``progress(messages looked at, expired messages)``."""
    now = now or datetime.now(UTC)
    counts: dict[str, Any] = {"messages": 0, "versions": 0, "attachments": 0, "group_files": 0, "audit_records": 0,
                              "events": 0, "held": 0}
    blob_dir = ctx.rt.settings.blob_dir
    with ctx.rt.db.write() as s:
        policies = _policies(s)
        holds = [rules.Hold(h.id, h.user_id, h.conversation_id, h.since, h.until)
                 for h in s.execute(select(LegalHold).where(LegalHold.released_at.is_(None))).scalars()]
        shortest = min(min(p.messages_days, p.files_days) for k, p in policies.items() if k != "audit")
        cutoff = now - timedelta(days=shortest)
        run_row = RetentionRun(started_at=now, actor=ctx.client or ctx.role_label)
        s.add(run_row)
        s.flush()
        if not dry_run:
            _permit(s)
        convs: dict[int, tuple[str, set[int]]] = {}
        units: dict[int, str] = {}
        last_id = 0
        doomed_paths: list[Path] = []
        total = int(s.execute(select(func.count()).select_from(Message).where(Message.created_at < cutoff))
                    .scalar_one()) if progress else 0
        looked = 0
        while True:
            if progress:
                progress(looked, max(total, looked))
            msgs = s.execute(select(Message.id, Message.conversation_id, Message.sender_id, Message.created_at)
                             .where(Message.created_at < cutoff, Message.id > last_id)
                             .order_by(Message.id).limit(BATCH)).all()
            if not msgs:
                break
            last_id = msgs[-1][0]
            looked += len(msgs)
            gone_msgs: list[int] = []
            file_msgs: list[int] = []
            for mid, cid, sender, created in msgs:
                if cid not in convs:
                    kind = s.execute(select(Conversation.kind).where(Conversation.id == cid)).scalar() or ""
                    people = set(s.execute(select(Member.user_id).where(Member.conversation_id == cid)).scalars())
                    people |= set(s.execute(select(MembershipLog.user_id)
                                            .where(MembershipLog.conversation_id == cid)).scalars())
                    convs[cid] = (kind, people)
                if sender not in units:
                    units[sender] = s.execute(select(Unit.path).join(User, User.unit_id == Unit.id)
                                              .where(User.id == sender)).scalar() or ""
                kind, people = convs[cid]
                policy = rules.resolve(policies, kind, units[sender])
                msg_exp = rules.expired(created, policy.messages_days, now)
                file_exp = rules.expired(created, policy.files_days, now)
                if not (msg_exp or file_exp):
                    continue
                if rules.held(holds, sender, people, cid, created) is not None:
                    counts["held"] += 1
                    continue
                if file_exp:
                    file_msgs.append(mid)
                if msg_exp:
                    gone_msgs.append(mid)
            for att in s.execute(select(Attachment).where(Attachment.message_id.in_(file_msgs or [-1]))).scalars():
                counts["attachments"] += 1
                s.add(RetentionDestroyed(run_id=run_row.id, kind="attachment", ref_id=att.id,
                                         conversation_id=att.conversation_id, created_at=att.created_at))
                for key in (att.blob_key, att.thumb_key):
                    if key:
                        doomed_paths.append(blob_dir / key[:2] / key)
            versions = s.execute(select(MessageVersion.id, MessageVersion.conversation_id, MessageVersion.created_at)
                                 .where(MessageVersion.message_id.in_(gone_msgs or [-1]))).all()
            counts["versions"] += len(versions)
            counts["messages"] += len(gone_msgs)
            for mid in gone_msgs:
                s.add(RetentionDestroyed(run_id=run_row.id, kind="message", ref_id=mid))
            if dry_run:
                continue
            if file_msgs:
                # The wrapped data key goes with the row: the encrypted blob is unreadable from now on.
                s.execute(delete(Attachment).where(Attachment.message_id.in_(file_msgs)))
            if gone_msgs:
                unindex(s, [v[0] for v in versions])
                s.execute(delete(MessageVersion).where(MessageVersion.message_id.in_(gone_msgs)))
                s.execute(delete(Message).where(Message.id.in_(gone_msgs)))
            s.flush()
        _expire_group_files(s, run_row.id, policies, holds, cutoff, now, dry_run, counts, doomed_paths, blob_dir)
        # Delivery copies of old events (they carry message text) go with the shortest retention.
        if not dry_run:
            counts["events"] = stored_events.delete_before(s, cutoff)
        audit_cutoff = (now - timedelta(days=rules.audit_days(policies))).isoformat()
        # The newest record always stays: the next append chains on it and continues its ids.
        newest = s.execute(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)).scalar() or 0
        last_old = s.execute(select(AuditLog.id, AuditLog.hash).where(AuditLog.at < audit_cutoff,
                                                                      AuditLog.id < newest)
                             .order_by(AuditLog.id.desc()).limit(1)).first()
        if last_old is not None:
            first = s.execute(select(AuditLog.id).order_by(AuditLog.id).limit(1)).scalar() or 0
            counts["audit_records"] = last_old[0] - first + 1
            if not dry_run:
                add_checkpoint(s, ctx.rt.settings, last_old[0], last_old[1], "retention")
                s.execute(delete(AuditLog).where(AuditLog.id <= last_old[0]))
        if not dry_run:
            _close_permit(s)
            _unlink_later(s, doomed_paths)
        run_row.finished_at = datetime.now(UTC)
        run_row.counts = dict(counts, dry_run=int(dry_run))
        audit.record(s, ctx, AuditAction.RETENTION_RAN, target=f"retention_run:{run_row.id}", dry_run=dry_run, **counts)
        result = {"run_id": run_row.id, "dry_run": dry_run, "counts": counts}
        if dry_run:  # nothing destroyed or recorded as destroyed; only the fact of the dry run is audited
            s.rollback()
            s.info["after_commit"].clear()
            audit.record(s, ctx, AuditAction.RETENTION_RAN, target="dry-run", dry_run=True, **counts)
    if not dry_run:
        # Crypto-shredding, once the destruction has committed: the data key of every conversation-month
        # left with nothing stored is destroyed, so old backups can no longer show those texts.
        from mixun.services import keys

        result["data_keys_destroyed"] = keys.shred_spent(ctx, now)["destroyed"]
    return result


def _expire_group_files(s: Session, run_id: int, policies: dict[str, rules.Policy], holds: list[rules.Hold],
                        cutoff: datetime, now: datetime, dry_run: bool, counts: dict[str, Any],
                        doomed_paths: list[Path], blob_dir: Path) -> None:
    """Files put straight into groups' file spaces (群文件) go as a group's sent files do: after the
    ``files_days`` of the policy for groups and the uploader's unit, unless a hold covers them (the
    uploader, a participant of the group, the group, the time). Whether members deleted one does not
    matter: until then the archive keeps it. The row (with the wrapped data key) and the blob go;
    folders, which hold no content, stay."""
    last = 0
    people: dict[int, set[int]] = {}
    units: dict[int, str] = {}
    while True:
        items = s.execute(select(DriveItem.id, DriveItem.conversation_id, DriveItem.uploader_id, DriveItem.created_at,
                                 DriveItem.blob_key)
                          .where(DriveItem.conversation_id.is_not(None), DriveItem.kind == "file",
                                 DriveItem.created_at < cutoff, DriveItem.id > last)
                          .order_by(DriveItem.id).limit(BATCH)).all()
        if not items:
            return
        last = items[-1][0]
        doomed: list[int] = []
        for item_id, conversation_id, uploader, created, blob_key in items:
            assert conversation_id is not None  # a group's item: the query's condition
            cid = conversation_id
            if cid not in people:
                found = set(s.execute(select(Member.user_id).where(Member.conversation_id == cid)).scalars())
                found |= set(s.execute(select(MembershipLog.user_id).where(MembershipLog.conversation_id == cid)).scalars())
                people[cid] = found
            if uploader not in units:
                units[uploader] = s.execute(select(Unit.path).join(User, User.unit_id == Unit.id)
                                            .where(User.id == uploader)).scalar() or ""
            policy = rules.resolve(policies, "group", units[uploader])
            if not rules.expired(created, policy.files_days, now):
                continue
            if rules.held(holds, uploader, people[cid], cid, created) is not None:
                counts["held"] += 1
                continue
            doomed.append(item_id)
            counts["group_files"] += 1
            s.add(RetentionDestroyed(run_id=run_id, kind="group_file", ref_id=item_id, conversation_id=cid,
                                     created_at=created))
            if blob_key:
                doomed_paths.append(blob_dir / "drive" / blob_key[:2] / blob_key)
        if doomed and not dry_run:
            s.execute(delete(DriveReport).where(DriveReport.item_id.in_(doomed)))
            s.execute(delete(DriveItem).where(DriveItem.id.in_(doomed)))
        s.flush()


def list_runs(ctx: Ctx, limit: int = 50) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        return [{"id": r.id, "started_at": r.started_at.isoformat(),
                 "finished_at": r.finished_at.isoformat() if r.finished_at else None, "actor": r.actor,
                 "counts": r.counts} for r in s.execute(select(RetentionRun).order_by(RetentionRun.id.desc())
                                                        .limit(limit)).scalars()]
