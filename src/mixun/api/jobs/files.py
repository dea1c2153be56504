"""Files: those that arrived while clamd was away are scanned once it is back; the drive's
housekeeping (services/drive.py ``housekeeping``)."""

from __future__ import annotations

import logging

from mixun.services import drive as drive_service
from mixun.services.attachments import rescan_pending
from mixun.services.runtime import Runtime

log = logging.getLogger("mixun.app")


def rescan_files(rt: Runtime) -> None:
    """Files that arrived while clamd was away are scanned once it is back (D7)."""
    try:
        while rescan_pending(rt) >= 20:
            pass
    except Exception:
        log.exception("rescanning waiting files failed; retried at the next sweep")


def drive_housekeeping(rt: Runtime) -> None:
    try:
        drive_service.housekeeping(rt)
    except Exception:
        log.exception("drive housekeeping failed; retried at the next sweep")
