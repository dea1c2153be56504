"""Conversations and their members: direct (one per pair) and group, with owners and admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member, MembershipLog, Message, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.roles import is_administrator
from mixun.errors import MixunError
from mixun.services import audit, events, functions
from mixun.services.membership import access_conversation as access_conversation
from mixun.services.membership import contacts_of as contacts_of
from mixun.services.membership import member_ids as member_ids
from mixun.services.message_views import message_views
from mixun.services.runtime import Ctx
from mixun.storage import conversations as conversation_store
from mixun.storage import users as user_store

MAX_GROUP_MEMBERS = 2000


def _check_users(s: Session, ids: list[int]) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        return ids
    found = {i for i, roles in user_store.list_enabled_roles(s, ids).items()
             if not is_administrator(roles)}  # administrators are not chat partners
    missing = [i for i in ids if i not in found]
    if missing:
        raise MixunError("invalid_members", ("成员不存在或已停用", "A member does not exist or has been disabled"), user_ids=missing)
    return ids


def _log(s: Session, conv_id: int, user_id: int, action: str, actor: int, detail: str = "") -> None:
    # The rows of this transaction go out with its event, as the conversation's system lines (系统消息).
    # They are one act and share its time exactly: the client merges "邀请张三、李四" on that, never two acts.
    pending = s.info.setdefault("membership_log", [])
    at = pending[0].created_at if pending else datetime.now(UTC)
    row = MembershipLog(conversation_id=conv_id, user_id=user_id, action=action, actor_id=actor, detail=detail,
                        created_at=at)
    s.add(row)
    pending.append(row)


def system_lines(s: Session, rows: list[MembershipLog]) -> list[dict[str, Any]]:
    """Membership log rows as the system lines members see ("王五邀请张三加入了群聊"), with names."""
    ids = {r.user_id for r in rows} | {r.actor_id for r in rows}
    names = user_store.list_names(s, ids)
    return [{"id": r.id, "conversation_id": r.conversation_id, "action": r.action, "detail": r.detail,
             "user": {"id": r.user_id, "name": names.get(r.user_id, "")},
             "actor": {"id": r.actor_id, "name": names.get(r.actor_id, "")},
             "at": r.created_at.isoformat()} for r in rows]


def _take_log(s: Session) -> list[dict[str, Any]]:
    rows = s.info.pop("membership_log", [])
    if not rows:
        return []
    s.flush()
    return system_lines(s, rows)


def create_conversation(ctx: Ctx, kind: str, members: list[int], name: str | None) -> dict[str, Any]:
    me = ctx.user_id
    if kind == "direct":
        others = [m for m in dict.fromkeys(members) if m != me]
        if len(others) != 1 or len(members) != 1:
            raise MixunError("invalid_members", ("单聊必须且只能指定一位对方成员", "A direct conversation needs exactly one other member"))
        other = others[0]
        key = f"{min(me, other)}:{max(me, other)}"
        with ctx.rt.db.read() as s:
            existing = conversation_store.find_direct_id(s, key)
        if existing is None:
            try:
                with ctx.rt.db.write() as s:
                    _check_users(s, [other])
                    functions.check_direct_in(s, ctx, other)
                    conv = Conversation(kind="direct", name="", direct_key=key, created_by=me)
                    s.add(conv)
                    s.flush()
                    for uid in (me, other):
                        s.add(Member(conversation_id=conv.id, user_id=uid, role="member"))
                        _log(s, conv.id, uid, "joined", me)
                    s.flush()
                    view = conversation_view(s, ctx, conv, me)
                    events.emit(s, ctx, [me, other], EventType.CONVERSATION_CREATED,
                                {"conversation": public_view(view)})
                    return {**view, "created": True}
            except IntegrityError:  # the same pair created it concurrently
                pass
        with ctx.rt.db.read() as s:
            conv_id = conversation_store.find_direct_id(s, key)
            assert conv_id is not None
            found = conversation_store.get_conversation(s, conv_id)
            return {**conversation_view(s, ctx, found, me), "created": False}
    if kind != "group":
        raise MixunError("validation_failed", ("kind 只能是 direct 或 group", "kind must be direct or group"), field="kind")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise MixunError("validation_failed", ("群名称为 1–100 个字符", "A group name must be 1–100 characters"), field="name")
    with ctx.rt.db.write() as s:
        ids = _check_users(s, [m for m in members if m != me])
        if len(ids) + 1 > MAX_GROUP_MEMBERS:
            raise MixunError("group_too_large")
        functions.check_members_in(s, ctx, ids, len(ids) + 1, creating=True)
        conv = Conversation(kind="group", name=name, created_by=me)
        s.add(conv)
        s.flush()
        s.add(Member(conversation_id=conv.id, user_id=me, role="owner"))
        _log(s, conv.id, me, "joined", me, "owner")
        for uid in ids:
            s.add(Member(conversation_id=conv.id, user_id=uid, role="member"))
            _log(s, conv.id, uid, "joined", me)
        s.flush()
        view = conversation_view(s, ctx, conv, me)
        events.emit(s, ctx, [me, *ids], EventType.CONVERSATION_CREATED, {"conversation": public_view(view),
                                                                 "system": _take_log(s)})
        return {**view, "created": True}


def public_view(view: dict[str, Any]) -> dict[str, Any]:
    """The parts of a conversation view that are the same for every member."""
    return {k: view[k] for k in ("id", "kind", "name", "members", "last_seq", "created_at", "updated_at",
                                 "notice", "all_may_mention_all")}


def conversation_view(s: Session, ctx: Ctx, conv: Conversation, viewer: int,
                      member_rows: list[tuple[int, str, str]] | None = None) -> dict[str, Any]:
    if member_rows is None:
        member_rows = conversation_store.list_member_rows(s, [conv.id]).get(conv.id, [])
    members: list[dict[str, Any]] = [{"id": uid, "name": nm, "role": role} for uid, nm, role in member_rows]
    my_role = next((m["role"] for m in members if m["id"] == viewer), None)
    name = conv.name
    if conv.kind == "direct":
        other = next((m for m in members if m["id"] != viewer), None)
        name = other["name"] if other else conv.name
    notice = None
    if conv.notice_version and conv.notice:
        by = next((m["name"] for m in members if m["id"] == conv.notice_by), "")
        notice = {"text": conv.notice, "version": conv.notice_version, "by": {"id": conv.notice_by, "name": by},
                  "at": conv.notice_at.isoformat() if conv.notice_at else None}
    return {"id": conv.id, "kind": conv.kind, "name": name, "members": members, "my_role": my_role,
            "last_seq": conv.last_seq, "created_at": conv.created_at.isoformat(),
            "updated_at": conv.updated_at.isoformat(), "classification": conv.classification,
            "notice": notice, "all_may_mention_all": bool(conv.all_may_mention_all)}


def personal(view: dict[str, Any], conv: Conversation, member: Member) -> dict[str, Any]:
    """The member's own settings for a conversation: 置顶, 消息免打扰, and whether the notice is unread."""
    view.update({"pinned": bool(member.pinned), "muted": bool(member.muted),
                 "notice_unread": bool(conv.notice_version and conv.notice and member.notice_seen < conv.notice_version)})
    return view


def list_conversations(ctx: Ctx, limit: int = 200) -> dict[str, Any]:
    me = ctx.user_id
    with ctx.rt.db.quick_read() as s:
        rows = s.execute(select(Conversation, Member).join(Member, Member.conversation_id == Conversation.id)
                         .where(Member.user_id == me).order_by(Conversation.updated_at.desc())
                         .limit(limit)).all()
        if not rows:
            return {"conversations": []}
        conv_ids = [c.id for c, _ in rows]
        mrows = conversation_store.list_member_rows(s, conv_ids)
        unread: dict[int, list[int]] = {cid: [0, 0, 0] for cid in conv_ids}
        read_of = {c.id: m.read_seq for c, m in rows}
        for cid, mentions, urgent in s.execute(
                select(Message.conversation_id, Message.mentions, Message.urgent)
                .join(Member, (Member.conversation_id == Message.conversation_id) & (Member.user_id == me))
                .where(Message.conversation_id.in_(conv_ids), Message.seq > Member.read_seq,
                       Message.sender_id != me, Message.recalled_at.is_(None)).limit(20000)).all():
            u = unread[cid]
            u[0] += 1
            if mentions and me in mentions:
                u[1] += 1
            if urgent:
                u[2] += 1
        pairs = [(c.id, c.last_seq) for c, _ in rows if c.last_seq > 0]
        lasts: dict[int, dict[str, Any]] = {}
        if pairs:
            msgs = s.execute(select(Message).where(tuple_(Message.conversation_id, Message.seq).in_(pairs))
                             ).scalars().all()
            for view in message_views(s, ctx, list(msgs), me):
                lasts[view["conversation_id"]] = view
        out = []
        for conv, member in rows:
            view = personal(conversation_view(s, ctx, conv, me, mrows.get(conv.id, [])), conv, member)
            u = unread[conv.id]
            view.update({"unread_count": u[0], "mention_count": u[1], "urgent_unread": u[2],
                         "read_seq": read_of[conv.id], "last_message": lasts.get(conv.id)})
            out.append(view)
        return {"conversations": out}


def get_conversation(ctx: Ctx, conversation_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        conv, member = access_conversation(s, ctx, conversation_id)
        view = personal(conversation_view(s, ctx, conv, ctx.user_id), conv, member)
        view["read_seq"] = member.read_seq
        return view


def _require_group_admin(conv: Conversation, member: Member) -> None:
    if conv.kind != "group":
        raise MixunError("not_a_group")
    if member.role not in ("owner", "admin"):
        raise MixunError("forbidden", ("只有群主或群管理员可以执行此操作", "Only the group owner or an admin can do this"))


def _touch(s: Session, conv: Conversation) -> None:
    conv.updated_at = datetime.now(UTC)


def _changed(s: Session, ctx: Ctx, conv: Conversation, type_: str, extra_recipients: list[int],
             **body: Any) -> dict[str, Any]:
    s.flush()
    view = conversation_view(s, ctx, conv, ctx.user_id)
    recipients = member_ids(s, conv.id) + extra_recipients
    events.emit(s, ctx, recipients, type_, {"conversation": public_view(view), **body, "system": _take_log(s)})
    return view


def rename(ctx: Ctx, conversation_id: int, name: str) -> dict[str, Any]:
    name = name.strip()
    if not name or len(name) > 100:
        raise MixunError("validation_failed", ("群名称为 1–100 个字符", "A group name must be 1–100 characters"), field="name")
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        _require_group_admin(conv, me)
        old = conv.name
        conv.name = name
        _touch(s, conv)
        _log(s, conv.id, ctx.user_id, "renamed", ctx.user_id, f"{old} -> {name}"[:200])
        return _changed(s, ctx, conv, EventType.CONVERSATION_UPDATED, [])


def add_members(ctx: Ctx, conversation_id: int, user_ids: list[int]) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        _require_group_admin(conv, me)
        ids = _check_users(s, user_ids)
        present = set(member_ids(s, conv.id))
        new = [i for i in ids if i not in present]
        if len(present) + len(new) > MAX_GROUP_MEMBERS:
            raise MixunError("group_too_large")
        functions.check_members_in(s, ctx, new, len(present) + len(new), creating=False)
        for uid in new:
            s.add(Member(conversation_id=conv.id, user_id=uid, role="member", joined_seq=conv.last_seq,
                         read_seq=conv.last_seq))
            _log(s, conv.id, uid, "joined", ctx.user_id)
        _touch(s, conv)
        return _changed(s, ctx, conv, EventType.CONVERSATION_MEMBER_ADDED, [], user_ids=new)


def remove_member(ctx: Ctx, conversation_id: int, user_id: int) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        _require_group_admin(conv, me)
        target = conversation_store.find_member(s, conv.id, user_id)
        if target is None:
            raise MixunError("not_found")
        if target.role == "owner" or (target.role == "admin" and me.role != "owner"):
            raise MixunError("forbidden", ("不能移除群主或其他管理员", "The owner and other admins cannot be removed"))
        s.delete(target)
        _log(s, conv.id, user_id, "removed", ctx.user_id)
        _touch(s, conv)
        return _changed(s, ctx, conv, EventType.CONVERSATION_MEMBER_REMOVED, [user_id], user_ids=[user_id])


def leave(ctx: Ctx, conversation_id: int) -> None:
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        if conv.kind != "group":
            raise MixunError("not_a_group")
        if me.role == "owner" and len(member_ids(s, conv.id)) > 1:
            raise MixunError("owner_must_transfer")
        s.execute(delete(Member).where(Member.conversation_id == conv.id, Member.user_id == ctx.user_id))
        _log(s, conv.id, ctx.user_id, "left", ctx.user_id)
        _touch(s, conv)
        _changed(s, ctx, conv, EventType.CONVERSATION_MEMBER_REMOVED, [ctx.user_id], user_ids=[ctx.user_id])


def transfer_owner(ctx: Ctx, conversation_id: int, user_id: int) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        if conv.kind != "group":
            raise MixunError("not_a_group")
        if me.role != "owner":
            raise MixunError("forbidden", ("只有群主可以转让群主", "Only the owner can transfer ownership"))
        target = conversation_store.find_member(s, conv.id, user_id)
        if target is None or user_id == ctx.user_id:
            raise MixunError("invalid_members", ("新群主必须是本群其他成员", "The new owner must be another member of the group"))
        me.role = "admin"
        target.role = "owner"
        _log(s, conv.id, user_id, "role_changed", ctx.user_id, "owner")
        _log(s, conv.id, ctx.user_id, "role_changed", ctx.user_id, "admin")
        _touch(s, conv)
        return _changed(s, ctx, conv, EventType.CONVERSATION_UPDATED, [])


def set_admin(ctx: Ctx, conversation_id: int, user_id: int, admin: bool) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        conv, me = access_conversation(s, ctx, conversation_id, lock=True)
        if conv.kind != "group":
            raise MixunError("not_a_group")
        if me.role != "owner":
            raise MixunError("forbidden", ("只有群主可以设置管理员", "Only the owner can appoint admins"))
        target = conversation_store.find_member(s, conv.id, user_id)
        if target is None or target.role == "owner":
            raise MixunError("invalid_members")
        target.role = "admin" if admin else "member"
        _log(s, conv.id, user_id, "role_changed", ctx.user_id, target.role)
        _touch(s, conv)
        return _changed(s, ctx, conv, EventType.CONVERSATION_UPDATED, [])


def remove_from_all_groups_txn(s: Session, ctx: Ctx, user_id: int) -> int:
    """For departures: the person leaves every group (ownership passes to the longest-standing admin, else
    to a member who heads the departing person's unit, else to the longest-standing member)."""
    convs = conversation_store.list_groups_of(s, user_id)
    leaving = s.get(User, user_id)
    heads = [uid for uid, roles in s.execute(select(User.id, User.roles).where(
        User.unit_id == leaving.unit_id, User.disabled.is_(False), User.id != user_id))
        if "unit_head" in (roles or [])] if leaving is not None and leaving.unit_id is not None else []
    for conv in convs:
        m = conversation_store.find_member(s, conv.id, user_id)
        assert m is not None
        if m.role == "owner":
            order = [(Member.role == "admin").desc()]
            if heads:
                order.append(Member.user_id.in_(heads).desc())
            heir = s.execute(select(Member).where(Member.conversation_id == conv.id, Member.user_id != user_id)
                             .order_by(*order, Member.joined_at)).scalars().first()
            if heir is not None:
                heir.role = "owner"
                _log(s, conv.id, heir.user_id, "role_changed", ctx.user_id, "owner")
        s.delete(m)
        _log(s, conv.id, user_id, "removed", ctx.user_id, "departure")
        _changed(s, ctx, conv, EventType.CONVERSATION_MEMBER_REMOVED, [user_id], user_ids=[user_id])
    audit.record(s, ctx, AuditAction.ACCOUNT_REMOVED_FROM_GROUPS, target=f"user:{user_id}", groups=len(convs))
    return len(convs)


def unread_total(s: Session, user_id: int) -> int:
    return int(s.execute(select(func.count()).select_from(Message)
                         .join(Member, (Member.conversation_id == Message.conversation_id) & (Member.user_id == user_id))
                         .where(Message.seq > Member.read_seq, Message.sender_id != user_id)).scalar_one())


