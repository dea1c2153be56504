"""Cross-process wake-ups: in-process by default, Redis pub/sub or NATS when MIXUN_BUS_URL says so.

The bus only wakes; the database rows are the truth. ``publish`` is thread-safe and never blocks the
caller (services run in worker threads, after their commit).

Pub/sub keeps nothing for a subscriber that is not subscribed yet or is reconnecting, so: ``start``
returns only once the server has the subscription (Redis confirmed it, NATS answered a flush), so a
node that says it is up never misses a wake-up published after that; and after the connection to the
server comes back, ``on_resync`` is called (on the event loop), so the hub reads from the database
whatever the wake-ups it missed meanwhile named (realtime/hub.py ``Hub.resync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("mixun.bus")
CHANNEL = "mixun.events"  # suffixed with the deployment namespace (see make_bus)
Handler = Callable[[bytes], None]
Resync = Callable[[], None]
SUBSCRIBE_TIMEOUT = 10.0
OUTBOX_LIMIT = 100_000  # wake-ups kept for Redis while it is away
PUBLISH_BATCH = 500  # wake-ups a pipeline carries
RESYNC_DELAY = 0.2  # after a reconnection, time for the re-sent subscription to take before the read


class Bus(Protocol):
    async def start(self, loop: asyncio.AbstractEventLoop, handler: Handler,
                    on_resync: Resync | None = None) -> None: ...
    def publish(self, data: bytes) -> None: ...
    async def stop(self) -> None: ...
    async def healthy(self) -> bool: ...


class MemoryBus:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler: Handler | None = None

    async def start(self, loop: asyncio.AbstractEventLoop, handler: Handler,
                    on_resync: Resync | None = None) -> None:
        self._loop, self._handler = loop, handler

    def publish(self, data: bytes) -> None:
        if self._loop is None or self._handler is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._handler, data)

    async def stop(self) -> None:
        self._handler = None

    async def healthy(self) -> bool:
        return True


class RedisBus:
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None  # redis.asyncio.Redis once started
        self._pubsub: Any = None
        self._on_resync: Resync | None = None
        self._outbox: deque[bytes] = deque()
        self._dropped = 0
        self._ready = asyncio.Event()  # bound to the loop that first waits on it (Python 3.10+)
        self._publisher: asyncio.Task[None] | None = None

    async def start(self, loop: asyncio.AbstractEventLoop, handler: Handler,
                    on_resync: Resync | None = None) -> None:
        import redis.asyncio as aioredis

        self._loop = loop
        self._on_resync = on_resync
        # Named, so `CLIENT LIST` on a shared Redis tells which connections are a Mixun bus's.
        self._client = aioredis.from_url(self.url, client_name=f"mixun-bus-{os.getpid()}-{id(self):x}")
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(self.channel)
        # SUBSCRIBE is only sent; until Redis confirms it, a PUBLISH from another node reaches no one here.
        deadline = loop.time() + SUBSCRIBE_TIMEOUT
        while True:
            msg = await self._pubsub.get_message(timeout=max(0.0, deadline - loop.time()))
            if msg is not None and msg.get("type") == "subscribe":
                break
            if msg is not None and msg.get("type") == "message":
                handler(msg["data"])
            if loop.time() > deadline:
                raise TimeoutError(f"Redis did not confirm the subscription to {self.channel}")
        self._connects = 0
        # Called on every (re)connection of the subscriber's connection, after redis-py re-sent SUBSCRIBE.
        self._pubsub.connection.register_connect_callback(self._on_connect)
        self._task = loop.create_task(self._listen(handler))
        self._publisher = loop.create_task(self._publish_loop())

    async def _drained(self) -> None:
        while self._outbox:
            await asyncio.sleep(0.01)

    def _on_connect(self, _connection: Any) -> None:
        self._schedule_resync()

    def _schedule_resync(self) -> None:
        if self._on_resync is not None and self._loop is not None and not self._loop.is_closed():
            log.warning("redis bus reconnected; catching up from the database")
            self._loop.call_later(RESYNC_DELAY, self._on_resync)

    async def _listen(self, handler: Handler) -> None:
        assert self._pubsub is not None
        while True:
            try:
                async for msg in self._pubsub.listen():
                    if msg.get("type") == "message":
                        handler(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnects: the rows stay the truth, resume fills any gap
                log.exception("redis bus listener failed; retrying")
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):  # the next loop retries
                    await self._pubsub.subscribe(self.channel)
                    self._schedule_resync()

    def publish(self, data: bytes) -> None:
        if self._loop is None or self._client is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._enqueue, data)

    def _enqueue(self, data: bytes) -> None:
        if len(self._outbox) >= OUTBOX_LIMIT:  # Redis away for long: the oldest go (resync covers them)
            self._outbox.popleft()
            self._dropped += 1
        self._outbox.append(data)
        self._ready.set()

    async def _publish_loop(self) -> None:
        """One publisher, in order, everything waiting sent in one pipeline (one round trip). A publish
        each, concurrently, took one pooled connection each: on a slow Redis the pool ran out
        ("Too many connections") and those wake-ups were dropped (issue 23). A failed round is sent
        again, not dropped."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), PUBLISH_BATCH))]
                try:
                    assert self._client is not None
                    pipe = self._client.pipeline(transaction=False)
                    for data in batch:
                        pipe.publish(self.channel, data)
                    await pipe.execute()
                except asyncio.CancelledError:
                    self._outbox.extendleft(reversed(batch))
                    raise
                except Exception:
                    log.exception("redis publish failed; sending again")
                    self._outbox.extendleft(reversed(batch))
                    await asyncio.sleep(0.2)
                if self._dropped:
                    log.error("redis bus: %d wake-ups dropped while Redis was away", self._dropped)
                    self._dropped = 0

    async def stop(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(TimeoutError):  # what is waiting goes out first, if Redis answers
                await asyncio.wait_for(self._drained(), 2.0)
            self._publisher.cancel()
        if self._task:
            self._task.cancel()
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._client is not None:
            await self._client.aclose()

    async def healthy(self) -> bool:
        """The server answers a PING within a second (the `/metrics` gauge mixun_bus_up)."""
        if self._client is None:
            return False
        try:
            return bool(await asyncio.wait_for(self._client.ping(), 1.0))
        except Exception:  # noqa: BLE001 - any failure is "down"
            return False


class NatsBus:
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nc: Any = None  # nats.aio.client.Client once started

    async def start(self, loop: asyncio.AbstractEventLoop, handler: Handler,
                    on_resync: Resync | None = None) -> None:
        import nats

        self._loop = loop

        async def reconnected() -> None:  # nats-py re-sends the subscription before calling this
            if on_resync is not None:
                log.warning("nats bus reconnected; catching up from the database")
                with contextlib.suppress(Exception):
                    await self._nc.flush(timeout=SUBSCRIBE_TIMEOUT)
                loop.call_soon(on_resync)

        self._nc = await nats.connect(self.url, max_reconnect_attempts=-1, reconnected_cb=reconnected)

        async def on_msg(msg: object) -> None:
            handler(msg.data)  # type: ignore[attr-defined]

        await self._nc.subscribe(self.channel, cb=on_msg)
        # SUB is only buffered; a flush's PONG means the server has it.
        await self._nc.flush(timeout=SUBSCRIBE_TIMEOUT)

    def publish(self, data: bytes) -> None:
        if self._loop is None or self._nc is None or self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._safe_publish(data), self._loop)

    async def _safe_publish(self, data: bytes) -> None:
        try:
            assert self._nc is not None
            await self._nc.publish(self.channel, data)
        except Exception:
            log.exception("nats publish failed")

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.drain()

    async def healthy(self) -> bool:
        return bool(self._nc is not None and self._nc.is_connected)


def make_bus(url: str, namespace: str = "") -> Bus:
    """``namespace`` keeps deployments that share one Redis or NATS server apart (one per database)."""
    channel = f"{CHANNEL}.{namespace}" if namespace else CHANNEL
    if url.startswith("redis://") or url.startswith("rediss://"):
        return RedisBus(url, channel)
    if url.startswith("nats://"):
        return NatsBus(url, channel)
    if url in ("", "memory://"):
        return MemoryBus()
    raise ValueError(f"unsupported MIXUN_BUS_URL {url!r}")
