"""Work statuses and the status others see: pure rules, no I/O."""

from __future__ import annotations

# What a person may set as their work status (the directory, their card, the presence events).
WORK_STATUSES = ("available", "busy", "meeting", "away")


def presence_status(work_status: str, online: bool) -> str:
    """The status others see: offline without a live connection, else online or the work status."""
    if not online:
        return "offline"
    return "online" if work_status == "available" else work_status
