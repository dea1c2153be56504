"""Look-ups on conversation membership that the message, presence and directory services share: the
caller's access to a conversation, its members' ids, a person's contacts. No use case lives here, so
every service may import it (services/conversations.py re-exports these names)."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member
from mixun.errors import MixunError
from mixun.services.runtime import Ctx


def access_conversation(s: Session, ctx: Ctx, conversation_id: int, *, lock: bool = False
                        ) -> tuple[Conversation, Member]:
    """The conversation and the caller's membership; 404 alike for missing and not-a-member."""
    stmt = select(Member).where(Member.conversation_id == conversation_id, Member.user_id == ctx.user_id)
    member = s.execute(stmt).scalar_one_or_none()
    if member is None:
        raise MixunError("not_found")
    conv = s.get(Conversation, conversation_id, with_for_update=lock)
    if conv is None:
        raise MixunError("not_found")
    return conv, member


_members = Member.__table__
_SEL_MEMBER_IDS = select(_members.c.user_id).where(_members.c.conversation_id == bindparam("cid"))


def member_ids(s: Session, conversation_id: int) -> list[int]:
    return list(s.connection().execute(_SEL_MEMBER_IDS, {"cid": conversation_id}).scalars())


def contacts_of(s: Session, user_id: int) -> list[int]:
    """Everyone who shares a conversation with ``user_id``."""
    mine = select(Member.conversation_id).where(Member.user_id == user_id)
    return list(s.execute(select(Member.user_id).where(Member.conversation_id.in_(mine),
                                                       Member.user_id != user_id).distinct()).scalars())
