"""The DLP engine: normalise once, run each detector where the native prescan says it can match, resolve overlaps.

Built once (the Aho–Corasick automaton is the expensive part) and shared: `scan` keeps no state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .detectors import classified_marking, credential, digit_runs, email, prohibited, secret_key, uscc
from .lexicons import DEFAULT_LEXICONS
from .normalize import Normalised, normalise
from .prescan import PRESCAN, Hits
from .spans import DisjointSpans
from .types import Candidate, Finding

# Words whose presence (after folding) means the credential or secret-key patterns are worth running
# on a text scanned without the prescan. They ride along in the lexicon automaton, so checking them
# costs nothing extra.
TRIGGERS = {
    **{w: credential.NAME for w in ("密码", "口令", "密令", "pin", "pass", "pwd")},
    **{
        w: secret_key.NAME
        for w in (
            "privatekey", "akia", "asia", "ghp", "gho", "ghu", "ghs", "ghr", "githubpat", "xoxa", "xoxb",
            "xoxp", "xoxr", "xoxs", "aiza", "sklive", "sktest", "rklive", "rktest", "eyj", "ltai", "akid",
            "secret", "token", "apikey", "accesskey",
        )
    },
}

DEFAULT_MIN_CONFIDENCE = 0.5
# Texts shorter than this are scanned without the prescan: on a chat message a few CPython regex passes
# over a few hundred characters cost less than the native call and its callbacks (bench/bench_dlp.py).
PRESCAN_FROM = 1000


class DlpEngine:
    """Scans text for the detectors named in INTERFACE.md.

    `lexicons` maps a `prohibited` category to its terms (DEFAULT_LEXICONS when None); findings below
    `min_confidence` are dropped before overlap resolution, so a weak guess never hides a strong one.
    """

    def __init__(
        self,
        lexicons: Mapping[str, Iterable[str]] | None = None,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        prescan: bool = True,
        prescan_from: int = PRESCAN_FROM,
    ) -> None:
        self._lexicon = prohibited.LexiconMatcher(DEFAULT_LEXICONS if lexicons is None else lexicons, TRIGGERS)
        self.min_confidence = min_confidence
        self._prescan = PRESCAN if prescan else None
        self._prescan_from = prescan_from

    @property
    def term_count(self) -> int:
        return self._lexicon.term_count

    def scan(self, text: str) -> list[Finding]:
        if not text:
            return []
        found = None
        if self._prescan is not None and len(text) >= self._prescan_from:
            found = self._prescan.scan(text)  # None when the text hits nearly everywhere
        if found is None:
            norm = normalise(text)
            return self._findings(norm, self._candidates(norm.text, None))
        norm, hits = found
        return self._findings(norm, self._candidates(norm.text, hits))

    def _candidates(self, t: str, hits: Hits | None) -> list[Candidate]:
        """Each detector where the prescan says it can fire; without it, everywhere (the credential and
        secret-key patterns only when one of their trigger words occurs)."""
        cands: list[Candidate] = []
        if hits is None or hits.digits:
            cands += digit_runs.find(t, self.min_confidence, None if hits is None else hits.digits)
        if hits is None or hits.uscc:
            cands += uscc.find(t, None if hits is None else hits.uscc)
        cands += uscc.find_grouped(t)
        if email.may_hold(t):
            cands += email.find(t)
        lexicon, triggered = self._lexicon.run(t, None if hits is None else hits.decor)
        cands += lexicon
        if hits is None:
            if credential.NAME in triggered:
                cands += credential.find(t)
            if secret_key.NAME in triggered or "sk-" in t or "-----BEGIN" in t:
                cands += secret_key.find(t)
        else:
            if hits.credential:
                cands += credential.find(t, hits.credential)
            if hits.token or hits.assigned or "-----BEGIN" in t:
                cands += secret_key.find(t, hits.token, hits.assigned)
        if ("密" in t) if hits is None else hits.marking:
            cands += classified_marking.find(t, None if hits is None else hits.marking)
        return cands

    def _findings(self, norm: Normalised, cands: list[Candidate]) -> list[Finding]:
        minc = self.min_confidence
        if not cands:
            return []
        out: list[Finding] = []
        for c in _resolve(c for c in cands if c.confidence >= minc):
            start, end = norm.span(c.start, c.end)
            out.append(Finding(c.detector, start, end, round(c.confidence, 3), c.masked, c.category))
        out.sort(key=lambda f: (f.start, f.end))
        return out


def _resolve(cands: Iterable[Candidate]) -> list[Candidate]:
    """Where candidates overlap, the most confident wins (then the longer, then detector priority)."""
    ordered = sorted(cands, key=lambda c: (-c.confidence, c.start - c.end, c.priority))
    taken = DisjointSpans()
    return [c for c in ordered if taken.add(c.start, c.end)]
