"""Who is online: live connections counted per process; shared through Redis when it is the bus."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

_TTL = 30


class LocalPresence:
    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def connected(self, user_id: int) -> bool:
        """Count a connection; True when the user just came online here."""
        with self._lock:
            n = self._counts.get(user_id, 0) + 1
            self._counts[user_id] = n
            return n == 1

    def disconnected(self, user_id: int) -> bool:
        with self._lock:
            n = self._counts.get(user_id, 0) - 1
            if n <= 0:
                self._counts.pop(user_id, None)
                return True
            self._counts[user_id] = n
            return False

    def local_users(self) -> list[int]:
        with self._lock:
            return list(self._counts)

    def online(self, user_ids: Iterable[int]) -> set[int]:
        with self._lock:
            return {u for u in user_ids if u in self._counts}

    def refresh(self) -> None:
        return None


class RedisPresence(LocalPresence):
    """Each process keeps its own expiring set; a crashed process's users fall offline after the TTL."""

    def __init__(self, url: str, namespace: str = "") -> None:
        super().__init__()
        import redis

        # Any: redis-py types a pipeline's chained commands as their results, not as the pipeline.
        self._r: Any = redis.Redis.from_url(url)
        self._ns = f"mixun:{namespace}:" if namespace else "mixun:"
        self._procs = f"{self._ns}procs"
        self._proc = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._key = f"{self._ns}online:{self._proc}"
        self._last_refresh = 0.0

    def connected(self, user_id: int) -> bool:
        first = super().connected(user_id)
        if first:
            with contextlib.suppress(Exception):
                self._r.pipeline().sadd(self._key, user_id).expire(self._key, _TTL) \
                    .sadd(self._procs, self._proc).execute()
        return first

    def disconnected(self, user_id: int) -> bool:
        last = super().disconnected(user_id)
        if last:
            with contextlib.suppress(Exception):
                self._r.srem(self._key, user_id)
        return last

    def refresh(self) -> None:
        users = self.local_users()
        with contextlib.suppress(Exception):
            pipe = self._r.pipeline().delete(self._key)
            if users:
                pipe.sadd(self._key, *users)
            pipe.expire(self._key, _TTL).sadd(self._procs, self._proc).execute()
        self._last_refresh = time.monotonic()

    def online(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(user_ids)
        found = super().online(ids)
        rest = [u for u in ids if u not in found]
        if not rest:
            return found
        try:
            procs = [p.decode() for p in self._r.smembers(self._procs)]
            for proc in procs:
                key = f"{self._ns}online:{proc}"
                flags = self._r.smismember(key, rest)
                if not self._r.exists(key):
                    self._r.srem(self._procs, proc)
                    continue
                found |= {u for u, f in zip(rest, flags, strict=True) if f}
        except Exception:  # noqa: S110 - Redis down: fall back to this process's own view
            pass
        return found

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._r.delete(self._key)
            self._r.srem(self._procs, self._proc)
