"""`bank_card`: 13–19 digit card numbers passing Luhn; issuer prefixes and context decide confidence.

One random number in ten passes Luhn, so a bare Luhn pass is not enough: the number must look issued
(UnionPay 62…, Visa 4…, Mastercard 51–55/2221–2720, …) or be introduced as a card or account.
"""

from __future__ import annotations

from ..checksums import luhn_ok
from ..context import NEGATIVE_NUMBER_WORDS, ContextRule
from ..masking import mask_card
from ..types import Candidate

NAME = "bank_card"
CONTEXT = ContextRule(
    ("卡号", "银行卡", "借记卡", "信用卡", "储蓄卡", "工资卡", "账号", "帐号", "账户", "帐户", "收款",
     "转账", "转入", "汇款", "打款", "开户行", "卡", "card", "户名"),
    # An ID number with a wrong check digit can still pass Luhn; "身份证" nearby says it is not a card.
    negative=(*NEGATIVE_NUMBER_WORDS, "身份证", "证件号", "身份号码", "公民身份"),
    boost=0.35,
    penalty=0.5,
)


def _issuer_known(d: str) -> bool:
    if d.startswith(("62", "60", "4", "34", "37", "35", "36", "30", "38", "65", "9558", "9559")):
        return True
    if "51" <= d[:2] <= "55":
        return True
    return "2221" <= d[:4] <= "2720"


def _short_card_issuer(d: str) -> bool:
    """13–15 digits are only Visa (13), Diners (14) and Amex (15); mainland cards are 16–19 digits."""
    n = len(d)
    return (n == 13 and d[0] == "4") or (n == 14 and d[:2] in ("30", "36", "38")) or (
        n == 15 and d[:2] in ("34", "37")
    )


def evaluate(digits: str, text: str, start: int, end: int) -> Candidate | None:
    if not (13 <= len(digits) <= 19) or not luhn_ok(digits):
        return None
    if len(digits) < 16 and not _short_card_issuer(digits):
        # Otherwise a 15-digit legacy ID number that happens to pass Luhn would be read as a card.
        return None
    base = 0.4 + (0.25 if _issuer_known(digits) else 0.0)
    conf = min(1.0, base + CONTEXT.adjust(text, start, end))
    return Candidate(NAME, start, end, conf, mask_card(digits), priority=20)
