"""Composer drafts: kept on the server so they survive a reload, because the browser stores no content."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from mixun.db.models import Member
from mixun.db.models_web import Draft
from mixun.errors import MixunError
from mixun.services import texts
from mixun.services.runtime import Ctx


def list_drafts(ctx: Ctx) -> dict[str, str]:
    """{conversation id: text} of the caller's drafts in conversations they are still in."""
    with ctx.rt.db.read() as s:
        rows = s.execute(select(Draft.conversation_id, Draft.text)
                         .join(Member, (Member.conversation_id == Draft.conversation_id)
                               & (Member.user_id == Draft.user_id))
                         .where(Draft.user_id == ctx.user_id)).all()
    return {str(cid): text for cid, text in rows}


def save_draft(ctx: Ctx, conversation_id: int, text: str) -> None:
    """Keep (or, when empty, drop) the caller's draft in a conversation they are a member of."""
    if len(text) > ctx.rt.settings.max_message_length:
        raise MixunError("validation_failed", field="text")
    with ctx.rt.db.write() as s:
        if s.get(Member, (conversation_id, ctx.user_id)) is None:
            raise MixunError("not_found")
        s.execute(delete(Draft).where(Draft.user_id == ctx.user_id, Draft.conversation_id == conversation_id))
        if text.strip():
            now = datetime.now(UTC)
            s.add(Draft(user_id=ctx.user_id, conversation_id=conversation_id,
                        text=texts.seal(ctx.rt, conversation_id, now, text), updated_at=now))
