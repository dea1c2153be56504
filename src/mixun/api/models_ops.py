"""Response models of routes/ops.py beyond the fault reports (whose models are in api/models.py): the
alerts and the notification dead letters (ADR 0018)."""

from __future__ import annotations

from pydantic import with_config
from typing_extensions import TypedDict

from mixun.api.models import OUT


@with_config(OUT)
class OpsAlert(TypedDict):
    """``services.ops_alerts._alert``: ``value`` a count, or a percentage (free disk) with one decimal."""

    code: str
    severity: str
    title: str
    value: int | float
    detail: str


@with_config(OUT)
class OpsAlerts(TypedDict):
    """``services.ops_alerts.alerts``: the faults (sysadmin's) or security risks (secadmin's) now."""

    checked_at: str
    alerts: list[OpsAlert]


@with_config(OUT)
class DeadLetter(TypedDict):
    """``notify.Dispatcher._dead``: a notification given up (``to`` the address or phone, null: none)."""

    at: str
    channel: str
    user_id: int
    to: str | None
    text: str
    attempts: int
    error: str


@with_config(OUT)
class DeadLetters(TypedDict):
    """``services.notifications.dead_letters``: newest first, and how many in all."""

    dead_letters: list[DeadLetter]
    total: int


# ---- the key management status (issue 20; services.keys.console) ------------------------------------------

@with_config(OUT)
class KekVersion(TypedDict):
    """One key-encryption key version: current, present (else retired and gone: missing), ``where`` file or
    hsm, and how many data keys of each kind (``KeysStatus.labels``) it wraps."""

    version: int
    current: bool
    present: bool
    where: str
    protects: dict[str, int]
    total: int


@with_config(OUT)
class PeriodKeyRow(TypedDict):
    """``KeyRing.period_status``: one period key (month ``period`` YYYYMM, retention group ``group`` an
    opaque tag, "" month-wide); ``state`` present, destroyed or missing; ``where`` file, hsm or ring when
    present; ``protects`` conversation data keys wrapped under it, ``legacy`` ones still under the KEK alone."""

    period: int
    group: str
    group_name: str
    group_label: str
    label: str
    present: bool
    state: str
    where: str | None
    protects: int
    legacy: int
    destroyed_at: str | None
    stray_file: bool


@with_config(OUT)
class KeyEvent(TypedDict):
    """The latest audit record of one key operation: when, the KEK ``version`` (and ``previous``,
    ``rewrapped``) of a rotation, ``count`` and ``periods`` (labels) of a destruction or an export."""

    at: str
    version: int | None
    previous: int | None
    rewrapped: int | None
    count: int | None
    periods: list[str]


@with_config(OUT)
class KeyEvents(TypedDict):
    rotated: KeyEvent | None
    period_keys_destroyed: KeyEvent | None
    period_keys_exported: KeyEvent | None


@with_config(OUT)
class KeysStatus(TypedDict):
    """``services.keys.console``: ``mixun keys status`` for the console, read-only, with the last key
    operations. ``period_keys_where`` file, hsm or ring; ``period_keys_fallback`` why the host directory
    could not be used ("" when it is)."""

    current: int
    cipher: str
    provider: str
    versions: list[KekVersion]
    labels: dict[str, str]
    unreadable: int
    periods: list[PeriodKeyRow]
    period_keys_where: str
    period_keys_dir: str
    period_keys_fallback: str
    last: KeyEvents
