"""Prometheus metrics (issue 22, O4): what the server counts, and the text ``GET /metrics`` serves.

The metrics are prometheus-client's. Under ``mixun serve`` every process (each worker of ``--workers N``
and each one's send-writer process) writes its values to files in a directory of its own
(``PROMETHEUS_MULTIPROC_DIR``, set by ``mixun serve`` before anything imports prometheus-client:
cli/main.py ``_metrics_directory``), and a scrape of any worker adds them up: the figures are the
server's, not one process's. Embedded apps (tests, tools) keep them in memory.

Health gauges (database, bus, virus scanner, overdue fault reports) are read at scrape time by
``HealthCollector``, never stored. Every metric named in ``ops/prometheus/mixun-alerts.yml`` and
``ops/grafana/mixun-dashboard.json`` is defined here (tests/api/test_metrics.py checks it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SENDS = Counter("mixun_messages_sent_total", "Messages accepted (a 201 for a new message)")
SEND_SECONDS = Histogram("mixun_send_seconds", "A send's request to its 201 (written and committed)",
                         buckets=LATENCY_BUCKETS)
SEND_FAILURES = Counter("mixun_send_failures_total", "Sends answered with an error, by error code", ["code"])
DELIVERIES = Counter("mixun_deliveries_total", "Events pushed live to WebSocket connections")
DELIVERY_SECONDS = Histogram("mixun_delivery_latency_seconds",
                             "A message's commit to its push on a recipient's WebSocket (send to deliver)",
                             buckets=LATENCY_BUCKETS)
WS_CONNECTIONS = Gauge("mixun_websocket_connections", "Open WebSocket connections",
                       multiprocess_mode="livesum")
WS_DROPPED = Counter("mixun_websocket_dropped_total", "Connections the server closed, by reason", ["reason"])
SEND_QUEUE = Gauge("mixun_send_queue_depth", "Sends waiting for the writer", multiprocess_mode="livesum")
WRITER_BATCHES = Counter("mixun_writer_batches_total", "Batches the send writer committed")
WRITER_BATCH_SIZE = Histogram("mixun_writer_batch_size", "Sends per writer batch",
                              buckets=(1, 2, 4, 8, 16, 32, 64, 128))
DLP_FINDINGS = Counter("mixun_dlp_findings_total", "DLP findings, by detector and the action taken",
                       ["detector", "action"])
DLP_VERDICTS = Counter("mixun_dlp_verdicts_total", "DLP verdicts on messages and files, by action and channel",
                       ["action", "channel"])
ERRORS = Counter("mixun_errors_total", "Error answers, by error code", ["code"])
SERVER_ERRORS = Counter("mixun_server_errors_total", "Unexpected errors (answered 500)")
LOGIN_FAILURES = Counter("mixun_login_failures_total", "Failed logins, by reason", ["reason"])
LOCKOUTS = Counter("mixun_lockouts_total", "Accounts locked after repeated failed logins")
NOTIFICATIONS = Counter("mixun_notifications_total", "Notifications handed to a gateway, by channel and outcome",
                        ["channel", "outcome"])


class HealthCollector:
    """Gauges read at scrape time: ``probes`` maps a metric name to (help, a callable giving its value)."""

    def __init__(self, probes: dict[str, tuple[str, Callable[[], float]]]) -> None:
        self.probes = probes

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, (doc, probe) in self.probes.items():
            try:
                value = float(probe())
            except Exception:  # noqa: BLE001 - a probe that fails reports the thing as down
                value = 0.0
            yield GaugeMetricFamily(name, doc, value=value)


def render(probes: dict[str, tuple[str, Callable[[], float]]]) -> tuple[bytes, str]:
    """The exposition text of every process's metrics (added up) and the health gauges."""
    health = CollectorRegistry(auto_describe=False)
    health.register(HealthCollector({**probes, "mixun_scrape_timestamp_seconds":
                                     ("When this scrape was answered", time.time)}))
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return body + generate_latest(health), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """A server process ends: its live gauges (connections, queue depth) stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def defined_names() -> set[str]:
    """Every series name this module defines (with the _total / _bucket / ... forms) and the health gauges."""
    names: set[str] = set(HEALTH_GAUGES) | {"mixun_scrape_timestamp_seconds"}
    for metric in (SENDS, SEND_SECONDS, SEND_FAILURES, DELIVERIES, DELIVERY_SECONDS, WS_CONNECTIONS, WS_DROPPED,
                   SEND_QUEUE, WRITER_BATCHES, WRITER_BATCH_SIZE, DLP_FINDINGS, DLP_VERDICTS, ERRORS,
                   SERVER_ERRORS, LOGIN_FAILURES, LOCKOUTS, NOTIFICATIONS):
        for family in metric.describe():
            names.add(family.name)
            for suffix in ("_total", "_created", "_bucket", "_count", "_sum"):
                names.add(family.name + suffix)
    return names


# The scrape-time gauges api/app.py provides probes for.
HEALTH_GAUGES = {
    "mixun_database_up": "1 when the database answers a query",
    "mixun_bus_up": "1 when the bus between server processes is connected (always 1 in-process)",
    "mixun_scanner_up": "1 when ClamAV's clamd answers",
    "mixun_fault_reports_open": "Fault reports not yet resolved",
    "mixun_fault_reports_overdue": "Fault reports unresolved past their 24-hour deadline",
    "mixun_notifications_dead_letters": "Notifications given up after their retries (the dead-letter list)",
}
