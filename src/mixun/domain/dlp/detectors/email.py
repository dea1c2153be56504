"""`email`: e-mail addresses. Found from each '@' outwards, which is cheaper than a full-text regex."""

from __future__ import annotations

import re

from ..masking import mask_email
from ..types import Candidate

NAME = "email"
_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}$")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")


def find(text: str) -> list[Candidate]:
    out: list[Candidate] = []
    i = text.find("@")
    while i >= 0:
        local = _LOCAL.search(text, max(0, i - 64), i)
        dom = _DOMAIN.match(text, i + 1)
        if local is not None and dom is not None:
            start = local.start()
            # A local part cannot start with a dot; "name.@x" style junk is trimmed, not reported whole.
            while start < i and text[start] in "._%+-":
                start += 1
            if start < i:
                value = text[start : dom.end()]
                out.append(Candidate(NAME, start, dom.end(), 0.9, mask_email(value), priority=40))
        i = text.find("@", i + 1)
    return out
