"""Reading, editing and recalling messages; read receipts. Sending is the send path's
(``mixun/sendpath/``: docs/subsystems/sending-messages.md); the views are ``message_views.py``'s and
the look-ups ``storage/messages.py``'s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mixun.db.models import Conversation, Member, Message, MessageVersion
from mixun.errors import MixunError
from mixun.sendpath import checks
from mixun.services import events, texts
from mixun.services.membership import access_conversation, member_ids
from mixun.services.message_views import archive_attachment_views as archive_attachment_views
from mixun.services.message_views import message_views
from mixun.services.runtime import Ctx
from mixun.storage import messages as message_store

MAX_PAGE = 200


def list_messages(ctx: Ctx, conversation_id: int, after_seq: int | None, before_seq: int | None,
                  limit: int) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        return page_views(s, ctx, conversation_id, after_seq, before_seq, limit)


def page_views(s: Session, ctx: Ctx, conversation_id: int, after_seq: int | None, before_seq: int | None,
               limit: int) -> list[dict[str, Any]]:
    """``list_messages`` in the caller's session ``s``."""
    limit = max(1, min(limit, MAX_PAGE))
    # The page and the caller's membership in one query (the busiest read: each statement costs the
    # serving process more than its rows do); an empty page is answered after the membership check,
    # so a non-member gets the 404 either way.
    rows = message_store.list_member_page(s, conversation_id, ctx.user_id, after_seq, before_seq, limit)
    if not rows:
        access_conversation(s, ctx, conversation_id)
        return []
    if any(r.dlp_action == "hold" for r in rows):
        rows = [r for r in rows if r.dlp_action != "hold" or r.sender_id == ctx.user_id]
    # The members' read positions and names in one query; a sender who has left is named apart.
    reads, names = message_store.list_members_reads_and_names(s, conversation_id)
    return message_views(s, ctx, rows, ctx.user_id, names=names, reads={conversation_id: reads})


def access_message(s: Session, ctx: Ctx, message_id: int) -> tuple[Message, Conversation, Member]:
    """A message the caller can see (a member of its conversation who joined before it was sent): the
    message, its conversation and the caller's membership; 404 alike for any other (nothing leaks)."""
    msg = message_store.get_message(s, message_id)
    conv, member = access_conversation(s, ctx, msg.conversation_id)
    if msg.seq <= member.joined_seq:
        raise MixunError("not_found")
    return msg, conv, member


def edit_message(ctx: Ctx, message_id: int, text: str, confirm: bool = False) -> dict[str, Any]:
    text = checks.check_text(ctx, text)
    with ctx.rt.db.read() as s:
        conv_id = access_message(s, ctx, message_id)[1].id
    target = f"message:{message_id}"
    outcome = checks.dlp_verdict(ctx, text, conv_id, confirm, target)
    with ctx.rt.db.write() as s:
        msg, conv, _member = access_message(s, ctx, message_id)
        if msg.sender_id != ctx.user_id:
            raise MixunError("forbidden", ("只能编辑自己发送的消息", "You can edit only messages you sent"))
        if msg.kind == "merged":  # a merged forward's text is its transcript: it is not edited
            raise MixunError("forbidden", ("合并转发的聊天记录不能编辑", "A forwarded chat record cannot be edited"))
        if msg.recalled_at is not None:
            raise MixunError("message_recalled")
        now = datetime.now(UTC)
        if now - msg.created_at > timedelta(minutes=ctx.rt.settings.edit_window_minutes):
            raise MixunError("edit_window_passed")
        checks.record_dlp(s, ctx, outcome, target)
        stored = texts.seal(ctx.rt, conv.id, msg.created_at, outcome.deliver_text)
        msg.text = stored
        msg.edited_at = now
        msg.version += 1
        msg.mentions = checks.mentions(s, conv.id, outcome.deliver_text, ctx.user_id)
        if outcome.action != "allow":
            msg.dlp_action = outcome.action
            msg.dlp_findings = texts.seal_findings(ctx.rt, conv.id, msg.created_at, outcome.findings)  # type: ignore[assignment]
        s.add(MessageVersion(message_id=msg.id, conversation_id=conv.id, version=msg.version, kind="edited",
                             sender_id=msg.sender_id, actor_id=ctx.user_id, text=texts.seal(ctx.rt, conv.id, now, outcome.deliver_text),
                             original_enc=outcome.original_enc, created_at=now))
        s.flush()
        set_committed_value(msg, "text", outcome.deliver_text)  # the views show it; the row holds it sealed
        if outcome.action != "allow":
            set_committed_value(msg, "dlp_findings", outcome.findings or None)
        view = message_views(s, ctx, [msg], None)[0]
        events.emit(s, ctx, member_ids(s, conv.id), "message.edited", {"conversation_id": conv.id, "message": view})
        return message_views(s, ctx, [msg], ctx.user_id)[0]


def recall_message(ctx: Ctx, message_id: int) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        msg, conv, member = access_message(s, ctx, message_id)
        if msg.recalled_at is not None:
            raise MixunError("message_recalled")
        now = datetime.now(UTC)
        group_admin = conv.kind == "group" and member.role in ("owner", "admin")
        if msg.sender_id == ctx.user_id:
            if now - msg.created_at > timedelta(minutes=ctx.rt.settings.recall_window_minutes) and not group_admin:
                raise MixunError("recall_window_passed")
        elif not group_admin:
            raise MixunError("forbidden", ("只能撤回自己发送的消息", "You can recall only messages you sent"))
        msg.recalled_at = now
        msg.recalled_by = ctx.user_id
        msg.version += 1
        s.add(MessageVersion(message_id=msg.id, conversation_id=conv.id, version=msg.version, kind="recalled",
                             sender_id=msg.sender_id, actor_id=ctx.user_id, text="", created_at=now))
        s.flush()
        view = message_views(s, ctx, [msg], None)[0]
        events.emit(s, ctx, member_ids(s, conv.id), "message.recalled",
                    {"conversation_id": conv.id, "message": view, "recalled_by": ctx.user_id})
        return view


def mark_read(ctx: Ctx, conversation_id: int, seq: int) -> None:
    """Advance the caller's read position; tell the caller's devices and the senders whose counts changed.

    Each mark that advances is committed before the answer (it is not coalesced in memory): another
    serving process answers the caller's next conversation list, and the senders' read receipts are
    events written in the same transaction. A mark that would not advance (a client marking what it
    has marked already, on every focus or page view) is answered after one read, without taking a
    write transaction (SQLite's single writer, a commit)."""
    with ctx.rt.db.quick_read() as s:
        conv, member = access_conversation(s, ctx, conversation_id)
        seq = min(int(seq), conv.last_seq)  # a conversation's end only moves on: still a valid bound
        old = member.read_seq
        if seq <= old:
            return
    # The write is the guarded UPDATE alone (the membership is not read again): it moves the mark only
    # forward and finds no row for someone who left meanwhile. Should another mark have moved it
    # since the read above, the receipts may also name senders that mark told already (the same news).
    with ctx.rt.db.write() as s:
        moved = s.execute(update(Member).where(Member.conversation_id == conv.id, Member.user_id == ctx.user_id,
                                               Member.read_seq < seq).values(read_seq=seq, read_at=datetime.now(UTC)))
        if not moved.rowcount:  # type: ignore[attr-defined]
            return
        _emit_read(s, ctx, conv.id, old, seq)


def _emit_read(s: Session, ctx: Ctx, conv_id: int, old: int, seq: int) -> None:
    """conversation.read to the senders whose messages in (old, seq] are now read (and the reader's devices)."""
    senders = message_store.list_senders_between(s, conv_id, old, seq, excluding=ctx.user_id)
    senders.add(ctx.user_id)
    if senders:
        events.emit(s, ctx, senders, "conversation.read",
                    {"conversation_id": conv_id, "user_id": ctx.user_id, "seq": seq})


def receipts(ctx: Ctx, message_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        msg, conv, member = access_message(s, ctx, message_id)
        if msg.sender_id != ctx.user_id and member.role not in ("owner", "admin"):
            raise MixunError("forbidden", ("只有发送者可以查看回执", "Only the sender can see read receipts"))
        rows = message_store.list_receipt_rows(s, conv.id, msg.sender_id)
        read = [{"user_id": uid, "name": nm, "read_at": ra.isoformat() if ra else None}
                for uid, nm, _ph, rs, ra in rows if rs >= msg.seq]
        unread = [{"user_id": uid, "name": nm} for uid, nm, _ph, rs, _ra in rows if rs < msg.seq]
        out: dict[str, Any] = {"message_id": msg.id, "read": read, "unread": unread}
        if msg.urgent:
            out["urgent_phones"] = [{"user_id": uid, "name": nm, "phone": ph, "read": rs >= msg.seq}
                                    for uid, nm, ph, rs, _ra in rows]
        return out
