"""The bus after its connection to Redis or NATS drops: wake-ups published meanwhile are gone (pub/sub
keeps nothing), so the hub is told to read from the database (bus ``on_resync``; docs/multinode.md)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mixun.bus import NatsBus, RedisBus
from tests.conftest import REDIS_URL, need, redis_available
from tests.helpers import run_async


async def _until(pred: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def test_redis_bus_is_subscribed_when_started_and_resyncs_after_its_connection_is_killed() -> None:
    need("Redis", redis_available())
    import redis

    async def main() -> None:
        got: list[bytes] = []
        resyncs: list[int] = []
        channel = f"mixun.events.test-{socket.gethostname()}-{id(got):x}"
        bus = RedisBus(REDIS_URL, channel)
        await bus.start(asyncio.get_running_loop(), got.append, lambda: resyncs.append(1))
        other = RedisBus(REDIS_URL, channel + "-sender")
        other.channel = channel
        await other.start(asyncio.get_running_loop(), lambda _d: None)
        try:
            other.publish(b"first")  # at once after start: the subscription is in place already
            await _until(lambda: got == [b"first"])
            admin = redis.Redis.from_url(REDIS_URL)
            name = bus._client.connection_pool.connection_kwargs["client_name"]  # noqa: SLF001
            killed = 0
            for c in admin.client_list():
                if c.get("name") == name and c.get("cmd") in ("subscribe", "ssubscribe", "ping"):
                    admin.client_kill_filter(_id=c["id"])
                    killed += 1
            assert killed >= 1
            await _until(lambda: resyncs)  # reconnected and asked the hub to read the database
            other.publish(b"after")
            await _until(lambda: got[-1:] == [b"after"])
        finally:
            await other.stop()
            await bus.stop()

    run_async(main())


def test_nats_bus_is_subscribed_when_started() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            pass
    except OSError:
        pytest.skip("nats-server is not running on 127.0.0.1:4222")

    async def main() -> None:
        got: list[bytes] = []
        channel = f"mixun.events.test-{id(got):x}"
        bus, other = NatsBus("nats://127.0.0.1:4222", channel), NatsBus("nats://127.0.0.1:4222", channel)
        await bus.start(asyncio.get_running_loop(), got.append)
        await other.start(asyncio.get_running_loop(), lambda _d: None)
        try:
            for i in range(20):
                other.publish(b"m%d" % i)
            await _until(lambda: len(got) >= 20)
            assert got[:20] == [b"m%d" % i for i in range(20)]
        finally:
            await other.stop()
            await bus.stop()

    run_async(main())


def test_redis_bus_sends_every_wake_up_in_order_however_many_come_at_once() -> None:
    """Wake-ups published from many threads at once all arrive, each publisher's in its order: one
    publisher pipelines them (one pooled connection each ran the pool out and dropped wake-ups)."""
    need("Redis", redis_available())
    import threading

    async def main() -> None:
        got: list[bytes] = []
        channel = f"mixun.events.test-burst-{id(got):x}"
        bus, other = RedisBus(REDIS_URL, channel), RedisBus(REDIS_URL, channel)
        await bus.start(asyncio.get_running_loop(), got.append)
        await other.start(asyncio.get_running_loop(), lambda _d: None)
        try:
            def burst(t: int) -> None:
                for i in range(500):
                    other.publish(b"%d:%d" % (t, i))

            threads = [threading.Thread(target=burst, args=(t,)) for t in range(4)]
            for th in threads:
                th.start()
            await asyncio.to_thread(lambda: [th.join() for th in threads])
            await _until(lambda: len(got) >= 2000, 30)
            assert len(got) == 2000
            for t in range(4):
                mine = [int(m.split(b":")[1]) for m in got if m.startswith(b"%d:" % t)]
                assert mine == list(range(500))
        finally:
            await other.stop()
            await bus.stop()

    run_async(main())
