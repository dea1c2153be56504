"""`prohibited`: the security administrators' lexicons, many thousands of terms matched in one pass.

The text is matched as UTF-8 bytes by the Rust `aho-corasick` automaton (ahocorasick-rs): with Chinese
text a character-level automaton's root has thousands of children and crawls, while the byte-level one
keeps every node small (and the Rust one runs ~2.5× faster than pyahocorasick over the same bytes). ASCII punctuation and spaces are dropped from the bytes and
decorative symbols blanked first, so "赌 博", "赌*博" and "赌★博" all match 赌博; Traditional spellings
are added to the automaton instead of converting the text, which would cost a pass over every message.
Chinese sentence punctuation (，。) is kept as a real boundary so two sentences do not run together.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import ahocorasick_rs

from ..normalize import blank_at, blank_decorations, fold_term, s2t_variants
from ..spans import DisjointSpans
from ..types import Candidate

NAME = "prohibited"
MAX_VARIANTS_PER_TERM = 64

# Bytes removed before matching: ASCII controls, spaces and punctuation (digits and letters stay).
_SEP_BYTES = bytes([*range(0x00, 0x30), *range(0x3A, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x80)])
_LOWER = bytes.maketrans(bytes(range(0x41, 0x5B)), bytes(range(0x61, 0x7B)))
_SEP_SET = frozenset(_SEP_BYTES)

_TRIGGER = 0
_TERM = 1
# A DFA scans fastest while it fits in cache; past this many patterns the default automaton is faster
# (and a DFA of 20,000 terms would take ~60 MB).
_DFA_MAX_PATTERNS = 1000


def _variants(term: str) -> Iterable[str]:
    """The folded term and its Traditional spellings (capped: a term of rare characters stays cheap)."""
    table = s2t_variants()
    choices = [(c, *table.get(c, ())) for c in term]
    return itertools.islice(("".join(p) for p in itertools.product(*choices)), MAX_VARIANTS_PER_TERM)


def _advance(raw: bytes, pos: int, n: int) -> int:
    """From the kept (not deleted) byte at `pos`, the position of the kept byte `n` kept bytes later.

    Counts kept bytes a slice at a time with bytes.translate, so long stretches cost C time only.
    """
    while n > 0:
        chunk = raw[pos + 1 : pos + 1 + n]
        pos += len(chunk)
        n -= len(chunk.translate(None, _SEP_BYTES))
    while raw[pos] in _SEP_SET:  # the slice may end on deleted bytes after the kept one we want
        pos -= 1
    return pos


class LexiconMatcher:
    """Immutable after construction; `run` may be called from many threads at once."""

    def __init__(self, lexicons: Mapping[str, Iterable[str]], triggers: Mapping[str, str]) -> None:
        patterns: list[bytes] = []
        self._values: list[tuple[int, str]] = []
        seen: set[bytes] = set()

        def add(word: str, kind: int, label: str) -> None:
            for v in _variants(word):
                k = v.encode("utf-8")
                if k not in seen:
                    seen.add(k)
                    patterns.append(k)
                    self._values.append((kind, label))

        self.term_count = 0
        for category, terms in lexicons.items():
            for term in terms:
                folded = fold_term(term)
                if folded:
                    self.term_count += 1
                    add(folded, _TERM, category)
        for word, detector in triggers.items():
            add(fold_term(word), _TRIGGER, detector)
        # Standard semantics with overlapping matches: every term and trigger that occurs is reported
        # (the longest-first choice among overlapping terms is made below).
        impl = ahocorasick_rs.Implementation.DFA if len(patterns) <= _DFA_MAX_PATTERNS else None
        self._ac = ahocorasick_rs.BytesAhoCorasick(
            patterns, matchkind=ahocorasick_rs.MATCHKIND_STANDARD, implementation=impl
        )

    def run(self, text: str, decorations: list[int] | None = None) -> tuple[list[Candidate], set[str]]:
        """Lexicon candidates (offsets in `text`) and the detectors whose trigger words occur.

        `decorations` are the decorative symbols' positions when the prescan found them; None finds
        them here."""
        blanked = blank_decorations(text) if decorations is None else blank_at(text, decorations)
        raw = blanked.encode("utf-8")
        squeezed = raw.translate(_LOWER, _SEP_BYTES)
        hits: list[tuple[int, int, str]] = []
        triggered: set[str] = set()
        values = self._values
        for idx, start, end in self._ac.find_matches_as_indexes(squeezed, overlapping=True):
            kind, label = values[idx]
            if kind == _TRIGGER:
                triggered.add(label)
            else:
                hits.append((start, end, label))
        if not hits:
            return [], triggered
        return self._to_candidates(text, raw, len(squeezed) != len(raw), hits), triggered

    @staticmethod
    def _to_candidates(text: str, raw: bytes, squeezed: bool, hits: list[tuple[int, int, str]]) -> list[Candidate]:
        # Longest match first, then leftmost; nested and overlapping shorter terms are dropped.
        hits.sort(key=lambda h: (h[0] - h[1], h[0]))
        taken = DisjointSpans()
        kept = sorted(h for h in hits if taken.add(h[0], h[1]))
        out: list[Candidate] = []
        # Walk squeezed positions forward to raw byte positions, then raw bytes to code points. Both
        # walks move only forward, in C (translate/decode over slices), so the cost is one pass at most.
        raw_pos = 0
        while squeezed and raw[raw_pos] in _SEP_SET:
            raw_pos += 1
        sq_pos = cp = cp_byte = 0
        for s_start, s_end, cat in kept:
            if squeezed:
                b_start = raw_pos = _advance(raw, raw_pos, s_start - sq_pos)
                raw_pos = _advance(raw, raw_pos, s_end - 1 - s_start)
                sq_pos = s_end - 1
                b_end = raw_pos + 1
            else:
                b_start, b_end = s_start, s_end
            cp += len(raw[cp_byte:b_start].decode("utf-8"))
            start = cp
            cp += len(raw[b_start:b_end].decode("utf-8"))
            cp_byte = b_end
            masked = text[start] + "*" * (cp - start - 1)
            out.append(Candidate(NAME, start, cp, 0.9, masked, category=cat, priority=45))
        return out
