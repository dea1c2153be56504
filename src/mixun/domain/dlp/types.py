"""The value types the DLP engine produces: a finding and a raw candidate before overlap resolution."""

from __future__ import annotations

from dataclasses import dataclass

DETECTORS = (
    "cn_id_card",
    "bank_card",
    "cn_mobile",
    "uscc",
    "email",
    "credential",
    "secret_key",
    "classified_marking",
    "prohibited",
)

# Detectors whose value is itself confidential: their `masked` never carries the raw value.
SENSITIVE_DETECTORS = frozenset({"cn_id_card", "bank_card", "cn_mobile", "email", "credential", "secret_key"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected item. `start`/`end` are code-point offsets into the original text."""

    detector: str
    start: int
    end: int
    confidence: float
    masked: str
    category: str | None = None


@dataclass(slots=True)
class Candidate:
    """A finding before overlap resolution, with offsets still in normalised-text coordinates."""

    detector: str
    start: int
    end: int
    confidence: float
    masked: str
    category: str | None = None
    # Tie-breaker when two overlapping candidates are equally confident (lower wins).
    priority: int = 50
