"""Presence fan-out: when the hub sees a person's first connection open or last one close, their
contacts hear of it (services/presence.py ``announce_change`` reads and publishes, off the event loop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mixun.services import presence
from mixun.services.runtime import Ctx, Runtime

log = logging.getLogger("mixun.app")


def announcer(rt: Runtime) -> Callable[[int, bool], None]:
    """The hub's ``on_presence``: called on the event loop, it starts the announcement and returns."""

    def on_presence(user_id: int, online: bool) -> None:
        async def fan_out() -> None:
            try:
                await asyncio.to_thread(presence.announce_change, Ctx(rt=rt), user_id, online)
            except Exception:
                log.exception("presence fan-out failed")

        asyncio.get_running_loop().create_task(fan_out())

    return on_presence
