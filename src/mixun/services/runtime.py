"""What every service call needs: the runtime (settings, database, keys, notifier) and the caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from mixun.config import Settings
from mixun.db.engine import Database
from mixun.domain.roles import Perm
from mixun.keystore import KeyStore

# A wake-up published after commit: {"recipients": [[user_id, event_seq], ...], "payload": json_str}, or
# a batch's wake-ups in one message: {"wakes": [wake, ...]}
Notifier = Callable[[dict[str, Any]], None]


def _no_notifier(_msg: dict[str, Any]) -> None:
    return None


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: KeyStore
    notify: Notifier = _no_notifier
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t, m, p = self.settings.argon2
        self.hasher = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p)


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
