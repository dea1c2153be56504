"""`classified_marking`: state-secret markings in the GB/T 9704 forms (绝密★长期, 机密★5年, 密级：机密, 【绝密】).

The word 机密 in an ordinary sentence ("不得泄露企业机密信息") is not a marking: only the star form, the
密级 label, a bracketed level or a level standing alone on its own line count. 秘密 (the lowest level)
counts in the star and 密级 forms only, where it cannot be the everyday word "secret".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..normalize import KEYWORD_GAP, KEYWORD_GAP_CHARS
from ..types import Candidate

NAME = "classified_marking"

# Up to three inserted symbols or spaces between the two characters are tolerated ("机*密★5年", "绝  密",
# "密 级"): the keyword gap every detector shares.
GAP_CHARS = KEYWORD_GAP_CHARS
_GAP = KEYWORD_GAP
_HIGH = r"(?:[绝絕]" + _GAP + r"密|[机機]" + _GAP + r"密)"
_ANY = r"(?:" + _HIGH + r"|秘" + _GAP + r"密)"
_STAR = r"[★☆*✩✭✮⭐]"
_PERIOD = r"(?:[长長]期|[0-9一二三四五六七八九十两兩]+[ \t]*(?:年|个月|個月|月|天|日))"
_FORMS = re.compile(
    r"(?:" + _ANY + r")[ \t]*" + _STAR + r"(?:[ \t]*" + _PERIOD + r")?"
    r"|密" + _GAP + r"[级級][ \t]*(?:[:：]|[为為是])?[ \t]*" + _ANY + r"(?:[级級])?"
    r"|[【\[〔〖「『(（<《][ \t]*" + _HIGH + r"(?:[级級])?[ \t]*[】\]〕〗」』)）>》]"
    r"|^[ \t]*" + _HIGH + r"(?:[级級])?[ \t]*$",
    re.MULTILINE,
)


def _all_mi(text: str) -> list[int]:
    out = []
    i = text.find("密")
    while i >= 0:
        out.append(i)
        i = text.find("密", i + 1)
    return out


def _matches(text: str, anchors: list[int]) -> Iterator[re.Match[str]]:
    """Each form contains 密, so search a small window around each 密 instead of the whole text:
    the alternation cannot use a fast prefix scan and would cost a slow pass over every document."""
    after = 0
    for i in anchors:
        if i < after:
            continue
        m = _FORMS.search(text, max(0, i - 12), i + 32)
        while m is not None and m.end() <= i:
            m = _FORMS.search(text, m.end(), i + 32)
        if m is not None and m.start() <= i:
            after = m.end()
            yield m


def find(text: str, anchors: list[int] | None = None) -> list[Candidate]:
    """`anchors` are the 密 characters (from the prescan) that a marking can hold; None tries every 密."""
    out: list[Candidate] = []
    for m in _matches(text, _all_mi(text) if anchors is None else anchors):
        raw = m.group()
        start = m.start() + (len(raw) - len(raw.lstrip()))
        end = m.end() - (len(raw) - len(raw.rstrip()))
        out.append(Candidate(NAME, start, end, 0.95, raw.strip(), priority=0))
    return out
