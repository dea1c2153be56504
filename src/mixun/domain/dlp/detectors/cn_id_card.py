"""`cn_id_card`: resident ID numbers, 18-character (GB 11643 check) and legacy 15-digit.

A valid number needs a province code and a real birth date besides the check character, which is what
keeps order numbers and timestamps out.
"""

from __future__ import annotations

from ..checksums import is_valid_id15, is_valid_id18
from ..context import ContextRule
from ..masking import mask_id
from ..types import Candidate

NAME = "cn_id_card"
CONTEXT = ContextRule(
    ("身份证", "证件号", "证件", "身份号码", "公民身份", "身份信息", "id", "证号", "户籍", "出生"),
    boost=0.2,
)


def evaluate(value: str, text: str, start: int, end: int) -> Candidate | None:
    """A candidate when `value` (digits, maybe a final X) is a valid ID number, else None."""
    if len(value) == 18 and is_valid_id18(value):
        base = 0.8
    elif len(value) == 15 and is_valid_id15(value):
        # No check digit: a random 15-digit number passes the date test about 1% of the time.
        base = 0.55
    else:
        return None
    conf = min(1.0, base + CONTEXT.adjust(text, start, end))
    return Candidate(NAME, start, end, conf, mask_id(value), priority=10)
