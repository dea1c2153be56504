"""Presence: who is online (through the runtime's presence, realtime/presence.py), and the snapshot of
the status of everyone the caller shares a conversation with.

Presence changes arrive as live-only `presence.changed` events, so a client that has just connected
(or reconnected after a gap) has missed every change made before; it asks for this snapshot once per
connection and applies the live events on top. A change (a first connection, the last one closed) is
announced to the person and their contacts by ``announce_change``, which the hub calls through
api/jobs/presence.py."""

from __future__ import annotations

from sqlalchemy import select

from mixun.db.models import User
from mixun.domain.events import EventType
from mixun.domain.presence import presence_status
from mixun.services import events
from mixun.services.membership import contacts_of, contacts_query
from mixun.services.runtime import Ctx


def online_users(ctx: Ctx, user_ids: list[int]) -> set[int]:
    presence = ctx.rt.presence
    return presence.online(user_ids) if presence is not None else set()


def contacts_presence(ctx: Ctx) -> dict[str, str]:
    """{user id: shown status} for the caller's contacts (online, busy, meeting, away or offline)."""
    with ctx.rt.db.quick_read() as s:  # one round trip: the contacts and their work status together
        rows = s.execute(select(User.id, User.work_status).where(User.id.in_(contacts_query(ctx.user_id)))).all()
    online = online_users(ctx, [uid for uid, _ in rows])
    return {str(uid): presence_status(ws, uid in online) for uid, ws in rows}


def announce_change(ctx: Ctx, user_id: int, online: bool) -> None:
    """Tell ``user_id`` and everyone they share a conversation with their shown status, now that they
    came online or went offline (a live-only ``presence.changed``)."""
    with ctx.rt.db.read() as s:
        ids = contacts_of(s, user_id)
        user = s.get(User, user_id)
        work_status = user.work_status if user else "available"
    events.ephemeral(ctx, [*ids, user_id], EventType.PRESENCE_CHANGED,
                     {"user_id": user_id, "status": presence_status(work_status, online)})
