"""The send limiters say how long to wait, per user, in-process and shared through Redis."""

from __future__ import annotations

import uuid

from mixun.realtime.ratelimit import RedisWindow, TokenBucket
from tests.conftest import REDIS_URL, need, redis_available


def test_token_bucket_spends_the_burst_then_names_the_wait() -> None:
    bucket = TokenBucket(per_minute=6, burst=2)  # one token every ten seconds
    assert [bucket.wait(1), bucket.wait(1)] == [0.0, 0.0]
    wait = bucket.wait(1)
    assert 9.0 < wait <= 10.0
    assert bucket.wait(2) == 0.0, "another user has a bucket of their own"
    assert bucket.wait(1) > 0.0, "a refused send takes nothing, and gives nothing back"


def test_redis_window_is_shared_by_every_limiter_on_the_store() -> None:
    need("Redis", redis_available())
    ns = uuid.uuid4().hex  # this test's own keys
    one, two = RedisWindow(REDIS_URL, 2, 1, ns), RedisWindow(REDIS_URL, 2, 1, ns)
    assert [one.wait(7), two.wait(7), one.wait(7)] == [0.0, 0.0, 0.0]
    wait = two.wait(7)
    assert 0.0 < wait <= 60.0, "the fourth send in the minute waits for the next window, in either process"
    assert one.wait(8) == 0.0


def test_redis_window_falls_back_to_a_local_bucket_when_the_store_is_down() -> None:
    limiter = RedisWindow("redis://127.0.0.1:1/0", 60, 1)
    assert limiter.wait(1) == 0.0
    assert limiter.wait(1) > 0.0


def test_a_batch_is_charged_in_one_round_trip_with_the_same_answers() -> None:
    """wait_many (a batch of sends, one Redis pipeline) counts each key as often as it appears, shares
    the window with wait, and falls back to the local bucket when Redis is down."""
    need("Redis", redis_available())
    ns = uuid.uuid4().hex
    one, two = RedisWindow(REDIS_URL, 2, 1, ns), RedisWindow(REDIS_URL, 2, 1, ns)
    assert one.wait(7) == 0.0
    waits = two.wait_many([7, 8, 7, 7])
    assert waits[:3] == [0.0, 0.0, 0.0] and 0.0 < waits[3] <= 60.0, waits
    assert one.wait(7) > 0.0 and one.wait_many([]) == []
    down = RedisWindow("redis://127.0.0.1:1/0", 60, 1)
    first, second = down.wait_many([1, 1])
    assert first == 0.0 and second > 0.0
    bucket = TokenBucket(per_minute=6, burst=2)
    assert bucket.wait_many([1, 1, 1])[:2] == [0.0, 0.0] and bucket.wait(1) > 0.0
