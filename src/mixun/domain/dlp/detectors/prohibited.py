"""`prohibited`: the security administrators' lexicons, many thousands of terms matched in one pass.

The text is matched as UTF-8 bytes (decoded as Latin-1 so pyahocorasick sees a 256-symbol alphabet):
with Chinese text a character-level automaton's root has thousands of children and crawls, while the
byte-level one keeps every node small. ASCII punctuation and spaces are dropped from the bytes and
decorative symbols blanked first, so "赌 博", "赌*博" and "赌★博" all match 赌博; Traditional spellings
are added to the automaton instead of converting the text, which would cost a pass over every message.
Chinese sentence punctuation (，。) is kept as a real boundary so two sentences do not run together.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping

import ahocorasick

from ..normalize import blank_decorations, fold_term, s2t_variants
from ..types import Candidate

NAME = "prohibited"
MAX_VARIANTS_PER_TERM = 64

# Bytes removed before matching: ASCII controls, spaces and punctuation (digits and letters stay).
_SEP_BYTES = bytes([*range(0x00, 0x30), *range(0x3A, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x80)])
_LOWER = bytes.maketrans(bytes(range(0x41, 0x5B)), bytes(range(0x61, 0x7B)))
_SEP_RE = re.compile(b"[" + re.escape(_SEP_BYTES) + b"]")

_TRIGGER = 0
_TERM = 1


def _variants(term: str) -> Iterable[str]:
    """The folded term and its Traditional spellings (capped: a term of rare characters stays cheap)."""
    table = s2t_variants()
    choices = [(c, *table.get(c, ())) for c in term]
    return itertools.islice(("".join(p) for p in itertools.product(*choices)), MAX_VARIANTS_PER_TERM)


def _key(s: str) -> str:
    return s.encode("utf-8").decode("latin-1")


class LexiconMatcher:
    """Immutable after construction; `run` may be called from many threads at once."""

    def __init__(self, lexicons: Mapping[str, Iterable[str]], triggers: Mapping[str, str]) -> None:
        ac = ahocorasick.Automaton()
        self.term_count = 0
        for category, terms in lexicons.items():
            for term in terms:
                folded = fold_term(term)
                if not folded:
                    continue
                self.term_count += 1
                for v in _variants(folded):
                    k = _key(v)
                    if k not in ac:
                        ac.add_word(k, (_TERM, category, len(k)))
        for word, detector in triggers.items():
            for v in _variants(fold_term(word)):
                k = _key(v)
                if k not in ac:
                    ac.add_word(k, (_TRIGGER, detector, len(k)))
        ac.make_automaton()
        self._ac = ac

    def run(self, text: str) -> tuple[list[Candidate], set[str]]:
        """Lexicon candidates (offsets in `text`) and the detectors whose trigger words occur."""
        raw = blank_decorations(text).encode("utf-8")
        squeezed = raw.translate(_LOWER, _SEP_BYTES)
        hits: list[tuple[int, int, str]] = []
        triggered: set[str] = set()
        for last, (kind, label, nbytes) in self._ac.iter(squeezed.decode("latin-1")):
            if kind == _TRIGGER:
                triggered.add(label)
            else:
                hits.append((last + 1 - nbytes, last + 1, label))
        if not hits:
            return [], triggered
        return self._to_candidates(text, raw, len(squeezed) != len(raw), hits), triggered

    @staticmethod
    def _to_candidates(text: str, raw: bytes, squeezed: bool, hits: list[tuple[int, int, str]]) -> list[Candidate]:
        # Longest match first, then leftmost; nested and overlapping shorter terms are dropped.
        hits.sort(key=lambda h: (h[0] - h[1], h[0]))
        kept: list[tuple[int, int, str]] = []
        for h in hits:
            if all(h[1] <= k[0] or h[0] >= k[1] for k in kept):
                kept.append(h)
        adj: list[int] = []
        if squeezed:
            adj = [pos - rank for rank, pos in enumerate(m.start() for m in _SEP_RE.finditer(raw))]
        def to_raw(p: int) -> int:
            return p + bisect_right(adj, p) if adj else p

        spans = sorted((to_raw(s), to_raw(e - 1) + 1, cat) for s, e, cat in kept)
        out: list[Candidate] = []
        byte_pos, cp = 0, 0
        for bs, be, cat in spans:
            cp += len(raw[byte_pos:bs].decode("utf-8"))
            start = cp
            cp += len(raw[bs:be].decode("utf-8"))
            byte_pos = be
            masked = text[start] + "*" * (cp - start - 1)
            out.append(Candidate(NAME, start, cp, 0.9, masked, category=cat, priority=45))
        return out
