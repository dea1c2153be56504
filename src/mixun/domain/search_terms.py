"""Chinese-ready full-text terms: overlapping character bigrams (plus each run's last character).

Chinese has no spaces and default parsers do not segment it, and trigram indexes miss queries shorter
than three characters. Indexing every pair of neighbouring characters finds any query of two or more
characters (利率, 授信, a two-character name) by intersecting its bigrams, then confirming the substring;
a one-character query is a prefix range over the bigrams and last characters.

The postings hold keyed hashes of the terms (``hashed``), not the terms: whoever reads the database sees
which messages share a term, never the term (docs/adr/0014-*.md says what that still reveals).
"""

from __future__ import annotations

import base64
import hmac
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

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


HASH_HEAD = 3  # characters of a hashed term that depend on its first character only
PREFIX_END = "\x7f"  # above every character a hashed term uses (base64url), for prefix ranges


@lru_cache(maxsize=1 << 18)
def hashed(key: bytes, term: str) -> str:
    """The posting of ``term`` under the search key: 8 characters (base64url of HMAC-SHA256), the first
    HASH_HEAD from the term's first character alone, so a one-character query is still a prefix range
    (``hashed(key, c) <= posting < hashed(key, c) + PREFIX_END``), the rest from the whole term."""
    head = base64.urlsafe_b64encode(hmac.digest(key, b"1" + term[:1].encode(), "sha256")[:3]).decode()
    if len(term) == 1:
        return head[:HASH_HEAD]
    tail = base64.urlsafe_b64encode(hmac.digest(key, b"2" + term.encode(), "sha256")[:6]).decode()
    return head[:HASH_HEAD] + tail[: 8 - HASH_HEAD]


def postings(key: bytes, rows: Iterable[tuple[int, str]]) -> tuple[list[str], list[int]]:
    """The postings of (version id, text) pairs, as two columns (hashed term, version id): what the
    indexer and the send batch (which indexes its new versions from the text in hand) both write."""
    terms: list[str] = []
    versions: list[int] = []
    for vid, text in rows:
        if text:
            # A set: two terms of one text whose hashes collide make one posting (the primary key).
            found = list({hashed(key, t) for t in index_terms(text) if len(t) <= TERM_MAX})
            terms += found
            versions += [vid] * len(found)
    return terms, versions
