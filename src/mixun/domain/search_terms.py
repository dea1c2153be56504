"""Chinese-ready full-text terms: overlapping character bigrams (plus each run's last character).

Chinese has no spaces and default parsers do not segment it, and trigram indexes miss queries shorter
than three characters. Indexing every pair of neighbouring characters finds any query of two or more
characters (利率, 授信, a two-character name) by intersecting its bigrams, then confirming the substring;
a one-character query is a prefix range over the bigrams and last characters.
"""

from __future__ import annotations

import re
import unicodedata

TERM_MAX = 8
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Full-width to half-width, case-folded; what both indexing and matching compare."""
    return unicodedata.normalize("NFKC", text).casefold()


def runs(text: str) -> list[str]:
    return [r for r in _SEPARATORS.split(normalise(text)) if r]


def index_terms(text: str) -> set[str]:
    """Every bigram of every run, and each run's last character (so one-character queries work)."""
    terms: set[str] = set()
    for run in runs(text):
        terms.update(map(str.__add__, run, run[1:]))  # the bigrams, pairwise
        terms.add(run[-1])
    return terms


def query_terms(query: str) -> tuple[list[str], list[str]]:
    """(bigrams every match must contain, single characters matched by prefix)."""
    bigrams: list[str] = []
    singles: list[str] = []
    for run in runs(query):
        if len(run) == 1:
            singles.append(run)
        else:
            bigrams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(bigrams)), list(dict.fromkeys(singles))


def matches(query: str, text: str) -> bool:
    """The confirmation step: every query run occurs in the text as a substring."""
    hay = normalise(text)
    return all(run in hay for run in runs(query))
