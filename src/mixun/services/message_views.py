"""The views of messages as a member, the sender or the archive sees them: one builder for stored
messages (``message_views``), their attachments, and a sender's message found by its client_id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mixun.db.models import Attachment, Message
from mixun.db.sealed import Unreadable
from mixun.services.membership import access_conversation
from mixun.services.runtime import Ctx
from mixun.storage import messages as message_store
from mixun.storage import users as user_store
from mixun.storage.messages import ARCHIVE_ONLY


def attachment_views(s: Session, message_ids: list[int], archive: bool = False) -> dict[int, list[dict[str, Any]]]:
    """Attachments by message. Members see what was sent; ``archive`` (compliance and review) adds the
    files kept inside secure packs, marked ``archive_only``."""
    atts: dict[int, list[dict[str, Any]]] = {}
    for a in message_store.list_attachments(s, message_ids, archive=archive):
        atts.setdefault(a.message_id or 0, []).append(attachment_view(a, archive))
    return atts


def attachment_view(a: Attachment, archive: bool = False) -> dict[str, Any]:
    """One attachment of a message (the shape api/models.py ``Attachment`` states)."""
    view: dict[str, Any] = {"id": a.id, "kind": a.kind, "mime": a.mime, "size": a.size, "width": a.width,
                            "height": a.height, "filename": a.filename, "scan_status": a.scan_status}
    if archive:
        view["archive_only"] = a.kind == ARCHIVE_ONLY
        view["sha256"] = a.sha256
    return view


def message_view(id_: int, conversation_id: int, seq: int, sender_id: int, sender_name: str, kind: str,
                 text: str, created_at: datetime, edited_at: datetime | None, recalled: bool, urgent: bool,
                 reply_to: int | None, mentions: list[int], attachments: list[dict[str, Any]], read_count: int,
                 recipient_count: int) -> dict[str, Any]:
    """The one builder of a message's view (api/models.py ``Message`` states its shape): history, the
    send path's answer and events, edits and recalls all start here; the callers add the viewer's parts
    (``client_id``, ``dlp``, ``urgent_recipients``) and history its ``reactions``."""
    return {
        "id": id_, "conversation_id": conversation_id, "seq": seq, "sender": {"id": sender_id, "name": sender_name},
        "kind": kind, "text": text, "created_at": created_at.isoformat(), "edited": edited_at is not None,
        "edited_at": edited_at.isoformat() if edited_at else None, "recalled": recalled, "urgent": urgent,
        "reply_to": reply_to, "mentions": mentions, "attachments": attachments, "read_count": read_count,
        "recipient_count": recipient_count,
    }


def archive_attachment_views(s: Session, message_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return attachment_views(s, message_ids, archive=True) if message_ids else {}


def message_views(s: Session, ctx: Ctx, msgs: list[Message], viewer: int | None, *,
                  names: dict[int, str] | None = None,
                  reads: dict[int, list[tuple[int, int]]] | None = None) -> list[dict[str, Any]]:
    """Public views; ``viewer`` adds read state and, for an urgent sender, the recipients' phones.
    ``names`` (of at least the senders who are members) and ``reads`` (the read positions of every
    conversation of ``msgs``) when the caller read them already."""
    if not msgs:
        return []
    senders = {m.sender_id for m in msgs}
    if names is None:
        names = user_store.list_names(s, senders)
    elif not senders <= names.keys():
        names = {**names, **user_store.list_names(s, senders - names.keys())}
    if reads is None:
        reads = message_store.list_read_positions(s, {m.conversation_id for m in msgs})
    ids_with_atts = [m.id for m in msgs if m.kind != "text"]
    atts = attachment_views(s, ids_with_atts) if ids_with_atts else {}
    out = []
    for m in msgs:
        others = [(uid, rs) for uid, rs in reads.get(m.conversation_id, []) if uid != m.sender_id]
        read_count = sum(1 for _, rs in others if rs >= m.seq) if viewer is not None else 0
        recalled = m.recalled_at is not None
        view = message_view(m.id, m.conversation_id, m.seq, m.sender_id, names.get(m.sender_id, ""), m.kind,
                            "" if recalled else m.text, m.created_at, m.edited_at, recalled, m.urgent,
                            m.reply_to_id, list(m.mentions or []), [] if recalled else atts.get(m.id, []),
                            read_count, len(others))
        view["client_id"] = m.client_id if viewer == m.sender_id else None
        if isinstance(m.text, Unreadable):  # its data key was destroyed (retention's crypto-shredding)
            view["content_destroyed"] = True
        if m.dlp_action and viewer == m.sender_id:
            view["dlp"] = {"action": m.dlp_action, "findings": m.dlp_findings or []}
        elif m.dlp_action == "mask":
            view["dlp"] = {"action": "mask"}
        if viewer == m.sender_id and m.urgent:
            ids = [uid for uid, _ in others]
            people = user_store.list_names(s, ids)
            phones = message_store.list_phones(s, ids)
            view["urgent_recipients"] = [{"id": uid, "name": people.get(uid, ""), "phone": phones.get(uid),
                                          "read": rs >= m.seq} for uid, rs in others]
        out.append(view)
    return out


def find_sent_view(s: Session, ctx: Ctx, client_id: str) -> dict[str, Any] | None:
    """The caller's view of the message they sent with ``client_id`` (a resend is answered with it), if
    there is one; 404 when they are no longer a member of its conversation."""
    existing = message_store.find_by_client_id(s, ctx.user_id, client_id)
    if existing is None:
        return None
    access_conversation(s, ctx, existing.conversation_id)
    return message_views(s, ctx, [existing], ctx.user_id)[0]
