"""Spaces and separators inside a keyword do not defeat any detector (issue 19 item 19), on the
pure-Python path and the Hyperscan prescan path alike, and do not make ordinary spaced text a finding."""

from __future__ import annotations

import pytest

from mixun.domain.dlp import DlpEngine

WITH = DlpEngine(prescan_from=0)
WITHOUT = DlpEngine(prescan=False)
PAD = "今天下午三点在会议室讨论预算。" * 70 + "\n"  # long enough for the engine's own prescan threshold


def _detectors(text: str) -> list[str]:
    found = WITH.scan(text)
    assert found == WITHOUT.scan(text), text
    assert [f.detector for f in DlpEngine().scan(PAD + text)] == [f.detector for f in found], text
    return [f.detector for f in found]


@pytest.mark.parametrize(("text", "detector"), [
    ("密 码：Abc#12345", "credential"),
    ("密\u3000码：Abc#12345", "credential"),
    ("密\u2005码：Abc#12345", "credential"),
    ("密  码:Abc#12345", "credential"),
    ("密*码=Abc#12345", "credential"),
    ("密·码是Abc#12345", "credential"),
    ("密★码：Abc#12345", "credential"),
    ("口 令：Xyz#98765", "credential"),
    ("密 令 为 Xyz#98765", "credential"),
    ("PIN 码：839201", "credential"),
    ("pass word: Abc#12345", "credential"),
    ("pass-word=Abc#12345", "credential"),
    ("绝 密★长期", "classified_marking"),
    ("绝  密★长期", "classified_marking"),
    ("绝\u3000密★长期", "classified_marking"),
    ("机 - 密★5年", "classified_marking"),
    ("【绝 密】", "classified_marking"),
    ("密 级：机 密", "classified_marking"),
    ("密  级：绝密", "classified_marking"),
    ("冰 毒", "prohibited"),
    ("冰\u3000毒", "prohibited"),
    ("冰\u2005毒", "prohibited"),
    ("冰\u205f毒", "prohibited"),
    ("冰\u2028毒", "prohibited"),
    ("api key: Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    ("secret key = Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    ("access key id: Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    ("client - secret: Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    # A line break or a longer run of spaces inside the keyword.
    ("密\n码：Abc#12345", "credential"),
    ("密    码：Abc#12345", "credential"),
    ("口\u3000\u3000\u3000\u3000令：Xyz#98765", "credential"),
    ("a p i k e y: Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    ("t.o.k.e.n = Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    ("c l i e n t s e c r e t: Zk3hQ9xLmP2vR8tY4wB6", "secret_key"),
    ("AKIA IOSF ODNN 7EXA MPLE", "secret_key"),
    ("密钥 AKIA-IOSF-ODNN-7EXA-MPLE 别外传", "secret_key"),
    ("LTAI5t 9xLm P2vR 8tYz", "secret_key"),
    ("p a s s w o r d: Abc#12345", "credential"),
    ("P.W.D=Abc#12345", "credential"),
    ("p-i-n：839201", "credential"),
    ("P I N 码：839201", "credential"),
    ("绝\n密★长期", "classified_marking"),
    ("绝    密★长期", "classified_marking"),
    # Separators inside the numbers themselves: slashes, underscores, asterisks as well as spaces and dashes.
    ("身份证号 110101/19900307/1233", "cn_id_card"),
    ("身份证号 110101_19900307_1233", "cn_id_card"),
    ("身份证号 110101*19900307*1233", "cn_id_card"),
    ("卡号 6222/0212/3456/7890/128", "bank_card"),
    ("卡号 6222_0212_3456_7890_128", "bank_card"),
    ("手机 138/1234/5678", "cn_mobile"),
    ("手机 138_1234_5678", "cn_mobile"),
    ("手机 138*1234*5678", "cn_mobile"),
    # A unified social credit code written in groups.
    ("统一社会信用代码 9111 0108 MA01 ABCD 5T", "uscc"),
    ("税号 911101-08MA01-ABCD5T", "uscc"),
    ("税号 911101/08MA01/ABCD5T", "uscc"),
    # Spaces around the @ of an e-mail address, or the @ written out.
    ("邮箱 zhangsan @ icbc.com.cn", "email"),
    ("邮箱 zhangsan\u3000@\u3000icbc.com.cn", "email"),
    ("邮箱 zhangsan(at)icbc.com.cn", "email"),
    ("邮箱 zhangsan [at] icbc.com.cn", "email"),
    ("邮箱 zhangsan（AT）icbc.com.cn", "email"),
])
def test_separators_inside_a_keyword_do_not_hide_it(text: str, detector: str) -> None:
    """The same value with spaces or symbols between the keyword's characters is still found."""
    assert detector in _detectors(text)


@pytest.mark.parametrize("text", [
    "请 勿 在 群 里 发 送 密 码", "密 码 要 定 期 修 改", "机 密 文 件 请 线 下 传 递", "api key 请 找 运 维 申 请",
    "出 口 令 人 担 忧", "保 密 级 别 请 咨 询 保 密 办", "密\u3000码\u3000忘\u3000了", "pass word policy 已更新",
    "会议 2024/01/01 12:30 开始", "路径 /api/v1/items/2024/0101", "请 @ 张三 看一下", "签到 (at) 会议室",
    "文件 2024_01_01_report.pdf", "这件事要保密\n码头那边明天再说", "比分 3*2*1",
    "请 p i n g 一下服务器", "s t o p in: 五分钟后", "P.S. 明天见", "a p p 下载链接: 见群公告",
    "a c c o u n t: zhangsan_2024_abcdefgh", "ASIA 2024 PLAN FOR ALL OF US", "LTAI is the prefix of aliyun keys", "型号 9111 0108 MA01 ABCD 5X", "A 1 2 3 4 5 6 7 8 9 B C D E F G H J",
])
def test_spaced_everyday_text_is_not_a_finding(text: str) -> None:
    """Separators alone never turn an ordinary sentence into a finding."""
    assert _detectors(text) == []
