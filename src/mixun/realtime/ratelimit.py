"""Per-user send rate limits: a token bucket in-process, a shared window counter in Redis."""

from __future__ import annotations

import threading
import time
from typing import Any


class TokenBucket:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self._state: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: int) -> float:
        """Take one token: 0.0 when one was there, else the seconds until the next one (nothing taken)."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
            self._state[key] = (tokens - 1.0, now)
            if len(self._state) > 100_000:
                self._state.clear()
            return 0.0

    def wait_many(self, keys: list[int]) -> list[float]:
        return [self.wait(k) for k in keys]


class RedisWindow:
    """Fixed one-minute windows shared by every process (burst allowed on top of the per-minute rate)."""

    def __init__(self, url: str, per_minute: int, burst: int, namespace: str = "") -> None:
        import redis

        self._prefix = f"mixun:{namespace}:rl" if namespace else "mixun:rl"
        # Any: redis-py types a pipeline's chained commands as their results, not as the pipeline.
        self._r: Any = redis.Redis.from_url(url)
        self.limit = per_minute + burst
        self._fallback = TokenBucket(per_minute, burst)

    def wait(self, key: int) -> float:
        """0.0 when the send fits this minute's window, else the seconds until the next window."""
        now = time.time()
        window = int(now // 60)
        name = f"{self._prefix}:{key}:{window}"
        try:
            n, _ = self._r.pipeline().incr(name).expire(name, 120).execute()
        except Exception:
            return self._fallback.wait(key)
        return 0.0 if int(n) <= self.limit else (window + 1) * 60 - now

    def wait_many(self, keys: list[int]) -> list[float]:
        """``wait`` for each key (a key may repeat: each is one send) in one round trip to Redis.

        A batch of sends asked one at a time cost one round trip each, in the stage thread, each also a
        wait for the interpreter lock the event loop holds: with Redis configured (every deployment of
        several processes) that made `--workers 2` slower than one process on the in-process limiter
        (issue 23 item 4)."""
        if not keys:
            return []
        now = time.time()
        window = int(now // 60)
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            name = f"{self._prefix}:{key}:{window}"
            pipe.incr(name).expire(name, 120)
        try:
            replies = pipe.execute()
        except Exception:
            return self._fallback.wait_many(keys)
        return [0.0 if int(n) <= self.limit else (window + 1) * 60 - now for n in replies[0::2]]
