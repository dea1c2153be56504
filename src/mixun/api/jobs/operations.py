"""Operations: fault reports past their clock escalated, newly raised alerts sent to the supervisor."""

from __future__ import annotations

import logging

from mixun.services import faults, ops_alerts
from mixun.services.runtime import Ctx, Runtime

log = logging.getLogger("mixun.app")


def escalate_overdue_faults(rt: Runtime) -> None:
    """Fault reports past their clock are escalated (once, whichever process gets there first)."""
    try:
        faults.escalate_overdue(Ctx(rt=rt, ip="127.0.0.1", client="mixun-server"))
    except Exception:
        log.exception("escalating overdue fault reports failed; retried at the next sweep")


def send_new_alerts(rt: Runtime) -> None:
    """Newly raised fault alerts to the supervisor, through the gateways."""
    try:
        ops_alerts.notify_new(rt)
    except Exception:
        log.exception("checking operations alerts failed; retried at the next sweep")
