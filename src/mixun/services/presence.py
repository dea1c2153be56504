"""Presence snapshot: the status of everyone the caller shares a conversation with.

Presence changes arrive as live-only `presence.changed` events, so a client that has just connected
(or reconnected after a gap) has missed every change made before; it asks for this snapshot once per
connection and applies the live events on top."""

from __future__ import annotations

from sqlalchemy import select

from mixun.db.models import User
from mixun.services.conversations import contacts_of
from mixun.services.directory import online_users, presence_status
from mixun.services.runtime import Ctx


def contacts_presence(ctx: Ctx) -> dict[str, str]:
    """{user id: shown status} for the caller's contacts (online, busy, meeting, away or offline)."""
    with ctx.rt.db.read() as s:
        ids = contacts_of(s, ctx.user_id)
        rows = s.execute(select(User.id, User.work_status).where(User.id.in_(ids))).all() if ids else []
    online = online_users(ctx, [uid for uid, _ in rows])
    return {str(uid): presence_status(ws, uid in online) for uid, ws in rows}
