"""The sweep: every 20 s, the periodic jobs of a serving process, one after another (each in its own
module of this package; the blocking ones in a worker thread)."""

from __future__ import annotations

import asyncio
import logging

from mixun.api.jobs import account_review, files, operations, sessions
from mixun.realtime.hub import Hub
from mixun.services.runtime import Runtime

log = logging.getLogger("mixun.app")
SWEEP_SECONDS = 20


async def sweep(hub: Hub, rt: Runtime) -> None:
    """Keep shared presence fresh, run the periodic jobs, close live connections whose session ended."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            if rt.presence is not None:
                rt.presence.refresh()
            await asyncio.to_thread(files.rescan_files, rt)
            await asyncio.to_thread(files.drive_housekeeping, rt)
            await note_bus_health(rt)
            await asyncio.to_thread(operations.escalate_overdue_faults, rt)
            await asyncio.to_thread(operations.send_new_alerts, rt)
            await asyncio.to_thread(account_review.review_accounts, rt)
            await sessions.close_ended(hub, rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep failed")


async def note_bus_health(rt: Runtime) -> None:
    """Whether the bus answers, for /metrics and the operations console."""
    bus = rt.bus
    rt.bus_up = bool(await bus.healthy()) if bus is not None else True
