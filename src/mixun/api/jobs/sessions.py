"""Sessions seen from the serving process: activity written in batches, and live connections of
sessions that ended (logged out, revoked, expired elsewhere) closed."""

from __future__ import annotations

import asyncio
import logging

from mixun.config import Settings
from mixun.realtime.hub import Hub
from mixun.services.auth import flush_touches as write_touches
from mixun.services.auth import sessions_alive
from mixun.services.runtime import Ctx, Runtime

log = logging.getLogger("mixun.app")
TOUCH_FLUSH_SECONDS = 10.0


def touch_flush_seconds(settings: Settings) -> float:
    """How often activity reaches the database: every 10 s, or a sixth of the idle limit when that is
    shorter, so another process (``--workers N``) judging a session on its flushed time never ends one
    that is in use here."""
    return min(TOUCH_FLUSH_SECONDS, max(0.5, settings.session_idle_minutes * 60 / 6))


async def flush_touches(rt: Runtime) -> None:
    """Every few seconds, write the sessions' last-seen times gathered by authentication in one batch."""
    interval = touch_flush_seconds(rt.settings)
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(flush_touches_once, rt)


def flush_touches_once(rt: Runtime) -> None:
    try:
        write_touches(rt)
    except Exception:
        log.exception("writing session activity failed; kept for the next attempt")


async def close_ended(hub: Hub, rt: Runtime) -> None:
    """Close the live connections whose session ended or expired."""
    live = list(hub.by_session)
    alive = await asyncio.to_thread(sessions_alive, Ctx(rt=rt), live)
    for sid in live:
        if sid not in alive:
            for conn in list(hub.by_session.get(sid, ())):
                hub.drop(conn, 4001, "session ended")
