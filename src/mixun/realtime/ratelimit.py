"""Per-user send rate limits: a token bucket in-process, a shared window counter in Redis."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self._state: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: int) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return False
            self._state[key] = (tokens - 1.0, now)
            if len(self._state) > 100_000:
                self._state.clear()
            return True


class RedisWindow:
    """Fixed one-minute windows shared by every process (burst allowed on top of the per-minute rate)."""

    def __init__(self, url: str, per_minute: int, burst: int, namespace: str = "") -> None:
        import redis

        self._prefix = f"mixun:{namespace}:rl" if namespace else "mixun:rl"
        self._r = redis.Redis.from_url(url)
        self.limit = per_minute + burst
        self._fallback = TokenBucket(per_minute, burst)

    def allow(self, key: int) -> bool:
        window = int(time.time() // 60)
        name = f"{self._prefix}:{key}:{window}"
        try:
            n, _ = self._r.pipeline().incr(name).expire(name, 120).execute()
        except Exception:
            return self._fallback.allow(key)
        return int(n) <= self.limit
