"""The scheduled account review (services/account_review.py): once a day, by whichever server is first."""

from __future__ import annotations

import logging

from mixun.services.account_review import run_if_due
from mixun.services.runtime import Runtime

log = logging.getLogger("mixun.app")


def review_accounts(rt: Runtime) -> None:
    try:
        run_if_due(rt)
    except Exception:
        log.exception("the scheduled account review failed; retried at the next sweep")
