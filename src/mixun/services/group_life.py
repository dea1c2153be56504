"""Group life beyond membership: 群公告, 置顶 and 消息免打扰, the @所有人 setting, 解散群, and the
conversation's system lines (from the membership log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.errors import MixunError
from mixun.services import audit, events, texts
from mixun.services.conversations import (
    _changed,
    _log,
    _require_group_admin,
    _touch,
    access_conversation,
    member_ids,
    system_lines,
)
from mixun.services.runtime import Ctx
from mixun.storage import conversations as stored

MAX_NOTICE = 2000


def set_notice(ctx: Ctx, conversation_id: int, text: str) -> dict[str, Any]:
    """Owner or group admin publishes (or, with an empty text, takes down) the 群公告; every member
    sees it until they have opened this version once."""
    text = text.strip()
    if len(text) > MAX_NOTICE or "\x00" in text:
        raise MixunError("validation_failed", field="text", limit=MAX_NOTICE)
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        _require_group_admin(conv, me)
        now = datetime.now(UTC)
        conv.notice = texts.seal(ctx.rt, conv.id, now, text) if text else ""  # at rest under the month's key
        conv.notice_version = (conv.notice_version or 0) + 1
        conv.notice_by = ctx.user_id
        conv.notice_at = now
        me.notice_seen = conv.notice_version  # the author has read what they wrote
        _log(s, conv.id, ctx.user_id, "notice", ctx.user_id, "set" if text else "cleared")
        _touch(s, conv)
        s.flush()
        s.expire(conv, ["notice"])  # the views read it back opened, never the sealed value
        return _changed(s, ctx, conv, EventType.CONVERSATION_UPDATED, [])


def notice_seen(ctx: Ctx, conversation_id: int, version: int) -> dict[str, Any]:
    """The caller has opened the notice (this version): it is no longer shown to them unasked."""
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id)
        version = min(int(version), conv.notice_version or 0)
        if version > me.notice_seen:
            me.notice_seen = version
        return _prefs_changed(s, ctx, conv, me)


def set_prefs(ctx: Ctx, conversation_id: int, pinned: bool | None, muted: bool | None) -> dict[str, Any]:
    """置顶 and 消息免打扰: the caller's own, for one conversation (their other devices are told)."""
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id)
        if pinned is not None:
            me.pinned = pinned
        if muted is not None:
            me.muted = muted
        return _prefs_changed(s, ctx, conv, me)


def _prefs_changed(s: Session, ctx: Ctx, conv: Conversation, me: Member) -> dict[str, Any]:
    s.flush()
    prefs = {"conversation_id": conv.id, "pinned": bool(me.pinned), "muted": bool(me.muted),
             "notice_unread": bool(conv.notice and conv.notice_version and me.notice_seen < conv.notice_version)}
    events.emit(s, ctx, [ctx.user_id], EventType.CONVERSATION_PREFS, prefs)
    return prefs


def set_settings(ctx: Ctx, conversation_id: int, all_may_mention_all: bool) -> dict[str, Any]:
    """Group setting: whether every member (not only the owner and admins) may use @所有人."""
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        _require_group_admin(conv, me)
        conv.all_may_mention_all = all_may_mention_all
        _log(s, conv.id, ctx.user_id, "settings", ctx.user_id, f"mention_all:{'all' if all_may_mention_all else 'admins'}")
        _touch(s, conv)
        return _changed(s, ctx, conv, EventType.CONVERSATION_UPDATED, [])


def dissolve(ctx: Ctx, conversation_id: int) -> None:
    """解散群: the owner ends the group. Members lose it from their lists; its messages, files and
    membership log stay in the archive (nothing is deleted but the memberships)."""
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        if conv.kind != "group":
            raise MixunError("not_a_group")
        if me.role != "owner":
            raise MixunError("forbidden", ("只有群主可以解散群聊", "Only the group owner can dissolve the group"))
        former = member_ids(s, conv.id)
        conv.dissolved_at = datetime.now(UTC)
        _log(s, conv.id, ctx.user_id, "dissolved", ctx.user_id)
        for uid in former:
            _log(s, conv.id, uid, "removed", ctx.user_id, "dissolved")
        stored.delete_members(s, conv.id)
        _touch(s, conv)
        s.flush()
        lines = system_lines(s, s.info.pop("membership_log", [])[:1])
        audit.record(s, ctx, AuditAction.CONVERSATION_DISSOLVED, target=f"conversation:{conv.id}", members=len(former))
        events.emit(s, ctx, former, EventType.CONVERSATION_DISSOLVED, {"conversation_id": conv.id, "system": lines})


def system_log(ctx: Ctx, conversation_id: int, limit: int = 200) -> dict[str, Any]:
    """The conversation's system lines since the caller joined, oldest first."""
    with ctx.rt.db.read() as s:
        conv, me = access_conversation(s, ctx, conversation_id)
        if conv.kind != "group":
            return {"system": []}
        # From the caller's latest joining on (a creation's lines, written in the same transaction, included).
        since = stored.find_last_joined_log_id(s, conv.id, ctx.user_id) or 0
        if conv.created_by == ctx.user_id or since == 0:
            since = 0
        else:
            first = stored.find_first_log_id(s, conv.id) or 0
            # Those who came with the group's creation see its creation lines too.
            created = stored.find_last_log_id_until(s, conv.id, conv.created_at + timedelta(seconds=1)) or 0
            since = first if since <= created else since
        return {"system": system_lines(s, stored.list_log_since(s, conv.id, since, limit))}
