"""What every service call needs: the runtime (settings, database, keys, notifier, the process's
collaborators) and the caller.

The collaborators that live in layers above the services (presence, the send rate limiter, the live
connection hub, the send queue) and the ones built by services that this module cannot import (the DLP
service, the virus scanner) are named fields typed by the Protocols below: a service depends on the
interface, the edge (``api/app.py``) or the writer process puts the implementation in. The state a
runtime keeps for itself (the principal cache, the login throttle, the address decisions) is built
here with the runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from mixun.config import Settings
from mixun.db import sealed
from mixun.db.engine import Database
from mixun.domain.roles import Perm
from mixun.files.antivirus import ClamdScanner
from mixun.keystore import KeyStore
from mixun.notify import Notifier as NotificationGateway

# A wake-up published after commit: {"recipients": [[user_id, event_seq], ...], "payload": json_str}, or
# a batch's wake-ups in one message: {"wakes": [wake, ...]}
Notifier = Callable[[dict[str, Any]], None]


def _no_notifier(_msg: dict[str, Any]) -> None:
    return None


@dataclass
class DlpOutcome:
    """What the DLP step decided for a text: the text recipients see, and what to keep and record."""

    action: str = "allow"  # allow | warn (confirmed) | mask | hold
    deliver_text: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    original_enc: bytes | None = None
    audit_summary: list[dict[str, Any]] = field(default_factory=list)
    channel: str = ""


# (ctx, text, channel (looked up only when something is found), confirm, sender's unit path (likewise),
# audit target) -> DlpOutcome; raises MixunError for block and confirm-required.
DlpHook = Callable[["Ctx", str, Callable[[], str], bool, Callable[[], str], str], DlpOutcome]


class Presence(Protocol):
    """Who is online (realtime/presence.py: in this process, or shared through Redis)."""

    def online(self, user_ids: Iterable[int]) -> set[int]: ...

    def refresh(self) -> None: ...


class RateLimiter(Protocol):
    """The send rate limit (realtime/ratelimit.py): seconds to wait before ``key`` may send, 0 if now."""

    def wait(self, key: int) -> float: ...

    def wait_many(self, keys: list[int]) -> list[float]: ...


class LiveConnections(Protocol):
    """The hub of live WebSocket connections (realtime/hub.py), as the services see it."""

    def connection_count(self) -> int: ...


class SendQueue(Protocol):
    """Where sends are written in batches (``sendpath/queue.py``, its writer a thread or the writer
    process). ``request`` is a ``sendpath.request.SendRequest`` and the result its ``SendOutcome``
    (typed loosely here: the send path imports this module)."""

    async def send(self, request: Any) -> Any: ...

    def close(self, timeout: float = 30.0) -> None: ...


class DlpService(Protocol):
    """The DLP state of this process (services/dlp.py ``DlpService``), as the send path uses it."""

    def invalidate(self) -> None: ...

    def record_allowed_hits(self, s: Session, ctx: Ctx, outcome: DlpOutcome, target: str) -> None: ...


class VirusScanner(Protocol):
    """clamd for this process with its availability remembered (services/attachments.py ``Antivirus``)."""

    scanner: ClamdScanner

    def available(self) -> bool: ...


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    name: str
    roles: tuple[str, ...]
    perms: frozenset[Perm]
    session_id: int | None
    must_change_password: bool = False
    must_enroll_totp: bool = False
    locked: bool = False  # the session is locked on the server (lock screen): only unlock/logout/me pass
    must_accept_rules: bool = False  # the current usage and confidentiality rules are not accepted (A8)


class PrincipalCache:
    """token hash -> (principal, expires_at, last_seen_at, cached at), and the sessions seen lately.

    Saves the session lookup on most requests. Revocations, locks and changes to an account (roles,
    password, two-factor, disabling) drop entries at once in this process and, through the bus's control
    messages, in the others sharing the bus; every such change also moves the revocation epoch in the
    database, which each server polls (``realtime.hub.watch_sessions``), so one made where there is no
    bus (the CLI) lands within half a second too. An entry lives a minute at most anyway.
    Activity ("touches") is kept here and written to ``sessions.last_seen_at`` in one batch every few
    seconds by ``flush_touches`` instead of one write transaction per active session per request.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Principal, datetime, datetime, float]] = {}
        self._touches: dict[int, datetime] = {}
        self._seen: dict[int, datetime] = {}  # the latest activity this process saw, per session
        self._lock = threading.Lock()
        # Moves on every forget/clear: an entry read from the database before a revocation is never
        # put back after it (a lookup that started before the change is not cached).
        self.generation = 0

    def get(self, key: str) -> tuple[Principal, datetime, datetime, float] | None:
        return self._entries.get(key)

    def put(self, key: str, value: tuple[Principal, datetime, datetime, float], generation: int = -1) -> None:
        with self._lock:
            if generation >= 0 and generation != self.generation:
                return
            if len(self._entries) > 50_000:
                self._entries.clear()
            self._entries[key] = value

    def touch(self, key: str, session_id: int, now: datetime) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (entry[0], entry[1], now, entry[3])
            self._touches[session_id] = now
            self._seen[session_id] = now

    def touch_session(self, session_id: int, now: datetime) -> None:
        """Activity on a session seen without its token (a client's WebSocket frame)."""
        with self._lock:
            self._touches[session_id] = now
            self._seen[session_id] = now

    def touch_session_seen(self, session_id: int, seen: datetime) -> None:
        with self._lock:
            if session_id not in self._seen or self._seen[session_id] < seen:
                self._seen[session_id] = seen

    def pending_touch(self, session_id: int) -> datetime | None:
        return self._touches.get(session_id)

    def last_activity(self, session_id: int) -> datetime | None:
        return self._seen.get(session_id)

    def prune_seen(self, before: datetime) -> None:
        with self._lock:
            for sid in [k for k, v in self._seen.items() if v < before]:
                del self._seen[sid]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1

    def take_touches(self) -> dict[int, datetime]:
        with self._lock:
            touches, self._touches = self._touches, {}
        return touches

    def restore_touches(self, touches: dict[int, datetime]) -> None:
        with self._lock:
            for sid, seen in touches.items():
                if sid not in self._touches or self._touches[sid] < seen:
                    self._touches[sid] = seen

    def forget(self, *, session_ids: Iterable[int] = (), user_ids: Iterable[int] = ()) -> None:
        sids, uids = set(session_ids), set(user_ids)
        with self._lock:
            self.generation += 1
            for key, (p, *_rest) in list(self._entries.items()):
                if p.session_id in sids or p.user_id in uids:
                    del self._entries[key]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: KeyStore
    notify: Notifier = _no_notifier
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    # Put in by whoever builds the runtime (api/app.py, the writer process, tests); None: not in use here.
    presence: Presence | None = None
    rate_limiter: RateLimiter | None = None
    notifier: NotificationGateway | None = None  # urgent sends to people offline
    dlp: DlpHook | None = None  # the send path's DLP check
    dlp_service: DlpService | None = None  # made on first use by services.dlp.service
    hub: LiveConnections | None = None
    send_queue: SendQueue | None = None
    antivirus: VirusScanner | None = None  # made on first use by services.attachments.antivirus
    directory_limiter: RateLimiter | None = None  # directory pages per person (harvesting)
    directory_card_limiter: RateLimiter | None = None  # person cards per person
    # This process's own state.
    principal_cache: PrincipalCache = field(default_factory=lambda: PrincipalCache())
    directory_refusals_noted: dict[int, float] = field(default_factory=dict)  # user -> last audited refusal
    function_rules: Any = None  # services.functions' cache of the switches, made on first use
    bus: Any = None  # the event bus (api/app.py), for its health
    bus_up: bool | None = None  # the bus answered at the last operations round (None: not checked)
    health_probes: dict[str, Callable[[], float]] = field(default_factory=dict)  # gauges /metrics reads
    drive_housekeeping: float = 0.0  # monotonic time of the drive's last housekeeping round
    address_decisions: dict[str, bool] = field(default_factory=dict)  # ip -> inside MIXUN_ALLOWED_NETWORKS
    allowed_origins: frozenset[str] | None = None  # MIXUN_ALLOWED_ORIGINS, parsed on first use (api/ws.py)

    def __post_init__(self) -> None:
        t, m, p = self.settings.argon2
        self.hasher = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p)
        sealed.register(self.keys.data_keys)  # sealed message texts read through this key store
        if isinstance(self.db, Database):
            keys = self.keys
            self.db.search_key = lambda: keys.search_key  # the search postings' keyed hashes


@dataclass
class Ctx:
    """One call: the runtime, who is calling and from where."""

    rt: Runtime
    principal: Principal | None = None
    ip: str = ""
    client: str = ""
    locale: str = "zh-CN"

    @property
    def user_id(self) -> int:
        assert self.principal is not None
        return self.principal.user_id

    @property
    def role_label(self) -> str:
        return ",".join(self.principal.roles) if self.principal else ""
