"""Inline data-loss prevention: detectors, policy, masking. Pure: no I/O, no framework, no settings.

The send path, the file inspection and `mixun dlp scan` all call `DlpEngine.scan` then `decide`.
"""

from .engine import DlpEngine
from .lexicons import CATEGORIES, DEFAULT_LEXICONS
from .masking import mask_text
from .policy import ACTIONS, CHANNELS, DEFAULT_POLICY, Decision, Policy, Rule, Threshold, Verdict, decide
from .types import DETECTORS, SENSITIVE_DETECTORS, Finding

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "CHANNELS",
    "DEFAULT_LEXICONS",
    "DEFAULT_POLICY",
    "DETECTORS",
    "SENSITIVE_DETECTORS",
    "Decision",
    "DlpEngine",
    "Finding",
    "Policy",
    "Rule",
    "Threshold",
    "Verdict",
    "decide",
    "mask_text",
]
