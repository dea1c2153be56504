"""The review queue (审查制度, C4/D8/C7): messages held by DLP and messages employees reported.

Held messages are found from the messages table itself (dlp_action 'hold'), so the send path needs no
hook. Approving a held message delivers it to the other members through ``events.emit``; a violation is
recorded against the sender and repeated violations escalate (warning, notice to the unit head,
suspension of sending).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mixun.db.models import Message
from mixun.db.models_archive import ReviewItem, Violation
from mixun.db.models_dlp import DlpSanction
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.roles import Perm
from mixun.domain.sanctions import higher_level
from mixun.errors import MixunError
from mixun.services import audit, events
from mixun.services.attachments import read_for_officer, sees_pack_contents
from mixun.services.conversations import access_conversation, member_ids
from mixun.services.dlp import apply_sanction_txn
from mixun.services.message_views import archive_attachment_views, message_views
from mixun.services.runtime import Ctx
from mixun.storage import users as user_store

SLA = timedelta(hours=24)
DECISIONS = ("approve", "reject", "violation", "escalate")
RELEASED = "released"  # dlp_action of a held message after approval: delivered like any other


def escalation_level(count: int) -> str:
    """C7: first violation a warning, second a notice to the unit head, third and later a suspension."""
    return "warning" if count <= 1 else "unit_notice" if count == 2 else "suspension"


def _sync_holds(s: Session) -> None:
    known = select(ReviewItem.message_id).where(ReviewItem.kind == "dlp_hold")
    for m in s.execute(select(Message).where(Message.dlp_action == "hold", Message.id.not_in(known))).scalars():
        s.add(ReviewItem(kind="dlp_hold", message_id=m.id, conversation_id=m.conversation_id,
                         subject_id=m.sender_id, reason="DLP hold", created_at=m.created_at))
    s.flush()


def report_message(ctx: Ctx, message_id: int, reason: str) -> dict[str, Any]:
    """An employee's one-click "report this message" (members of its conversation only)."""
    with ctx.rt.db.write() as s:
        msg = s.get(Message, message_id)
        if msg is None:
            raise MixunError("not_found")
        _conv, member = access_conversation(s, ctx, msg.conversation_id)
        if msg.seq <= member.joined_seq:  # from before the reporter joined: as if it did not exist
            raise MixunError("not_found")
        item = ReviewItem(kind="report", message_id=msg.id, conversation_id=msg.conversation_id,
                          subject_id=msg.sender_id, reporter_id=ctx.user_id, reason=(reason or "")[:500])
        s.add(item)
        s.flush()
        audit.record(s, ctx, AuditAction.REVIEW_REPORTED, target=f"message:{msg.id}", item=item.id)
        return {"id": item.id, "status": item.status}


def sees_content(ctx: Ctx) -> bool:
    """三员分立: only compliance officers (who may search the archive) read the message under review.
    secadmin also holds Perm.REVIEW (it writes the DLP rules) but must never reach message content alone:
    it would otherwise add a "hold" rule for a common word and read everyone's messages in the queue."""
    return ctx.principal is not None and Perm.ARCHIVE_SEARCH in ctx.principal.perms


def _view(item: ReviewItem, msg: Message | None, names: dict[int, str], now: datetime,
          content: bool = True) -> dict[str, Any]:
    age = now - item.created_at
    return {"id": item.id, "kind": item.kind, "status": item.status, "message_id": item.message_id,
            "conversation_id": item.conversation_id,
            "subject": {"id": item.subject_id, "name": names.get(item.subject_id, "")},
            "reporter_id": item.reporter_id, "reason": item.reason,
            "text": (msg.text if msg else "") if content else "", "content_hidden": not content,
            # DLP findings are stored masked (detector and masked value), so they are metadata, not content.
            "dlp_findings": (msg.dlp_findings or []) if msg else [],
            "created_at": item.created_at.isoformat(), "age_seconds": int(age.total_seconds()),
            "sla_breached": item.status in ("open", "escalated") and age > SLA,
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
            "decided_by": item.decided_by, "decision_note": item.decision_note}


def list_queue(ctx: Ctx, status: str | None = "open", limit: int = 50, offset: int = 0) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        _sync_holds(s)
    now = datetime.now(UTC)
    content = sees_content(ctx)
    with ctx.rt.db.read() as s:
        stmt = select(ReviewItem).order_by(ReviewItem.created_at, ReviewItem.id)
        if status:
            stmt = stmt.where(ReviewItem.status == status)
        items = list(s.execute(stmt.offset(offset).limit(limit + 1)).scalars())
        more = len(items) > limit
        items = items[:limit]
        msgs = {m.id: m for m in s.execute(select(Message).where(
            Message.id.in_([i.message_id for i in items] or [-1]))).scalars()}
        atts = archive_attachment_views(s, list(msgs))
        if not sees_pack_contents(ctx):  # the files inside secure packs are for compliance only
            atts = {mid: [a for a in views if not a["archive_only"]] for mid, views in atts.items()}
        names = user_store.list_names(s, (i.subject_id for i in items))
        open_count = s.execute(select(func.count()).select_from(ReviewItem)
                               .where(ReviewItem.status == "open")).scalar_one()
        oldest = s.execute(select(func.min(ReviewItem.created_at)).where(ReviewItem.status == "open")).scalar()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return {"items": [dict(_view(i, msgs.get(i.message_id), names, now, content),
                           attachments=atts.get(i.message_id, []) if content else [])
                      for i in items],
            "next_offset": offset + limit if more else None, "open": open_count,
            "oldest_open_age_seconds": int((now - oldest).total_seconds()) if oldest else None,
            "sla_hours": int(SLA.total_seconds() // 3600)}


def item_attachment(ctx: Ctx, item_id: int, attachment_id: int) -> tuple[bytes, str, str]:
    """A file of the message under review (a held document, a reported file), for the reviewer."""
    if not sees_content(ctx):  # 三员分立: a file is content, for compliance officers only
        raise MixunError("review_content_hidden")
    with ctx.rt.db.read() as s:
        item = s.get(ReviewItem, item_id)
        if item is None or item.message_id is None:
            raise MixunError("not_found")
        message_id = item.message_id
    return read_for_officer(ctx, attachment_id, action=AuditAction.REVIEW_ATTACHMENT_VIEWED, message_id=message_id)


def decide(ctx: Ctx, item_id: int, decision: str, note: str = "") -> dict[str, Any]:
    if decision not in DECISIONS:
        raise MixunError("validation_failed", ("决定应为 approve、reject、violation 或 escalate", "The decision must be approve, reject, violation or escalate"), field="decision")
    with ctx.rt.db.write() as s:
        _sync_holds(s)
        item = s.get(ReviewItem, item_id, with_for_update=True)
        if item is None:
            raise MixunError("not_found")
        if item.status not in ("open", "escalated"):
            raise MixunError("review_already_decided")
        msg = s.get(Message, item.message_id)
        now = datetime.now(UTC)
        result: dict[str, Any] = {}
        if decision == "approve":
            if item.kind == "dlp_hold" and msg is not None and msg.dlp_action == "hold":
                _deliver(s, ctx, msg)
            item.status = "approved"
        elif decision == "reject":
            item.status = "rejected"
        elif decision == "escalate":
            item.status = "escalated"
        else:
            item.status = "violation"
            # The decision adds to what the person already has (DLP blocks and earlier decisions, kept in
            # their sanction record) and never lowers the level they already reached.
            sanction = s.get(DlpSanction, item.subject_id, with_for_update=True)
            recorded = s.execute(select(func.count()).select_from(Violation)
                                 .where(Violation.user_id == item.subject_id)).scalar_one()
            count = max(sanction.violations if sanction else 0, recorded) + 1
            level = higher_level(escalation_level(count), sanction.level if sanction else "none")
            s.add(Violation(user_id=item.subject_id, message_id=item.message_id, review_item_id=item.id,
                            note=note[:2000], level=level, recorded_by=ctx.user_id))
            apply_sanction_txn(s, ctx, item.subject_id, level, violations=count)
            result = {"violations": count, "level": level}
        item.decided_at, item.decided_by, item.decision_note = now, ctx.user_id, note[:2000]
        audit.record(s, ctx, AuditAction(f"review.{item.status}"), target=f"review:{item.id}", message_id=item.message_id,
                     subject_id=item.subject_id, **result)
        return {"id": item.id, "status": item.status, **result}


def _deliver(s: Session, ctx: Ctx, msg: Message) -> None:
    """Release a held message: the members now see it and receive it live."""
    s.execute(update(Message).where(Message.id == msg.id).values(dlp_action=RELEASED))
    s.refresh(msg)
    recipients = [uid for uid in member_ids(s, msg.conversation_id) if uid != msg.sender_id]
    view = message_views(s, ctx, [msg], None)[0]
    events.emit(s, ctx, recipients, EventType.MESSAGE_CREATED, {"conversation_id": msg.conversation_id, "message": view})


def violations_of(ctx: Ctx, user_id: int) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        return [{"id": v.id, "message_id": v.message_id, "level": v.level, "note": v.note,
                 "recorded_by": v.recorded_by, "created_at": v.created_at.isoformat()}
                for v in s.execute(select(Violation).where(Violation.user_id == user_id)
                                   .order_by(Violation.id)).scalars()]
