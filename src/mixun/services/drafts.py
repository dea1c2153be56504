"""Composer drafts: kept on the server so they survive a reload, because the browser stores no content."""

from __future__ import annotations

from datetime import UTC, datetime

from mixun.errors import MixunError
from mixun.services import texts
from mixun.services.runtime import Ctx
from mixun.storage import drafts as stored
from mixun.storage.conversations import find_member


def list_drafts(ctx: Ctx) -> dict[str, str]:
    """{conversation id: text} of the caller's drafts in conversations they are still in."""
    with ctx.rt.db.read() as s:
        rows = stored.list_drafts(s, ctx.user_id)
    return {str(cid): text for cid, text in rows}


def save_draft(ctx: Ctx, conversation_id: int, text: str) -> None:
    """Keep (or, when empty, drop) the caller's draft in a conversation they are a member of."""
    if len(text) > ctx.rt.settings.max_message_length:
        raise MixunError("validation_failed", field="text")
    with ctx.rt.db.write() as s:
        if find_member(s, conversation_id, ctx.user_id) is None:
            raise MixunError("not_found")
        stored.delete_draft(s, ctx.user_id, conversation_id)
        if text.strip():
            now = datetime.now(UTC)
            stored.add_draft(s, ctx.user_id, conversation_id, texts.seal(ctx.rt, conversation_id, now, text), now)
