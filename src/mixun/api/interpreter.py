"""Interpreter settings for a serving process (`mixun serve`), not for tests or tools that embed the app.

Measured with 1,000 connected clients at 500 messages/s (BENCHMARKS.md), two settings of the
interpreter cost a message more latency than any code of ours:

- **The interpreter lock's switch interval.** The send writer is a thread; after each wait for the
  database it needs the lock back from the event loop, which under load holds it until forced to let
  go: 5 ms by default, per wait, several waits per batch. At 0.5 ms the batch is back at work almost
  at once; the event loop loses nothing it would notice (it releases the lock on every poll anyway).
- **Full garbage collections.** A full collection walks every tracked object and holds the lock
  throughout. Everything made while importing and building the app (FastAPI, SQLAlchemy, pydantic,
  the DLP engine: about 340,000 objects) lives as long as the process, so ``gc.freeze()`` takes it out
  of the collector's sight once the app has started. What is left (about 100 objects per live
  connection) still made every full collection a pause of 60-110 ms, and the automatic schedule ran
  one every 1.5-2 s under that load (requests that live across two young collections count as
  long-lived). So full collections run on a clock instead, once a minute; the young generations are
  collected as before, which is where almost all cyclic garbage dies.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time

log = logging.getLogger("mixun.interpreter")

SWITCH_INTERVAL_SECONDS = 0.0005
FULL_COLLECTION_EVERY_SECONDS = 60.0
NEVER = 2**31 - 1  # young collections between automatic full ones: never, in practice


def tune_for_serving() -> None:
    """Call once the app is built and started, before it takes traffic."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)


async def collect_periodically(every: float = FULL_COLLECTION_EVERY_SECONDS) -> None:
    """The full collections that ``tune_for_serving`` took off the automatic schedule."""
    while True:
        await asyncio.sleep(every)
        started = time.perf_counter()
        found = gc.collect()
        log.debug("full garbage collection: %d objects freed in %.1f ms", found,
                  (time.perf_counter() - started) * 1000)
