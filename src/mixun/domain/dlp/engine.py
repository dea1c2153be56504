"""The DLP engine: normalise once, run the detectors a cheap pre-check says can match, resolve overlaps.

Built once (the Aho–Corasick automaton is the expensive part) and shared: `scan` keeps no state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .detectors import classified_marking, credential, digit_runs, email, prohibited, secret_key, uscc
from .lexicons import DEFAULT_LEXICONS
from .normalize import normalise
from .spans import DisjointSpans
from .types import Candidate, Finding

# Words whose presence (after folding) means the credential or secret-key regexes are worth running.
# They ride along in the lexicon automaton, so checking them costs nothing extra.
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
    ) -> None:
        self._lexicon = prohibited.LexiconMatcher(DEFAULT_LEXICONS if lexicons is None else lexicons, TRIGGERS)
        self.min_confidence = min_confidence

    @property
    def term_count(self) -> int:
        return self._lexicon.term_count

    def scan(self, text: str) -> list[Finding]:
        if not text:
            return []
        norm = normalise(text)
        t = norm.text
        minc = self.min_confidence
        cands: list[Candidate] = digit_runs.find(t, minc)
        cands += uscc.find(t)
        if "@" in t:
            cands += email.find(t)
        lex, triggered = self._lexicon.run(t)
        cands += lex
        if credential.NAME in triggered:
            cands += credential.find(t)
        if secret_key.NAME in triggered or "sk-" in t or "-----BEGIN" in t:
            cands += secret_key.find(t)
        if "密" in t:
            cands += classified_marking.find(t)
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
