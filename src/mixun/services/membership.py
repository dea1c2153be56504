"""Look-ups on conversation membership that the message, presence and directory services share: the
caller's access to a conversation, its members' ids, a person's contacts. No use case lives here, so
every service may import it (services/conversations.py re-exports these names). The queries are
storage/conversations.py's; this module adds the caller (``Ctx``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member
from mixun.services.runtime import Ctx
from mixun.storage import conversations as conversation_store
from mixun.storage.conversations import contacts_query as contacts_query
from mixun.storage.conversations import list_contacts as contacts_of
from mixun.storage.conversations import list_member_ids as member_ids

__all__ = ["access_conversation", "contacts_of", "contacts_query", "member_ids"]


def access_conversation(s: Session, ctx: Ctx, conversation_id: int, *, lock: bool = False
                        ) -> tuple[Conversation, Member]:
    """The conversation and the caller's membership; 404 alike for missing and not-a-member."""
    return conversation_store.get_membership(s, conversation_id, ctx.user_id, lock=lock)
