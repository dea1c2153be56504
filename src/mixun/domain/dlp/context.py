"""Context words around a candidate raise or lower its confidence (身份证 raises, 订单号 lowers).

Only the nearest keyword counts: in "订单号已发，身份证号110…" the 身份证号 right before the number
decides, not the earlier 订单号.
"""

from __future__ import annotations

from collections.abc import Iterable

from .normalize import to_simplified

# Words that mark a number as something other than personal data: orders, serials, amounts, money.
NEGATIVE_NUMBER_WORDS = (
    "订单号", "订单编号", "订单", "单号", "流水号", "交易号", "交易流水", "编号", "工单", "运单", "快递",
    "合同号", "批次", "发票号", "发票代码", "金额", "余额", "总额", "人民币", "序列号", "条码", "版本",
    "分机", "群号", "会议号", "会议id", "工号", "凭证号", "业务号", "申请号", "受理号", "案号", "邮编",
    "票号", "航班", "车次", "识别码", "追踪号", "ticket", "order", "no.",
)
# Suffixes right after a number that make it an amount or a count.
NEGATIVE_SUFFIXES = ("元", "万", "亿", "块", "美元", "笔", "次", "件", "个", "股", "份", "kg", "%")


class ContextRule:
    """Positive and negative keywords for one detector, with the confidence they add or remove."""

    __slots__ = ("positive", "negative", "boost", "penalty", "before", "after")

    def __init__(
        self,
        positive: Iterable[str],
        negative: Iterable[str] = NEGATIVE_NUMBER_WORDS,
        *,
        boost: float = 0.3,
        penalty: float = 0.45,
        before: int = 14,
        after: int = 8,
    ) -> None:
        self.positive = tuple(positive)
        self.negative = tuple(negative)
        self.boost = boost
        self.penalty = penalty
        self.before = before
        self.after = after

    def adjust(self, text: str, start: int, end: int) -> float:
        """Confidence delta for a candidate at text[start:end]."""
        before = to_simplified(text[max(0, start - self.before) : start]).lower()
        after = to_simplified(text[end : end + self.after]).lower()
        best_dist = 10**9
        best = 0.0
        for words, delta in ((self.positive, self.boost), (self.negative, -self.penalty)):
            for w in words:
                i = before.rfind(w)
                if i >= 0:
                    d = len(before) - (i + len(w))
                    if d < best_dist:
                        best_dist, best = d, delta
                j = after.find(w)
                # Words after the value count less: "13812345678是我手机" still reads as a phone.
                if j >= 0 and j + 2 < best_dist:
                    best_dist, best = j + 2, delta
        stripped = after.lstrip(" ")
        if stripped.startswith(NEGATIVE_SUFFIXES) and best_dist > 0:
            return -self.penalty
        return best
