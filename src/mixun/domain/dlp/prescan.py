"""A native pre-scan that says where each detector can fire, so the Python detectors skip the rest.

Hyperscan (the multi-pattern regex engine, from the `hyperscan` wheel) scans the text's UTF-16LE bytes
for small "gate" patterns: the characters normalisation must change, then (over the normalised text)
decorative symbols, runs of eleven or more digits, 18-character codes, credential keywords, token
prefixes, secret assignments and the shapes of classified markings. Each detector then runs its exact
pattern only at those places, so the findings are those of a full scan (a test holds the two equal) at a
fraction of the cost: CPython's `re` stops at every digit and letter of a document, Hyperscan does not.

Why UTF-16: a hit's unit offset is its code-point offset (minus one per earlier character beyond the
BMP, which are rare and counted only when present), so no pass is spent mapping byte offsets back, as
UTF-8 would need; UTF-32 is as simple but its runs of zero bytes make Hyperscan three times slower.
A two-byte pattern can also match astride two characters; such hits end at odd byte offsets and are
dropped.

Where the wheel is missing (a platform it does not ship for), `PRESCAN` is None and the engine scans
every character, as it did before; the findings are the same, only slower.
"""

from __future__ import annotations

import re
import string
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:  # pragma: no cover - the wheel is a pinned dependency; the fallback is for other platforms
    import hyperscan
except ImportError:  # pragma: no cover
    hyperscan = None  # type: ignore[assignment]

from .detectors import classified_marking, credential, digit_runs, secret_key
from .normalize import DECORATIVE, KEYWORD_GAP_MAX, NORMALISED_CHARS, Normalised, normalise

# What a gate's hit means. Positions are code points in the scanned text.
NORM = "norm"  # a character normalisation changes
DECOR = "decor"  # a decorative symbol the lexicon pass blanks (position)
DIGITS = "digits"  # eleven digits or more, separators allowed (the character that ends the stretch)
USCC = "uscc"  # 18 characters shaped like a social credit code (start)
CREDENTIAL = "credential"  # a password keyword (start, length)
TOKEN = "token"  # noqa: S105 - a kind of hit, not a secret: a token prefix such as AKIA (start, length)
ASSIGNED = "assigned"  # secret/token/api… that may start an assignment (start, length)
MARKING = "marking"  # a 密 that may belong to a classified marking (position of the 密)
# The order of Hits' fields; the last three hold (start, length) pairs.
_KIND_INDEX = {k: i for i, k in enumerate((DECOR, DIGITS, USCC, MARKING, CREDENTIAL, TOKEN, ASSIGNED))}
_KEYWORDS_FROM = _KIND_INDEX[CREDENTIAL]

# From this length on, the characters to normalise are found natively rather than by one regex pass.
NATIVE_NORMALISE_FROM = 4096
# At most one hit per this many characters (plus a few): everyday text has about one per 250.
HIT_BUDGET_EVERY = 8
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ALNUM = string.digits + string.ascii_letters
_SEP = digit_runs.SEPARATORS


def _unit(ch: str) -> str:
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-16-le"))


def _cls(chars: str) -> str:
    """One UTF-16LE unit that is one of `chars` (grouped by their high byte)."""
    by_high: dict[int, list[int]] = defaultdict(list)
    for ch in dict.fromkeys(chars):
        lo, hi = ch.encode("utf-16-le")
        by_high[hi].append(lo)
    parts = []
    for hi, lows in by_high.items():
        cls = "".join(f"\\x{b:02x}" for b in sorted(lows))
        parts.append(f"[{cls}]\\x{hi:02x}")
    return "(?:" + "|".join(parts) + ")"


def _lit(word: str, *, caseless: bool = False) -> str:
    if not caseless:
        return "".join(_unit(c) for c in word)
    return "".join(_cls(c.lower() + c.upper()) if c.isalpha() else _unit(c) for c in word)


@dataclass(slots=True)
class Hits:
    """Where each detector can fire, in code points of the scanned text; every list is ascending.

    Keyword lists hold (start, length) pairs; `digits` holds the character that ends each stretch of
    eleven digits or more; the others hold starts (of a decorative symbol, an 18-character code, or the
    密 of a marking).
    """

    decor: list[int] = field(default_factory=list)
    digits: list[int] = field(default_factory=list)
    uscc: list[int] = field(default_factory=list)
    marking: list[int] = field(default_factory=list)
    credential: list[tuple[int, int]] = field(default_factory=list)
    token: list[tuple[int, int]] = field(default_factory=list)
    assigned: list[tuple[int, int]] = field(default_factory=list)


def _gates() -> list[tuple[str, str, int]]:
    """Each gate: its kind, its pattern, and the code points from its end back to the position wanted."""
    # U+3000 is left to Python: its UTF-16LE bytes (00 30) also straddle every ASCII character followed by
    # "0", and rejecting those misaligned hits one callback at a time would cost more than str.find.
    norm_chars = NORMALISED_CHARS.replace("\u3000", "")
    digit, sep = _cls(string.digits), _cls(_SEP)
    # Not a digit or separator: another ASCII character, or any character outside ASCII.
    not_ds = "(?:[^0-9" + "".join(f"\\x{ord(c):02x}" for c in _SEP) + "]\\x00|[\\x00-\\xff][\\x01-\\xff])"
    gates: list[tuple[str, str, int]] = [
        (NORM, _cls(norm_chars), 1),
        (DECOR, _cls(DECORATIVE), 1),
        # Eleven or more digits with up to three separators between each, reported once, where the
        # stretch ends: at the first character that is neither (or the fourth separator in a row).
        (DIGITS, f"{digit}(?:{sep}{{0,3}}{digit}){{10}}(?:{sep}{{0,3}}{digit})*(?:{sep}{{0,3}}{not_ds}|{sep}{{4}})", 1),
        (USCC, "(?:" + _cls(_ALNUM) + "){2}(?:" + _cls(string.digits) + "){6}(?:" + _cls(_ALNUM) + "){10}", 18),
    ]
    gates += [(CREDENTIAL, _lit(w, caseless=True), len(w)) for w in credential.KEYWORD_WORDS]
    # 密 码 / 口　令: a Chinese keyword with separators inside (credential.KEYWORDS finds the same).
    gap = _cls(classified_marking.GAP_CHARS)
    gaps = range(1, KEYWORD_GAP_MAX + 1)
    for first, last in credential.GAPPED_PAIRS:
        gates += [(CREDENTIAL, _unit(first) + gap * n + _cls(last), 2 + n) for n in gaps]
    # p a s s / P.I.N: the English keywords letter by letter, one separator (or none) between letters.
    letter_sep = _cls(credential.LETTER_SEPARATORS)
    for word in credential.LETTER_SPACED:
        for mask in range(1, 2 ** (len(word) - 1)):
            pattern, n = _cls(word[0].lower() + word[0].upper()), 1
            for i, ch in enumerate(word[1:]):
                if mask >> i & 1:
                    pattern, n = pattern + letter_sep, n + 1
                pattern, n = pattern + _cls(ch.lower() + ch.upper()), n + 1
            gates.append((CREDENTIAL, pattern, n))
    gates += [(TOKEN, _lit(w), len(w)) for w in secret_key.TOKEN_PREFIXES]
    # a p i / s.e.c: the first three letters of an assigned word with separators between (secret_key's
    # ASSIGNED_KEYWORDS finds the same prefixes).
    key_sep = _cls(secret_key.LETTER_SEPARATORS)
    for prefix in secret_key.ASSIGNED_PREFIXES:
        a, b, c = (_cls(ch.lower() + ch.upper()) for ch in prefix)
        gates += [(ASSIGNED, a + key_sep + b + c, 4), (ASSIGNED, a + b + key_sep + c, 4),
                  (ASSIGNED, a + key_sep + b + key_sep + c, 5)]
    gates += [(ASSIGNED, _lit(w, caseless=True), len(w)) for w in secret_key.ASSIGNED_WORDS]
    # classified_marking._FORMS: every form holds 绝/机/秘 then 密 (up to three separators may sit between),
    # or 密级 (likewise).
    gates.append((MARKING, _cls("绝絕机機秘") + "(?:" + gap + f"){{0,{KEYWORD_GAP_MAX}}}" + _unit("密"), 1))
    gates += [(MARKING, _unit("密") + gap * n + _cls("级級"), 2 + n) for n in (0, *gaps)]
    return gates


class _Database:
    """A compiled set of gates; `scan` may run on many threads at once (each has its own scratch)."""

    def __init__(self, gates: list[tuple[str, str, int]]) -> None:
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[g[1].encode("ascii") for g in gates],
            ids=list(range(len(gates))),
            elements=len(gates),
            flags=[0] * len(gates),
        )
        self._proto = hyperscan.Scratch(self._db)
        self._local = threading.local()

    def scan(self, data: bytes, on_match: Callable[[int, int, int, int, object], bool | None]) -> bool:
        """Calls Hyperscan's `on_match(gate, from, to, flags, context)` for every hit (hits that end at
        an odd byte offset straddle two characters and are the handler's to drop); False when the
        handler stopped the scan by returning True."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._proto.clone()
        try:
            self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        except hyperscan.ScanTerminated:
            return False
        return True


def _encode(text: str) -> bytes:
    # Framed by newlines, which no gate matches: every hit has a character before and after it.
    return b"\n\x00" + text.encode("utf-16-le") + b"\n\x00"


def _pairs(text: str, data: bytes) -> list[int]:
    """Where each surrogate pair starts (in units of the text), for texts with characters beyond the BMP."""
    if len(data) == 2 * len(text) + 4:
        return []
    return [m.start() + i for i, m in enumerate(_ASTRAL.finditer(text))]


class Prescan:
    """Normalises the text (finding what to change natively when the text is long), then finds where
    each detector can fire in the normalised text.

    Every hit costs a call into Python, so a text made to hit on nearly every character ("1" or "１"
    half a million times) would be slower through the prescan than without it: past a budget of one hit
    per HIT_BUDGET_EVERY characters the scan stops and `scan` returns None, and the caller scans the
    text the plain way.
    """

    def __init__(self) -> None:
        gates = _gates()
        self._norm = _Database([g for g in gates if g[0] == NORM])
        rest = [g for g in gates if g[0] != NORM]
        self._db = _Database(rest)
        self._kinds = [_KIND_INDEX[kind] for kind, _, _ in rest]
        self._backs = [back for _, _, back in rest]

    def scan(self, text: str) -> tuple[Normalised, Hits] | None:
        """The normalised text (with its offset map) and where each detector can fire in it; None when
        the text has more hits than the budget."""
        if len(text) < NATIVE_NORMALISE_FROM:
            norm = normalise(text)  # one regex pass over a short text costs less than a native call
        else:
            runs = self._norm_runs(text)
            if runs is None:
                return None
            norm = normalise(text, runs)
        hits = self._hits(norm.text)
        return None if hits is None else (norm, hits)

    def _norm_runs(self, text: str) -> list[tuple[int, int]] | None:
        data = _encode(text)
        ends: list[int] = []
        budget = _budget(text)

        def on_match(_gate: int, _from: int, to: int, _flags: int, _ctx: object) -> bool:
            if not to & 1:  # odd byte offsets straddle two characters
                ends.append(to >> 1)
            return len(ends) > budget  # True stops the scan

        if not self._norm.scan(data, on_match):
            return None
        ends.sort()
        pairs = _pairs(text, data)
        # A hit's unit offset, less the framing newline and the one-character hit, is its position in
        # units; each surrogate pair before it counts one character less.
        units = [u - 2 for u in ends]
        runs = _runs([u - bisect_left(pairs, u) for u in units] if pairs else units)
        if "\u3000" in text:
            i = text.find("\u3000")
            while i >= 0:
                runs.append((i, i + 1))
                i = text.find("\u3000", i + 1)
            runs.sort()
        return runs

    def _hits(self, text: str) -> Hits | None:
        lists: tuple[list[Any], ...] = tuple([] for _ in _KIND_INDEX)  # ints, or (start, length) pairs
        kinds, backs = self._kinds, self._backs
        data = _encode(text)
        budget = [_budget(text)]

        def on_match(gate: int, _from: int, to: int, _flags: int, _ctx: object) -> bool:
            if to & 1:
                return False  # odd byte offsets straddle two characters
            kind, back = kinds[gate], backs[gate]
            # The unit past the hit, less the framing newline and the hit's length (or its distance
            # back to what it stands for).
            pos = (to >> 1) - 1 - back
            lists[kind].append((pos, back) if kind >= _KEYWORDS_FROM else pos)
            budget[0] -= 1
            return budget[0] < 0  # True stops the scan

        if not self._db.scan(data, on_match):
            return None
        pairs = _pairs(text, data)
        for lst in lists:
            if pairs and lst:
                _shift(lst, pairs)
            if len(lst) > 1:
                lst.sort()  # hits come by where they end; these are wanted by where they start
        return Hits(*lists)


def _budget(text: str) -> int:
    return 64 + len(text) // HIT_BUDGET_EVERY


def _shift(lst: list[Any], pairs: list[int]) -> None:
    """Unit offsets to code points: each surrogate pair before a position counts one character less."""
    for i, item in enumerate(lst):
        if isinstance(item, tuple):
            start, n = item
            lst[i] = (start - bisect_left(pairs, start), n)
        else:
            lst[i] = item - bisect_left(pairs, item)


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """Adjacent positions joined into [start, end) runs."""
    runs: list[tuple[int, int]] = []
    for pos in positions:
        if runs and runs[-1][1] == pos:
            runs[-1] = (runs[-1][0], pos + 1)
        else:
            runs.append((pos, pos + 1))
    return runs


PRESCAN: Prescan | None = Prescan() if hyperscan is not None else None
