"""`email`: e-mail addresses. Found from each '@' outwards, which is cheaper than a full-text regex."""

from __future__ import annotations

import re

from ..masking import mask_email
from ..types import Candidate

NAME = "email"
_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}$")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")


# "@" with up to two spaces either side ("zhang @ bank.cn": every Unicode space is one after normalising),
# or written out as (at) / [at] / （at）: separators inside the address must not hide it (issue 19 item 19).
_AT_WORD = re.compile(r" {0,2}[(\[（【] ?[Aa][Tt] ?[)\]）】] {0,2}")


def may_hold(text: str) -> bool:
    """Cheap: an '@', or a bracket that may open a written-out (at)."""
    return "@" in text or (("(" in text or "[" in text or "（" in text or "【" in text)
                           and _AT_WORD.search(text) is not None)


def _ats(text: str) -> list[tuple[int, int]]:
    """(start, end) of each '@' (with the spaces around it) and of each written-out (at)."""
    found: list[tuple[int, int]] = []
    i = text.find("@")
    while i >= 0:
        a, b = i, i + 1
        while a > 0 and i - a < 2 and text[a - 1] == " ":
            a -= 1
        while b < len(text) and b - i - 1 < 2 and text[b] == " ":
            b += 1
        found.append((a, b))
        i = text.find("@", i + 1)
    if "t" in text or "T" in text:
        found += [(m.start(), m.end()) for m in _AT_WORD.finditer(text)]
    return sorted(found)


def find(text: str) -> list[Candidate]:
    out: list[Candidate] = []
    for a, b in _ats(text):
        local = _LOCAL.search(text, max(0, a - 64), a)
        dom = _DOMAIN.match(text, b)
        if local is not None and dom is not None:
            start = local.start()
            # A local part cannot start with a dot; "name.@x" style junk is trimmed, not reported whole.
            while start < a and text[start] in "._%+-":
                start += 1
            if start < a:
                value = text[start:a] + "@" + dom.group()
                out.append(Candidate(NAME, start, dom.end(), 0.9, mask_email(value), priority=40))
    return out
