"""Message actions beside sending: forward (one by one, or merged as one 合并转发 message), reactions
(an emoji or a quick 收到), and the items of a merged forward. Kept apart from the send path: a forward
is sent through it (same permission and DLP checks as a send), never the other way round."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mixun.db.models import Attachment, Bundle, Message, Reaction, User
from mixun.domain.events import EventType
from mixun.errors import MixunError
from mixun.sendpath import batch, checks
from mixun.sendpath.request import SendRequest
from mixun.services import attachments, events, messages, texts
from mixun.services.conversations import access_conversation, member_ids
from mixun.services.runtime import Ctx
from mixun.storage import messages as message_store
from mixun.storage import users as user_store

REACTIONS = ("👍", "收到", "❤️", "😄", "🙏", "👌", "🎉", "OK")
MAX_FORWARD = 100
KIND_MERGED = "merged"


# ---- forwarding ---------------------------------------------------------------------------------------

def _sources(s: Session, ctx: Ctx, message_ids: list[int]) -> list[tuple[Message, list[Attachment], str]]:
    """The messages to forward, each as the forwarder may read it: a member who joined before it was
    sent, not recalled, not held for review, files past their virus scan. (message, files, sender name)."""
    out = []
    for mid in dict.fromkeys(message_ids):
        msg, _conv, _member = messages.access_message(s, ctx, mid)
        if msg.recalled_at is not None or msg.dlp_action == "hold":
            raise MixunError("forward_not_allowed", message_id=mid)
        atts = message_store.list_attachments(s, [msg.id])
        for a in atts:
            if a.scan_status not in attachments.DOWNLOADABLE:
                raise MixunError("forward_not_allowed", message_id=mid)
        out.append((msg, atts, ""))
    names = user_store.list_names(s, (m.sender_id for m, _a, _n in out))
    out = [(m, a, names.get(m.sender_id, "")) for m, a, _n in out]
    out.sort(key=lambda t: (t[0].conversation_id, t[0].seq))
    return out


def _label(msg: Message, atts: list[Attachment]) -> str:
    if msg.kind == "image":
        return "[图片]"
    if atts:
        return "".join(f"[文件] {a.filename}" for a in atts)
    return msg.text


def forward(ctx: Ctx, message_ids: list[int], conversation_id: int, merged: bool, confirm: bool = False
            ) -> dict[str, Any]:
    """Forward messages into a conversation the caller is in. Texts are sent as new messages through the
    send path (the target's DLP channel applies); files are read (download rules), checked by DLP
    for the target and stored again as the forwarder's upload, so the copy has its own retention."""
    if not message_ids or len(message_ids) > MAX_FORWARD:
        raise MixunError("validation_failed", field="message_ids", limit=MAX_FORWARD)
    with ctx.rt.db.read() as s:
        access_conversation(s, ctx, conversation_id)
        sources = _sources(s, ctx, message_ids)
        for _m, atts, _n in sources:
            for a in atts:
                s.expunge(a)
        bundles = {b.message_id: b.items for b in s.execute(select(Bundle).where(
            Bundle.message_id.in_([m.id for m, _a, _n in sources if m.kind == KIND_MERGED]))).scalars()}
    # One forward is one act against the send rate (not one per message, which could stop it halfway).
    checks.take_send_token(ctx)
    if merged:
        return {"messages": [_forward_merged(ctx, sources, bundles, conversation_id, confirm)]}
    sent = []
    for msg, atts, _name in sources:
        if msg.kind == KIND_MERGED:
            sent.append(_send_bundle(ctx, conversation_id, msg.text, bundles.get(msg.id, []), confirm))
        elif atts:
            for a in atts:
                data, _mime, name = attachments.read_attachment(ctx, a.id, thumbnail=False)
                if a.kind == "image":
                    sent.append(attachments.send_image(ctx, conversation_id, data, name, None))
                else:
                    sent.append(attachments.send_file(ctx, conversation_id, data, name, None, confirm))
        else:
            request = SendRequest(ctx, conversation_id, msg.text, confirm=confirm, rate_checked=True)
            sent.append(batch.send(request).unwrap()[0])
    return {"messages": sent}


def _forward_merged(ctx: Ctx, sources: list[tuple[Message, list[Attachment], str]],
                    bundles: dict[int, list[dict[str, Any]]], conversation_id: int, confirm: bool) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for msg, atts, name in sources:
        text = _label(msg, atts)
        # Each item is checked on its own for the target (a masked item is kept masked in the bundle).
        outcome = checks.dlp_verdict(ctx, text, conversation_id, confirm, f"conversation:{conversation_id}") if text else None
        items.append({"sender": {"id": msg.sender_id, "name": name}, "kind": msg.kind,
                      "text": outcome.deliver_text if outcome else text,
                      "created_at": msg.created_at.isoformat(),
                      "items": bundles.get(msg.id) if msg.kind == KIND_MERGED else None})
    people = list(dict.fromkeys(i["sender"]["name"] for i in items))
    title = "、".join(people[:3]) + ("等" if len(people) > 3 else "") + "的聊天记录"
    return _send_bundle(ctx, conversation_id, title, items, confirm)


def _send_bundle(ctx: Ctx, conversation_id: int, title: str, items: list[dict[str, Any]], confirm: bool
                 ) -> dict[str, Any]:
    # The message's text is a plain transcript: the archive, search and DLP see everything in it.
    lines = [title] + [f"{i['sender']['name']}：{i['text']}" for i in items]
    text = "\n".join(lines)[: ctx.rt.settings.max_message_length]
    view, _created = batch.send(SendRequest(ctx, conversation_id, text, confirm=confirm, kind=KIND_MERGED,
                                            rate_checked=True)).unwrap()
    with ctx.rt.db.write() as s:
        stored = texts.seal(ctx.rt, conversation_id, datetime.now(UTC), json.dumps(items, ensure_ascii=False))
        s.add(Bundle(message_id=view["id"], items=stored))
    view["bundle_title"] = title
    return view


def bundle(ctx: Ctx, message_id: int) -> dict[str, Any]:
    """The forwarded messages a merged forward shows when opened (same visibility as the message)."""
    with ctx.rt.db.read() as s:
        msg, _conv, _member = messages.access_message(s, ctx, message_id)
        if msg.kind != KIND_MERGED or msg.recalled_at is not None or (
                msg.dlp_action == "hold" and msg.sender_id != ctx.user_id):
            raise MixunError("not_found")
        row = s.get(Bundle, msg.id)
        title = msg.text.split("\n", 1)[0]
        return {"message_id": msg.id, "title": title, "items": row.items if row else []}


# ---- reactions ------------------------------------------------------------------------------------------

def react(ctx: Ctx, message_id: int, emoji: str, on: bool) -> dict[str, Any]:
    """Add or take back the caller's reaction; every member sees the new counts."""
    if emoji not in REACTIONS:
        raise MixunError("validation_failed", field="emoji", allowed=list(REACTIONS))
    with ctx.rt.db.write() as s:
        msg, conv, _member = messages.access_message(s, ctx, message_id)
        if msg.recalled_at is not None:
            raise MixunError("message_recalled")
        if msg.dlp_action == "hold" and msg.sender_id != ctx.user_id:
            raise MixunError("not_found")
        exists = s.get(Reaction, (msg.id, ctx.user_id, emoji))
        if on and exists is None:
            s.add(Reaction(message_id=msg.id, user_id=ctx.user_id, emoji=emoji, created_at=datetime.now(UTC)))
        elif not on and exists is not None:
            s.execute(delete(Reaction).where(Reaction.message_id == msg.id, Reaction.user_id == ctx.user_id,
                                             Reaction.emoji == emoji))
        s.flush()
        found = _reactions(s, [msg.id]).get(msg.id, [])
        events.emit(s, ctx, member_ids(s, conv.id), EventType.MESSAGE_REACTIONS,
                    {"conversation_id": conv.id, "message_id": msg.id, "reactions": found})
        return {"message_id": msg.id, "reactions": found}


def _reactions(s: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = s.execute(select(Reaction.message_id, Reaction.emoji, Reaction.user_id, User.name)
                     .join(User, User.id == Reaction.user_id).where(Reaction.message_id.in_(ids))
                     .order_by(Reaction.created_at, Reaction.user_id)).all()
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for mid, emoji, uid, name in rows:
        r = out.setdefault(mid, {}).setdefault(emoji, {"emoji": emoji, "users": []})
        r["users"].append({"id": uid, "name": name})
    return {mid: list(by.values()) for mid, by in out.items()}


def history_page(ctx: Ctx, conversation_id: int, after_seq: int | None, before_seq: int | None,
                 limit: int) -> list[dict[str, Any]]:
    """A history page as ``messages.list_messages`` gives it, with its reactions: one read for both
    (the busiest read of all; round trips are most of its cost)."""
    with ctx.rt.db.quick_read() as s:
        return with_reactions(ctx, messages.page_views(s, ctx, conversation_id, after_seq, before_seq, limit), s)


def with_reactions(ctx: Ctx, views: list[dict[str, Any]], s: Session | None = None) -> list[dict[str, Any]]:
    """History views with their reactions (one query for the page; sends never pay for it), read in
    session ``s`` when given (the history page's own), else in a read of its own."""
    ids = [v["id"] for v in views]
    if not ids:
        return views
    if s is not None:
        found = _reactions(s, ids)
    else:
        with ctx.rt.db.read() as own:
            found = _reactions(own, ids)
    for v in views:
        if v["id"] in found and not v.get("recalled"):
            v["reactions"] = found[v["id"]]
    return views
