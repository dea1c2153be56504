"""The runtime of a serving process (or a CLI command): the database, the keys, presence and the rate
limiters (shared through Redis when the bus is Redis), the notification gateways, the health probes of
/metrics and the DLP hook. ``api.app.create_app`` adds the live parts (hub, bus, send queue)."""

from __future__ import annotations

import hashlib

from mixun import metrics, notify
from mixun.config import Settings
from mixun.db.engine import Database
from mixun.keystore import keystore_from
from mixun.realtime.presence import LocalPresence, RedisPresence
from mixun.realtime.ratelimit import RedisWindow, TokenBucket
from mixun.services import notifications
from mixun.services.runtime import Ctx, Runtime


def build_runtime(settings: Settings) -> Runtime:
    rt = Runtime(settings=settings, db=Database(settings.database_url, settings.db_lock_timeout_seconds), keys=keystore_from(settings))
    redis_url = settings.bus_url if settings.bus_url.startswith("redis") else None
    ns = bus_namespace(settings)
    rt.presence = RedisPresence(redis_url, ns) if redis_url else LocalPresence()
    rt.rate_limiter = (RedisWindow(redis_url, settings.send_rate_per_minute, settings.send_burst, ns)
                       if redis_url else TokenBucket(settings.send_rate_per_minute, settings.send_burst))
    # Directory harvesting (issue 21 item 10): pages of people and person cards, per person, shared by
    # every process when Redis is configured. No burst beyond the minute's allowance.
    rt.directory_limiter, rt.directory_card_limiter = (
        RedisWindow(redis_url, per_minute, 0, f"{ns}:{key}" if ns else key) if redis_url
        else TokenBucket(per_minute, per_minute)
        for key, per_minute in (("directory_limiter", settings.directory_rate_per_minute),
                                ("directory_card_limiter", settings.directory_card_rate_per_minute)))
    rt.notifier = notify.from_settings(
        settings.data_dir, settings.extra, on_outcome=lambda channel, outcome: metrics.NOTIFICATIONS.labels(
            channel, outcome).inc(), seal=notifications.sealer(rt))
    probes = rt.health_probes
    probes["notifications_dead_letters"] = lambda: notify.count_dead_letters(settings.data_dir)

    def fault_counts(which: int) -> float:
        from mixun.services.faults import open_counts

        return float(open_counts(Ctx(rt=rt))[which])

    probes["fault_reports_open"] = lambda: fault_counts(0)
    probes["fault_reports_overdue"] = lambda: fault_counts(1)
    install_dlp(rt)
    return rt


def bus_namespace(settings: Settings) -> str:
    """Processes on one database share a namespace on the bus; other deployments on the same Redis or
    NATS server never hear them (MIXUN_BUS_NAMESPACE overrides)."""
    explicit = settings.extra.get("MIXUN_BUS_NAMESPACE")
    return explicit or hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]


def install_dlp(rt: Runtime) -> None:
    """Wire the DLP engine into the send path when it is available."""
    try:
        from mixun.services.dlp import make_hook
    except ImportError:
        return
    rt.dlp = make_hook(rt)
