"""The shared scanner for numbers that may be written with spaces, dashes, dots, slashes, underscores or
asterisks between digit groups.

It finds maximal runs of digit groups, then tries every group-aligned span against the ID, card and
mobile detectors. Within one run the longest valid span wins, so an ID number is not also reported as
the mobile number hiding in its middle, while two mobile numbers separated by a space are both found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..types import Candidate
from . import bank_card, cn_id_card, cn_mobile

# Up to three separator characters between digits; the look-behinds and look-ahead make each match a
# maximal run (not the tail of a longer number), and letters glued to it (order IDs like SO2023…) veto it.
# Separators people type between digit groups, or put there to slip past a detector ("138/1234/5678",
# "110101_1990…"): every one counts (issue 19 item 19). The prescan's DIGITS gate holds the same set.
SEPARATORS = " -./_*"
_SEP = "[" + re.escape(SEPARATORS) + "]"
_UNSEP = str.maketrans("", "", SEPARATORS)
RUN = re.compile(
    r"[0-9](?<![0-9A-Za-z][0-9])(?<![0-9]" + _SEP + r"[0-9])(?<![0-9]" + _SEP + r"{2}[0-9])"
    r"(?<![0-9]" + _SEP + r"{3}[0-9])"
    r"(?:" + _SEP + r"{0,3}[0-9]){10,}(?:" + _SEP + r"?[Xx])?"
    r"(?![0-9A-Za-z])(?!" + _SEP + r"{1,3}[0-9])"
)
_GROUP = re.compile(r"[0-9]+")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_MOBILE_PREFIX = re.compile(r"(?:\(\+?(?:00)?86\)|\+?(?:00)?86)[ \-]?$")


def _spans(groups: list[tuple[int, int]], n_digits: list[int]) -> Iterator[tuple[int, int, int]]:
    """Yield (i, j, total) for group spans whose inner groups have at least three digits."""
    n = len(groups)
    for i in range(n):
        total = 0
        for j in range(i, n):
            if j > i + 1 and n_digits[j - 1] < 3:
                break
            total += n_digits[j]
            if total > 19:
                break
            if total >= 11:
                yield i, j, total


# A run holds only digits, separators and a final X, so a window that ends on any other character
# (or at the end of the text) cuts no run short and sees the same look-aheads as the whole text.
_STOP = re.compile("[^0-9A-Za-z" + re.escape(SEPARATORS) + "]")
_DIGIT_OR_SEP = "0123456789" + SEPARATORS


def windows(text: str, ends: list[int]) -> list[tuple[int, int]]:
    """Windows of `text` that hold every run, given where each stretch of eleven digits or more ends
    (the prescan's `digits`, ascending): from the stretch's start to the next character no run holds.
    """
    out: list[tuple[int, int]] = []
    for end in ends:
        if out and end < out[-1][1]:
            continue
        lo = end
        while lo > 0:  # back over the stretch's digits and separators, 64 characters at a time (in C)
            seg = text[max(0, lo - 64) : lo]
            kept = len(seg.rstrip(_DIGIT_OR_SEP))
            lo -= len(seg) - kept
            if kept:
                break
        m = _STOP.search(text, end)
        hi = m.start() if m is not None else len(text)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def find(text: str, min_confidence: float, ends: list[int] | None = None) -> list[Candidate]:
    """All ID, card and mobile candidates; `ends` (from the prescan) limits the search, None scans all."""
    out: list[Candidate] = []
    for lo, hi in [(0, len(text))] if ends is None else windows(text, ends):
        for m in RUN.finditer(text, lo, hi):
            out.extend(_resolve_run(text, m.start(), m.group(), min_confidence))
    return out


def _evaluate(text: str, value: str, start: int, end: int) -> list[Candidate]:
    found: list[Candidate] = []
    c = cn_id_card.evaluate(value, text, start, end)
    if c:
        found.append(c)
    if not value.isdigit():
        return found
    c = bank_card.evaluate(value, text, start, end)
    if c:
        found.append(c)
    mstart, prefixed = start, False
    if len(value) == 11:
        national = value
        p = _MOBILE_PREFIX.search(text, max(0, start - 8), start)
        if p is not None:
            mstart, prefixed = p.start(), True
    elif (len(value) == 13 and value.startswith("86")) or (len(value) == 15 and value.startswith("0086")):
        national, prefixed = value[-11:], True
        if start > 0 and text[start - 1] == "+":
            mstart = start - 1
    else:
        return found
    c = cn_mobile.evaluate(national, text, start, end, prefixed=prefixed)
    if c:
        c.start = mstart
        found.append(c)
    return found


def _resolve_run(text: str, base: int, run: str, min_confidence: float) -> list[Candidate]:
    if run.isdigit() or (run[:-1].isdigit() and run[-1] in "Xx"):
        # One group, no separators (the usual case): its only span is the whole run.
        if len(run) > 19:
            return []
        best = None
        for c in _evaluate(text, run, base, base + len(run)):
            if c.confidence >= min_confidence and (
                best is None or (c.confidence, -c.priority) > (best.confidence, -best.priority)
            ):
                best = c
        return [] if best is None else [best]
    if "." in run and _IPV4.fullmatch(run):
        return []  # 192.168.116.35 has eleven digits and a 191 prefix, but it is an address
    check_x = run[-1] in "Xx"
    groups = [(base + g.start(), base + g.end()) for g in _GROUP.finditer(run)]
    if check_x:
        groups[-1] = (groups[-1][0], base + len(run))
    n_digits = [e - s for s, e in groups]
    if check_x:
        last = text[groups[-1][0] : groups[-1][1]]
        n_digits[-1] = len(last.translate(_UNSEP))
    if len(groups) > 1 and max(n_digits) == 1:
        # Digits typed one by one with spaces ("1 3 8 …"): the whole run is one number.
        groups, n_digits = [(groups[0][0], groups[-1][1])], [sum(n_digits)]
    cands: list[tuple[int, float, Candidate]] = []
    for i, j, total in _spans(groups, n_digits):
        s, e = groups[i][0], groups[j][1]
        value = text[s:e].translate(_UNSEP)
        for c in _evaluate(text, value, s, e):
            if c.confidence >= min_confidence:
                cands.append((total, c.confidence, c))
    if not cands:
        return []
    # Longest valid span first; then more confident; then detector priority.
    cands.sort(key=lambda t: (-t[0], -t[1], t[2].priority))
    taken: list[Candidate] = []
    for _, _, c in cands:
        if all(c.end <= t.start or c.start >= t.end for t in taken):
            taken.append(c)
    return taken
