"""Response models of secadmin's DLP console (routes/dlp.py): the policy, lexicons, trying a policy on a
text (ADR 0018; the hits' model, ``DlpHits``, is in api/models.py)."""

from __future__ import annotations

from typing import NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from mixun.api.models import OUT


@with_config(OUT)
class DlpRule(TypedDict):
    """``domain.dlp.policy.Rule.to_dict``: an action for the findings it matches; a key left out matches all."""

    action: str
    detectors: NotRequired[list[str]]
    channels: NotRequired[list[str]]
    roles: NotRequired[list[str]]
    unit_prefix: NotRequired[str]
    min_confidence: NotRequired[float]


@with_config(OUT)
class DlpThreshold(TypedDict):
    """``domain.dlp.policy.Threshold.to_dict``: ``count`` findings of ``detectors`` in one text take ``action``."""

    detectors: list[str]
    count: int
    action: str
    channels: NotRequired[list[str]]
    reason: NotRequired[str]


@with_config(OUT)
class DlpPolicyDocument(TypedDict):
    """``domain.dlp.policy.Policy.to_dict``."""

    version: int
    default_action: str
    encrypted_file_action: str
    rules: list[DlpRule]
    thresholds: list[DlpThreshold]


@with_config(OUT)
class DlpPolicy(TypedDict):
    """``services.dlp.get_policy``: the policy in force (``id`` null and ``default`` true: the built-in one)
    and the names it may use."""

    id: int | None
    policy: DlpPolicyDocument
    default: bool
    channels: list[str]
    categories: list[str]
    detectors: list[str]


@with_config(OUT)
class DlpTerm(TypedDict):
    id: int
    category: str
    term: str
    created_at: str


@with_config(OUT)
class DlpTerms(TypedDict):
    """``services.dlp.list_terms``: the added terms, and how many each built-in lexicon holds."""

    terms: list[DlpTerm]
    builtin_counts: dict[str, int]
    next_offset: int | None


@with_config(OUT)
class DlpTermsAdded(TypedDict):
    """``services.dlp.add_terms``: how many were new."""

    added: int


@with_config(OUT)
class DlpTermsRemoved(TypedDict):
    """``services.dlp.remove_terms``."""

    removed: int


@with_config(OUT)
class DlpScanFinding(TypedDict):
    """A finding of a trial scan (the value masked, never raw); ``confidence`` as the engine rounds it."""

    detector: str
    start: int
    end: int
    masked: str
    action: str
    confidence: int | float
    category: str | None


@with_config(OUT)
class DlpScan(TypedDict):
    """``services.dlp.try_scan``: the verdict, the reasons of the thresholds that fired, the findings and
    the text as it would be delivered."""

    action: str
    thresholds: list[str]
    findings: list[DlpScanFinding]
    masked_text: str
