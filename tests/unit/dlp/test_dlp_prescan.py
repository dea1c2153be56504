"""The native prescan changes how fast the engine is, never what it finds.

Every test here scans the same text twice, once with the prescan and once scanning every character
(the engine's path on platforms without the Hyperscan wheel), and requires identical findings.
"""

from __future__ import annotations

import importlib.util
import random

import pytest
from dlp_corpus import CorpusGenerator, luhn_digit, uscc_checks

from mixun.domain.dlp import DlpEngine
from mixun.domain.dlp.detectors import credential, secret_key
from mixun.domain.dlp.detectors.anchored import keyword_starts
from mixun.domain.dlp.prescan import PRESCAN

WITH = DlpEngine(prescan_from=0)  # every text through the prescan, however short
WITHOUT = DlpEngine(prescan=False)
ID18 = "11010519491231002X"
CARD = "622202123456789" + luhn_digit("622202123456789")
USCC_LETTERS = uscc_checks("N2350100MA2Y3K4B")  # a code that starts with letters


def same(text: str) -> list:
    found = WITH.scan(text)
    assert found == WITHOUT.scan(text), text
    return found


@pytest.mark.skipif(importlib.util.find_spec("hyperscan") is None,
                    reason="no Hyperscan wheel on this platform: the engine scans every character")
def test_the_prescan_is_in_use_here():
    """The wheel is a pinned dependency: CI must exercise the fast path, not silently the fallback."""
    assert PRESCAN is not None
    assert WITH._prescan is PRESCAN and WITHOUT._prescan is None


def test_labelled_corpus_and_everyday_documents_scan_the_same():
    gen = CorpusGenerator(seed=20240601)
    lines = [x.text for x in gen.corpus()]
    for line in lines:
        same(line)
    # Long documents take the native normalisation path and the windowed digit search.
    text = "\n".join(lines)
    for i in range(0, len(text), 20_000):
        same(text[i : i + 20_000])


@pytest.mark.parametrize(
    "text",
    [
        # Characters beyond the BMP take two UTF-16 units: offsets after them must still be right.
        f"😀😀身份证{ID18}，🙂卡号{CARD}，密码是Abc#12345",
        "🀄" * 300 + f"手机13912345678 {ID18}" + "🎉" * 5000 + "绝密★长期",
        # U+3000 (found in Python, not natively), full-width digits, zero-width characters.
        "身份证\u3000１１０１０５\u200b１９４９１２３１００２Ｘ，电话１３９\u30001234\u200b5678",
        # Runs at the very start and end of the text, and a run after 4+ separators.
        f"{ID18} 中间 {CARD}",
        "13912345678    13812345678",
        "13912345678    12中",
        "1 3 9 1 2 3 4 5 6 7 8 和 139-1234-5678 和 +86 139 1234 5678 和 (+86)13912345678",
        # A stretch of digits longer than the window's 64-character steps.
        "编号" + "1234 " * 40 + "结束",
        # Byte pairs that straddle two characters: 。一 holds the bytes of "0", ★ then a space those of …
        "。一。一。一密码。一★ 赌博★ 机 密★5年",
        # Keywords inside keywords, tokens and assignments, a PEM block.
        "passpass: Hunter2!x pinpin=1234abcd secretoken=Zx9aQ1bW8cV7dE6fG5h "
        "AKIAAKIAIOSFODNN7EXAMPLE ghp_" + "a1" * 18 + " xoxb-1234567890-abcdefghij",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "api_key = 'A1b2C3d4E5f6G7h8I9j0' 和 ACCESS-KEY: A1b2C3d4E5f6G7h8I9j0K1",
        # Markings in every form, with and without an inserted symbol.
        "【机密】\n绝密\n密级：秘密\n机*密★5年 密 级 机密 不得泄露企业机密信息",
        # The level far from its 密级 label: found only from the label's 密.
        "密级：" + " " * 20 + "机密，" + "密 级" + "\t" * 20 + "秘密",
        # Separators inside keywords: every detector, both paths.
        "密 码：Abc#12345 口\u3000令=Xyz#98765 密*·码 Qq#778899 绝 - 密★长期 【机 密】 密  级：秘 密 "
        "冰\u2005毒 api key: Zk3hQ9xLmP2vR8tY4wB6 pass word: Hunter2!x",
        f"统一社会信用代码 91110108MA01ABCD2X 和 91350100M000100Y43 和 {USCC_LETTERS}",
        "",
        "a",
        "\n",
    ],
)
def test_edge_cases_scan_the_same(text):
    same(text)


def test_long_texts_normalise_natively_the_same():
    """From NATIVE_NORMALISE_FROM characters on, what to normalise is found by Hyperscan, not a regex."""
    filler = "今天下午三点在会议室讨论预算。" * 400
    text = (f"{filler}身份证\u3000１１０１０５\u200b１９４９１２３１００２Ｘ{filler}😀电话１３９\u30001234５６７８"
            f"{filler}ｐａｓｓｗｏｒｄ：Ａｂｃ＃１２３４５{filler}")
    found = same(text)
    assert [f.detector for f in found] == ["cn_id_card", "cn_mobile", "credential"]


def test_offsets_after_astral_characters_point_at_the_finding():
    text = f"😀🙂🎉身份证{ID18}"
    found = same(text)
    assert [(f.detector, text[f.start : f.end]) for f in found] == [("cn_id_card", ID18)]


def test_random_texts_scan_the_same():
    """Seeded fuzzing over the pieces the gates care about, glued in random order."""
    rng = random.Random(4242)
    pieces = [
        "0", "1", "3", "9", "13912345678", ID18, CARD, "110105491231002", " ", "-", ".", "  ", "X", "x",
        "１", "３", "－", "\u3000", "\u200b", "\u00a0", "😀", "。", "一", "★", "…", "·", "密", "码", "密码",
        "口令", "PIN", "pass", "pwd", "是", "：", "=", "Abc#1234", "机", "绝", "秘", "级", "【", "】", "\n",
        "AKIA", "ghp_", "sk-", "eyJ", "token", "secret", "api", "=", "A1b2C3d4E5f6G7h8", "@", "a.b",
        "example.com", "赌博", "赌", "博", "身份证", "卡号", "手机", "订单号", "元", "91110108MA01ABCD2X", USCC_LETTERS,
        "Ｍ", "ｍ", "z", "Q", "tecret", "spp", "tccess", "oken", "ecret", "=0123456789abcdef/", "_key",
        # Separators inside keywords (密 码, 绝*密, 密　级, api key).
        "口", "令", "*", "_", "|", "·", "\u2005", " key", "word", "pass word",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        same(text)


def _first_of_overlapping(starts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What a left-to-right regex scan reports: no keyword starting inside the previous one."""
    out: list[tuple[int, int]] = []
    for start, n in starts:
        if not out or start >= out[-1][0] + out[-1][1]:
            out.append((start, n))
    return out


@pytest.mark.skipif(PRESCAN is None, reason="no Hyperscan wheel on this platform")
def test_the_gates_report_the_keywords_the_python_path_looks_for():
    """The gates are hand-written twins of each detector's keyword regex; they must not drift apart
    (a drift shows in findings only when keywords overlap in unlucky ways, so compare the lists)."""
    rng = random.Random(99)
    pieces = ["pin", "PIN", "pass", "pwd", "密码", "密碼", "口令", "密令", "PaSs", "p", "s", "a", "t", "c",
              "secret", "token", "api", "access", "client", "private", "app", "tecret", "spp", "tccess",
              "AKIA", "ASIA", "ghp_", "gho_", "github_pat_", "xoxb-", "AIza", "sk-", "sk_", "rk_", "eyJ",
              "LTAI", "AKID", "SeCrEt", "密", "码", "😀", "１", " ", "=", "x", "口", "令", "碼", "*", "·", "★",
              "  ", "-", "/", "a p i", "s.ec", "to k", "c l i", "pr-i", "a c c",
              "p a s s", "P.I.N", "p w-d", "pa ss"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        _, hits = PRESCAN.scan(text)
        assert _first_of_overlapping(hits.credential) == keyword_starts(credential.KEYWORDS, text), text
        assert _first_of_overlapping(hits.token) == keyword_starts(secret_key.TOKEN_KEYWORDS, text), text
        assert _first_of_overlapping(hits.assigned) == keyword_starts(secret_key.ASSIGNED_KEYWORDS, text), text


@pytest.mark.parametrize(
    ("text", "gives_up"),
    [("1" * 20_000, True), ("１" * 20_000, True), ("ａ\u200b" * 10_000, True), ("AB12345678" * 2_000, True),
     ("★ " * 10_000, True), ("😀1" * 10_000, False)],
)
def test_texts_that_hit_everywhere_fall_back_to_the_plain_scan(text, gives_up):
    """Each hit is a call into Python: past the budget the prescan gives up and the text is scanned the
    plain way, so an adversarial text costs no more than without the prescan."""
    if PRESCAN is not None:
        assert (PRESCAN.scan(text) is None) is gives_up
    same(text)
