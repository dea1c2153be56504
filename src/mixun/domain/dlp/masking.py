"""Masking (脱敏) of detected values following JR/T 0171: keep only the parts a reader may see.

ID numbers keep the first 6 and last 4 characters, cards the first 6 and last 4 digits, mobiles the
first 3 and last 4; secrets are replaced entirely.
"""

from __future__ import annotations

from collections.abc import Iterable

from .types import Finding


def keep_ends(value: str, head: int, tail: int) -> str:
    """Stars in the middle; too-short values are starred completely rather than revealed."""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_id(number: str) -> str:
    return keep_ends(number.upper(), 6, 4)


def mask_card(digits: str) -> str:
    return keep_ends(digits, 6, 4)


def mask_mobile(digits: str) -> str:
    return keep_ends(digits, 3, 4)


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    shown = 1 if len(local) <= 3 else 2
    return local[:shown] + "*" * max(3, len(local) - shown) + "@" + domain


def mask_secret(value: str) -> str:
    return "******"


def mask_text(text: str, findings: Iterable[Finding]) -> str:
    """The text with each finding's span replaced by its masked form (overlapping spans: first wins)."""
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos:
            continue
        out.append(text[pos : f.start])
        out.append(f.masked)
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
