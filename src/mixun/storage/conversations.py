"""Conversations and their members: the membership check every conversation route starts with, member
ids (the recipients of a conversation's events), members with their names (the conversation view),
contacts (everyone who shares a conversation with a person), a person's groups, and the membership log
a group's system lines are read from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member, MembershipLog, User
from mixun.errors import MixunError

# (user id, name, role) of one member, in the order they joined.
MemberRow = tuple[int, str, str]


def get_conversation(s: Session, conversation_id: int, *, lock: bool = False) -> Conversation:
    conv = s.get(Conversation, conversation_id, with_for_update=lock)
    if conv is None:
        raise MixunError("not_found")
    return conv


def find_conversation(s: Session, conversation_id: int) -> Conversation | None:
    return s.get(Conversation, conversation_id)


def find_other_member_id(s: Session, conversation_id: int, user_id: int) -> int | None:
    """A member of the conversation other than ``user_id`` (in a direct one: the other person)."""
    return s.execute(select(Member.user_id).where(Member.conversation_id == conversation_id,
                                                  Member.user_id != user_id)).scalar()


def find_member(s: Session, conversation_id: int, user_id: int) -> Member | None:
    return s.get(Member, (conversation_id, user_id))


def get_membership(s: Session, conversation_id: int, user_id: int, *, lock: bool = False
                   ) -> tuple[Conversation, Member]:
    """The conversation and ``user_id``'s membership of it, the conversation locked when ``lock``; 404
    alike for a missing conversation and for one the person is not a member of (nothing leaks)."""
    if not lock:  # both in one round trip (every conversation route starts here)
        row = s.execute(select(Member, Conversation).join(Conversation, Conversation.id == Member.conversation_id)
                        .where(Member.conversation_id == conversation_id, Member.user_id == user_id)).one_or_none()
        if row is None:
            raise MixunError("not_found")
        return row[1], row[0]
    stmt = select(Member).where(Member.conversation_id == conversation_id, Member.user_id == user_id)
    member = s.execute(stmt).scalar_one_or_none()
    if member is None:
        raise MixunError("not_found")
    return get_conversation(s, conversation_id, lock=lock), member


def find_direct_id(s: Session, direct_key: str) -> int | None:
    """The direct conversation of a pair ("small:large" user ids), if it exists."""
    return s.execute(select(Conversation.id).where(Conversation.direct_key == direct_key)).scalar()


_members = Member.__table__
# Built once: this runs for every send (the recipients of its events).
_SEL_MEMBER_IDS = select(_members.c.user_id).where(_members.c.conversation_id == bindparam("cid"))


def list_member_ids(s: Session, conversation_id: int) -> list[int]:
    return list(s.connection().execute(_SEL_MEMBER_IDS, {"cid": conversation_id}).scalars())


def list_member_rows(s: Session, conversation_ids: Iterable[int]) -> dict[int, list[MemberRow]]:
    """{conversation id: [(user id, name, role), …]} in the order members joined."""
    ids = list(conversation_ids)
    out: dict[int, list[MemberRow]] = {}
    if not ids:
        return out
    for cid, uid, name, role in s.execute(
            select(Member.conversation_id, Member.user_id, User.name, Member.role)
            .join(User, User.id == Member.user_id).where(Member.conversation_id.in_(ids))
            .order_by(Member.joined_at, Member.user_id)).all():
        out.setdefault(cid, []).append((uid, name, role))
    return out


def contacts_query(user_id: int) -> Select[int]:
    """The ids of everyone who shares a conversation with ``user_id``, as a query to embed."""
    mine = select(Member.conversation_id).where(Member.user_id == user_id)
    return select(Member.user_id).where(Member.conversation_id.in_(mine), Member.user_id != user_id).distinct()


def list_contacts(s: Session, user_id: int) -> list[int]:
    """Everyone who shares a conversation with ``user_id``."""
    return list(s.execute(contacts_query(user_id)).scalars())


def list_groups_of(s: Session, user_id: int) -> list[Conversation]:
    """The group conversations ``user_id`` is a member of."""
    return list(s.execute(select(Conversation).join(Member, Member.conversation_id == Conversation.id)
                          .where(Member.user_id == user_id, Conversation.kind == "group")).scalars())


def delete_members(s: Session, conversation_id: int) -> None:
    """Every membership of the conversation (a group dissolved; its log and messages stay)."""
    s.execute(delete(Member).where(Member.conversation_id == conversation_id))


# --- the membership log (a group's system lines) ---------------------------------------------------

def find_last_joined_log_id(s: Session, conversation_id: int, user_id: int) -> int | None:
    """The log id of ``user_id``'s latest joining of the conversation."""
    return s.execute(select(func.max(MembershipLog.id)).where(
        MembershipLog.conversation_id == conversation_id, MembershipLog.user_id == user_id,
        MembershipLog.action == "joined")).scalar()


def find_first_log_id(s: Session, conversation_id: int) -> int | None:
    return s.execute(select(func.min(MembershipLog.id)).where(MembershipLog.conversation_id == conversation_id)).scalar()


def find_last_log_id_until(s: Session, conversation_id: int, until: datetime) -> int | None:
    """The id of the conversation's last log line written at or before ``until``."""
    return s.execute(select(func.max(MembershipLog.id)).where(
        MembershipLog.conversation_id == conversation_id, MembershipLog.created_at <= until)).scalar()


def list_log_since(s: Session, conversation_id: int, since_id: int, limit: int) -> list[MembershipLog]:
    """The conversation's last ``limit`` log lines from id ``since_id`` on, oldest first."""
    return list(s.execute(select(MembershipLog).where(
        MembershipLog.conversation_id == conversation_id, MembershipLog.id >= since_id)
        .order_by(MembershipLog.id.desc()).limit(limit)).scalars())[::-1]
