"""`credential`: a password, 口令 or PIN given in the text. The value is the finding.

A sentence about passwords ("请勿在群里发送密码", "密码至少8位") names no value and is not reported:
a value must follow the keyword directly (after 是/为/：/= or a short verb like 重置为) and be a token of
printable ASCII that is not a placeholder, a masked value or a number with a unit.
"""

from __future__ import annotations

import re

from ..masking import mask_secret
from ..normalize import KEYWORD_GAP, KEYWORD_GAP_CHARS
from ..types import Candidate
from .anchored import anchored, keyword_starts

NAME = "credential"

# Separators inside a keyword ("密 码", "口　令", "PIN 码", "pass word") do not hide it (KEYWORD_GAP).
_G = KEYWORD_GAP
# English keywords typed letter by letter ("p a s s w o r d", "P.I.N"): one separator between letters.
LETTER_SEPARATORS = " ._*-"
_L = "[" + re.escape(LETTER_SEPARATORS) + "]?"


def _letters(word: str) -> str:
    return _L.join(word)


_CN_KEYWORD = (
    r"(?:密" + _G + r"[码碼]|口" + _G + r"令|密" + _G + r"令|(?i:" + _letters("pin") + r")" + _G + r"[码碼])"
)
_EN_KEYWORD = (r"(?<![A-Za-z])(?i:pass[" + re.escape(KEYWORD_GAP_CHARS) + r"]{1,2}(?:word|wd|code)"
               r"|" + "|".join(_letters(w) for w in ("password", "passwd", "passcode", "pwd", "pin", "pass")) + ")")
_CN_SEP = (
    r"[ \t]*(?:(?:已|已经|都|统一|暂时|先)?(?:重置|修改|改|设置|设|更改|变更|初始化|换)?"
    r"(?:成|为|為|是|：|:|=|:=)|)[ \t]*"
)
_EN_SEP = r"[ \t]*(?:[:=：]|(?<![A-Za-z])is(?![A-Za-z]))[ \t]*"
_VALUE = r"([\"'“‘]?)([!-~]{4,64})"
PATTERN = re.compile(
    r"(?:" + _CN_KEYWORD + _CN_SEP + r"|" + _EN_KEYWORD + _EN_SEP + r")" + _VALUE
)
_PLACEHOLDERS = frozenset(
    {"xxxx", "xxxxxx", "null", "none", "empty", "required", "your_password", "yourpassword", "password",
     "changeme_later", "todo", "tbd", "n/a", "same", "****"}
)
_UNIT_AFTER = re.compile(r"[ \t]*(?:年|月|日|号|位|个|次|天|小时|分钟|秒|岁|元|块|条|遍|字符|以上|以下)")


def _plausible(value: str) -> bool:
    low = value.lower()
    if low in _PLACEHOLDERS or set(value) <= {"*", "x", "X", "#", "•", "?", "."}:
        return False
    if value.startswith(("{", "<", "${", "%")) and value.endswith(("}", ">", "%")):
        return False  # template placeholders: {password}, <密码>, ${PWD}
    return not value.startswith(("http://", "https://"))


# Where a keyword may start, for when there is no prescan. A pattern beginning with one fixed character
# class lets the regex engine skip ahead quickly; the full pattern (with its alternation) is then only
# tried at those places.
# The prescan looks for KEYWORD_WORDS (ASCII letters in any case); KEYWORDS finds the same words.
# With separators inside, 密/口 then one to three KEYWORD_GAP_CHARS then 码/碼/令 (the prescan's gap gates).
KEYWORD_WORDS = ("密码", "密碼", "密令", "口令", "pin", "pass", "pwd")
GAPPED_PAIRS = (("密", "码碼令"), ("口", "令"))
# The English ones also letter by letter (the prescan's LETTER_SPACED gates).
KEYWORDS = re.compile(r"[密口pP](?:(?<=密)" + _G + r"[码碼令]|(?<=口)" + _G + r"令"
                      r"|(?<=[pP])" + _L + r"(?:[iI]" + _L + r"[nN]|[aA]" + _L + r"[sS]" + _L + r"[sS]|[wW]" + _L
                      + r"[dD]))")
LETTER_SPACED = ("pin", "pass", "pwd")


def find(text: str, starts: list[tuple[int, int]] | None = None) -> list[Candidate]:
    """`starts` are the keywords' (start, length) from the prescan; None finds them here."""
    out: list[Candidate] = []
    for m in anchored(PATTERN, text, keyword_starts(KEYWORDS, text) if starts is None else starts):
        quote, value = m.group(1), m.group(2)
        start = m.start(2)
        value = value.rstrip("\"'”’") if quote else value.rstrip(",;")
        if len(value) < 4 or not _plausible(value):
            continue
        end = start + len(value)
        if value.isdigit() and _UNIT_AFTER.match(text, end):
            continue  # "密码是8位以上" / "密码2024年改过": a number with a unit, not a value
        conf = 0.85 + (0.1 if any(c.isalpha() for c in value) and any(c.isdigit() for c in value) else 0.0)
        out.append(Candidate(NAME, start, end, conf, mask_secret(value), priority=5))
    return out
