"""Composer drafts: one per person and conversation, the text sealed under the conversation's key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mixun.db.models import Member
from mixun.db.models_web import Draft


def list_drafts(s: Session, user_id: int) -> list[tuple[int, Any]]:
    """(conversation id, stored text) of ``user_id``'s drafts in conversations they are still a member of."""
    return [(cid, text) for cid, text in s.execute(
        select(Draft.conversation_id, Draft.text)
        .join(Member, (Member.conversation_id == Draft.conversation_id) & (Member.user_id == Draft.user_id))
        .where(Draft.user_id == user_id)).all()]


def delete_draft(s: Session, user_id: int, conversation_id: int) -> None:
    s.execute(delete(Draft).where(Draft.user_id == user_id, Draft.conversation_id == conversation_id))


def add_draft(s: Session, user_id: int, conversation_id: int, text: Any, at: datetime) -> None:
    """``text`` as stored (sealed by the caller)."""
    s.add(Draft(user_id=user_id, conversation_id=conversation_id, text=text, updated_at=at))
