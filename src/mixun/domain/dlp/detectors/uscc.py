"""`uscc`: unified social credit codes (统一社会信用代码), GB 32100 check plus the inner GB 11714 check.

Two independent check characters leave about one random 18-character token in 341 passing, so no
context is required; 信用代码/税号 nearby still raise confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..checksums import ID_PROVINCES, is_valid_uscc
from ..context import ContextRule
from ..masking import keep_ends
from ..types import Candidate

NAME = "uscc"
PATTERN = re.compile(
    r"[0-9A-Za-z](?<![0-9A-Za-z][0-9A-Za-z])[0-9A-Za-z][0-9]{6}[0-9A-Za-z]{10}(?![0-9A-Za-z])"
)
CONTEXT = ContextRule(
    ("信用代码", "统一社会信用", "社会信用代码", "税号", "纳税人识别号", "营业执照", "uscc", "企业代码"),
    boost=0.2,
)
# GB 32100 registration departments (1 机构编制 … 9 市场监管, A, N 农业, Y 其他).
_DEPARTMENTS = frozenset("123456789ANY")


def _matches(text: str, starts: list[int] | None) -> Iterator[re.Match[str]]:
    if starts is None:
        yield from PATTERN.finditer(text)
        return
    for start in starts:
        m = PATTERN.match(text, start)
        if m is not None:  # codes cannot overlap: each needs a non-alphanumeric character before it
            yield m


# A code written in groups ("9111 0108 MA01 ABCD 5T", "911101-08MA01-ABCD5T"): 18 characters with one or
# two separators between some of them (issue 19 item 19). Found apart from the prescan, on both paths
# alike; it starts only at a registration department character, so ordinary text is skipped quickly.
_GROUPED_SEPARATORS = " -./_*"
_GROUPED = re.compile(
    r"[1-9ANYany](?<![0-9A-Za-z][1-9ANYany])(?:[" + re.escape(_GROUPED_SEPARATORS) + r"]{0,2}[0-9A-Za-z]){17}"
    r"(?![0-9A-Za-z])"
)
_UNGROUP = str.maketrans("", "", _GROUPED_SEPARATORS)


def find_grouped(text: str) -> list[Candidate]:
    """Codes with separators inside; a code without any is `find`'s."""
    out: list[Candidate] = []
    for m in _GROUPED.finditer(text):
        raw = m.group()
        code = raw.translate(_UNGROUP).upper()
        if code == raw.upper() or not code[2:8].isdigit():
            continue
        if code[0] not in _DEPARTMENTS or code[2:4] not in ID_PROVINCES or not is_valid_uscc(code):
            continue
        conf = min(1.0, 0.8 + CONTEXT.adjust(text, m.start(), m.end()))
        out.append(Candidate(NAME, m.start(), m.end(), conf, keep_ends(code, 6, 4), priority=15))
    return out


def find(text: str, starts: list[int] | None = None) -> list[Candidate]:
    """`starts` (from the prescan) are the only places a code can begin; None scans the whole text."""
    out: list[Candidate] = []
    for m in _matches(text, starts):
        code = m.group().upper()
        # The region must be a real province: an 18-digit ID number or order number that happens to
        # pass both checks usually fails here.
        if code[0] not in _DEPARTMENTS or code[2:4] not in ID_PROVINCES or not is_valid_uscc(code):
            continue
        conf = min(1.0, 0.8 + CONTEXT.adjust(text, m.start(), m.end()))
        out.append(Candidate(NAME, m.start(), m.end(), conf, keep_ends(code, 6, 4), priority=15))
    return out
