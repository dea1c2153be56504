"""Escalation levels of a person's violations (C7): the order of severity, shared by DLP blocks and
reviewers' decisions, so neither can lower what the other reached."""

from __future__ import annotations

LEVELS = ("none", "warning", "unit_notice", "suspension")


def higher_level(a: str, b: str) -> str:
    """The more severe of two escalation levels (an unknown level counts as none)."""
    rank = {lvl: i for i, lvl in enumerate(LEVELS)}
    return a if rank.get(a, 0) >= rank.get(b, 0) else b
