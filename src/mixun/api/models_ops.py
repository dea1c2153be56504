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
