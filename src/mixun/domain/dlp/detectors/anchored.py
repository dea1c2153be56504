"""Trying a detector's full pattern only where one of its keywords starts.

The keywords come from the prescan (all of them, in one native pass) or, without it, from a regex of
literal alternatives that CPython can skip through quickly. Either way the full pattern, which may open
with a look-behind or an alternation that defeats the regex engine's fast skipping, runs only there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator


def keyword_starts(keywords: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """(start, length) of each keyword, left to right, for when there is no prescan."""
    return [(m.start(), m.end() - m.start()) for m in keywords.finditer(text)]


def anchored(full: re.Pattern[str], text: str, starts: Iterable[tuple[int, int]]) -> Iterator[re.Match[str]]:
    """Matches of `full` at keyword starts, as a left-to-right scan finds them: a keyword that begins
    inside the previous keyword or inside the previous match is not tried."""
    pos = keyword_end = 0
    for start, length in starts:
        if start < keyword_end:
            continue
        keyword_end = start + length
        if start < pos:
            continue
        m = full.match(text, start)
        if m is not None:
            pos = m.end()
            yield m
