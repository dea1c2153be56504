"""Context words around a candidate raise or lower its confidence (身份证 raises, 订单号 lowers).

Only the nearest keyword counts: in "订单号已发，身份证号110…" the 身份证号 right before the number
decides, not the earlier 订单号.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .normalize import s2t_variants

# Words that mark a number as something other than personal data: orders, serials, amounts, money.
NEGATIVE_NUMBER_WORDS = (
    "订单号", "订单编号", "订单", "单号", "流水号", "交易号", "交易流水", "编号", "工单", "运单", "快递",
    "合同号", "批次", "发票号", "发票代码", "金额", "余额", "总额", "人民币", "序列号", "条码", "版本",
    "分机", "群号", "会议号", "会议id", "工号", "凭证号", "业务号", "申请号", "受理号", "案号", "邮编",
    "票号", "航班", "车次", "识别码", "追踪号", "ticket", "order", "no.",
)
# Suffixes right after a number that make it an amount or a count.
NEGATIVE_SUFFIXES = ("元", "万", "亿", "块", "美元", "笔", "次", "件", "个", "股", "份", "kg", "%")


def _with_traditional(words: Iterable[str]) -> tuple[str, ...]:
    table = s2t_variants()
    out: list[str] = []
    for w in words:
        out.append(w)
        trad = "".join(table.get(c, (c,))[0] for c in w)
        if trad != w:
            out.append(trad)
    return tuple(out)


class ContextRule:
    """Positive and negative keywords for one detector, with the confidence they add or remove."""

    __slots__ = ("positive", "negative", "boost", "penalty", "before", "after", "_delta", "_words")

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
        # Traditional spellings are added here once, so scanning never converts the text itself.
        self.positive = _with_traditional(positive)
        self.negative = _with_traditional(negative)
        self.boost = boost
        self.penalty = penalty
        self.before = before
        self.after = after
        # One alternation per rule, longest words first so 订单号 wins over 单号 at the same place.
        self._delta = {w: -penalty for w in self.negative}
        self._delta.update({w: boost for w in self.positive})
        self._words = re.compile("|".join(re.escape(w) for w in sorted(self._delta, key=len, reverse=True)))

    def adjust(self, text: str, start: int, end: int) -> float:
        """Confidence delta for a candidate at text[start:end]."""
        before = text[max(0, start - self.before) : start].lower()
        after = text[end : end + self.after].lower()
        best_dist = 10**9
        best = 0.0
        last = None
        for last in self._words.finditer(before):  # noqa: B007 - the last match is the nearest
            pass
        if last is not None:
            best_dist = len(before) - last.end()
            best = self._delta[last.group()]
        first = self._words.search(after)
        # Words after the value count less: "13812345678是我手机" still reads as a phone.
        if first is not None and first.start() + 2 < best_dist:
            best_dist, best = first.start() + 2, self._delta[first.group()]
        if best_dist > 0 and after.lstrip(" ").startswith(NEGATIVE_SUFFIXES):
            return -self.penalty
        return best
