"""`cn_mobile`: mainland mobile numbers on allocated prefixes, with or without +86 / 0086.

Landlines (010-…, 0755-…) and service numbers (400-…, 95588) never match: they do not start with an
allocated 1xx mobile prefix.
"""

from __future__ import annotations

from ..context import ContextRule
from ..masking import mask_mobile
from ..types import Candidate

NAME = "cn_mobile"

# Allocated MIIT mobile prefixes (voice, data-only and virtual operators).
PREFIXES = frozenset(
    ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "141", "145", "146", "147", "148", "149", "150", "151", "152", "153", "155", "156", "157", "158", "159", "162", "165", "166", "167", "170", "171", "172", "173", "174", "175", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "190", "191", "192", "193", "195", "196", "197", "198", "199"]
)

CONTEXT = ContextRule(
    ("手机", "电话", "联系", "致电", "来电", "微信", "号码", "短信", "打给", "拨打", "联络", "tel", "phone",
     "mobile", "call", "手机号", "电联", "回电"),
    boost=0.25,
)


def is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[:3] in PREFIXES


def evaluate(digits: str, text: str, start: int, end: int, *, prefixed: bool = False) -> Candidate | None:
    """`digits` is the national number; `prefixed` when an explicit +86/0086 preceded it."""
    if not is_mobile(digits):
        return None
    base = 0.85 if prefixed else 0.7
    conf = min(1.0, base + CONTEXT.adjust(text, start, end))
    return Candidate(NAME, start, end, conf, mask_mobile(digits), priority=30)
