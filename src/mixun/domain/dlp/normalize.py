"""Text normalisation for the DLP detectors, with the offset maps that lead findings back to the original.

Everything here is a pure function of its input; the Traditional→Simplified table is read once from the
opencc package's own data (read-only package data, no configuration and no user files).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Zero-width and invisible formatting characters that evade matching but show nothing to a reader.
ZERO_WIDTH = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"

# Full-width ASCII letters, digits and the symbols that matter inside numbers, e-mails and tokens.
# Chinese sentence punctuation (，：；！？（）) is deliberately left alone: mapping it would make every
# Chinese message take the slow path, and the detectors accept both forms where it matters.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
_FULLWIDTH.update({cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)})
_FULLWIDTH.update({cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)})
_FULLWIDTH.update({ord(c): ord(c) - 0xFEE0 for c in "＠＋－＊．＿＝＃＄＆％／"})
# Every Unicode space becomes an ASCII one, so a space of any width inside a keyword ("密\u2005码") is a
# space the detectors' keyword gaps (KEYWORD_GAP) and the lexicon pass already skip.
_FULLWIDTH.update({cp: 0x20 for cp in (0x3000, 0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F)})
_FULLWIDTH.update({0x0085: 0x0A, 0x2028: 0x0A, 0x2029: 0x0A})  # line and paragraph separators: a new line
# Dashes people type inside phone and card numbers.
_FULLWIDTH.update({cp: 0x2D for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212, 0xFE63)})
_WIDTH_TABLE = str.maketrans(_FULLWIDTH)
# Every character `normalise` changes or removes.
NORMALISED_CHARS = "".join(chr(c) for c in sorted(_FULLWIDTH)) + ZERO_WIDTH

_WIDTH_CHARS = "".join(re.escape(chr(c)) for c in sorted(_FULLWIDTH))
_NEEDS_NORM = re.compile("[" + _WIDTH_CHARS + ZERO_WIDTH + "]+")
_NORM_TABLE = str.maketrans({**_FULLWIDTH, **{ord(c): None for c in ZERO_WIDTH}})
_ZERO_WIDTH_RE = re.compile("[" + ZERO_WIDTH + "]")


# Decorative symbols used as interference between the characters of a forbidden term ("赌★博").
# They become spaces for the lexicon pass, which then drops ASCII punctuation and spaces.
DECORATIVE = "★☆※·•●○◆◇■□▲△▼▽♂♀♠♣♥♦◎¤§†‡…～〃々〇ˉˇ¨‖"
_DECORATIVE_RE = re.compile("[" + re.escape(DECORATIVE) + "]")


# Separators someone may put between the characters of a keyword to slip past a detector ("密 码",
# "绝*密", "api-key"): spaces (every Unicode space is one after `normalise`), a line break, ASCII punctuation
# that means nothing there, and the decorative symbols; at most six in a row ("机 - 密", "密    码"). The lexicon
# pass drops or blanks the same characters, so its trigger words and the detectors' keyword patterns agree.
KEYWORD_GAP_CHARS = " \t\n*._-/\\|~+·•●○◆◇■□★☆※"
KEYWORD_GAP_MAX = 6
KEYWORD_GAP = "[" + re.escape(KEYWORD_GAP_CHARS) + f"]{{0,{KEYWORD_GAP_MAX}}}"


class OffsetMap:
    """Maps positions in a text with some characters deleted back to the text before deletion.

    `deleted` are the original positions that were removed, ascending. A kept character at new
    position p sits at p + (number of deletions at or before it); bisecting the deletion positions
    shifted by their rank answers that in O(log n) without materialising a per-character table.
    """

    __slots__ = ("_adj",)

    def __init__(self, deleted: list[int]) -> None:
        self._adj = [pos - rank for rank, pos in enumerate(deleted)]

    def start(self, p: int) -> int:
        return p + bisect_right(self._adj, p)

    def end(self, p: int) -> int:
        # An exclusive end maps through the last character it covers.
        return self.start(p - 1) + 1 if p > 0 else 0


@dataclass(frozen=True, slots=True)
class Normalised:
    """`text` is what detectors see; `offsets` is None when every position equals the original's."""

    text: str
    offsets: OffsetMap | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.offsets is None:
            return start, end
        return self.offsets.start(start), self.offsets.end(end)


def normalise(text: str, runs: list[tuple[int, int]] | None = None) -> Normalised:
    """Full-width to half-width, odd spaces to ' ', dashes to '-', zero-width characters removed.

    `runs` are the [start, end) stretches of characters to change, ascending, when the caller already
    knows them (the prescan finds them in its native pass); otherwise one regex pass finds them.
    Either way the output is stitched from slices, so the cost grows with the changes, not the text
    (str.translate over a whole document with a dict table runs at ~15 MB/s).
    """
    if runs is None:
        runs = [m.span() for m in _NEEDS_NORM.finditer(text)]
    if not runs:
        return Normalised(text, None)
    parts: list[str] = []
    deleted: list[int] = []
    prev = 0
    for start, end in runs:
        parts.append(text[prev:start])
        seg = text[start:end]
        for m in _ZERO_WIDTH_RE.finditer(seg):
            deleted.append(start + m.start())
        parts.append(seg.translate(_NORM_TABLE))
        prev = end
    parts.append(text[prev:])
    out = "".join(parts)
    return Normalised(out, OffsetMap(deleted) if deleted else None)


def blank_at(text: str, positions: list[int]) -> str:
    """`blank_decorations` when the decorations' positions are already known (ascending)."""
    if not positions:
        return text
    parts: list[str] = []
    prev = 0
    for pos in positions:
        parts.append(text[prev:pos])
        prev = pos + 1
    parts.append(text[prev:])
    return " ".join(parts)


def blank_decorations(text: str) -> str:
    """Decorative symbols become spaces (same length), so the lexicon pass can skip them."""
    return _DECORATIVE_RE.sub(" ", text)


@lru_cache(maxsize=1)
def t2s_table() -> dict[str, str]:
    """Single-character Traditional→Simplified map from OpenCC's TSCharacters dictionary."""
    table: dict[str, str] = {}
    data = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text(encoding="utf-8")
    for line in data.splitlines():
        trad, _, simp = line.partition("\t")
        simp = simp.split(" ", 1)[0]
        if len(trad) == 1 and len(simp) == 1 and trad != simp:
            table[trad] = simp
    return table


@lru_cache(maxsize=1)
def _t2s_translate() -> dict[int, str]:
    return str.maketrans(t2s_table())


def to_simplified(text: str) -> str:
    """Character-by-character Traditional→Simplified; length preserved so offsets stay valid."""
    return text.translate(_t2s_translate())


@lru_cache(maxsize=1)
def s2t_variants() -> dict[str, tuple[str, ...]]:
    """For each Simplified character, the Traditional characters that fold onto it."""
    rev: dict[str, list[str]] = {}
    for trad, simp in t2s_table().items():
        rev.setdefault(simp, []).append(trad)
    return {s: tuple(ts) for s, ts in rev.items()}


def fold_term(term: str) -> str:
    """A lexicon term as the lexicon pass sees text: half-width, Simplified, lower-case, no separators."""
    t = to_simplified(blank_decorations(term.translate(_WIDTH_TABLE)))
    t = _ZERO_WIDTH_RE.sub("", t).lower()
    return re.sub(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f\s]+", "", t)
