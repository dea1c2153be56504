"""Per-detector behaviour of the DLP engine: what is caught, what is left alone, and where."""

from __future__ import annotations

import pytest
from dlp_corpus import id_check, luhn_digit, uscc_checks

from mixun.domain.dlp import DlpEngine, mask_text
from mixun.domain.dlp.checksums import is_valid_id15, is_valid_id18, is_valid_uscc, luhn_ok

ENGINE = DlpEngine()
ID18 = "11010519491231002X"
CARD = "6222021234567890123"[:15] + luhn_digit("622202123456789")  # 16 digits, Luhn-valid
MOBILE = "13912345678"
USCC = uscc_checks("9111010810" + "0001AB")


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in ENGINE.scan(text)]


def detectors(text: str) -> set[str]:
    return {f.detector for f in ENGINE.scan(text)}


def test_check_digit_helpers_agree_with_the_standards():
    """The shared check-digit code accepts known-good numbers and rejects one-digit changes."""
    assert id_check("11010519491231002") == "X" and is_valid_id18(ID18)
    assert not is_valid_id18(ID18[:-1] + "1")
    assert is_valid_id15("110105491231002") and not is_valid_id15("110105491331002")
    assert luhn_ok(CARD) and not luhn_ok(CARD[:-1] + str((int(CARD[-1]) + 1) % 10))
    assert is_valid_uscc(USCC) and not is_valid_uscc(USCC[:-1] + ("0" if USCC[-1] != "0" else "1"))


@pytest.mark.parametrize(
    "text",
    [
        f"身份证号{ID18}请核对",
        f"证件号码：{ID18.lower()}",
        "身份证 110105 19491231 002X",
        "身份证１１０１０５１９４９１２３１００２Ｘ",
        "身份证1101051949\u200b1231002X",
        "老身份证号110105491231002",
    ],
)
def test_id_numbers_are_found_however_typed(text):
    """An ID number is caught with spaces, full-width digits, a lower-case x or zero-width characters."""
    assert detectors(text) == {"cn_id_card"}


@pytest.mark.parametrize(
    "text",
    [
        "身份证号11010519491231002X1",  # too long: part of a bigger number
        "身份证号110105194912310021",  # wrong check digit
        "身份证号110105194902300028",  # 30 February
        "身份证号990105194912310023",  # no such province
        "订单号11010519491231002X",  # valid by digits, but an order number says it is not
    ],
)
def test_id_look_alikes_are_not_reported(text):
    """Wrong check digits, impossible dates, unknown provinces and order numbers are not ID numbers."""
    assert "cn_id_card" not in detectors(text)


def test_id_offsets_and_mask_follow_the_original_text():
    """The finding spans the number as the user typed it and masks it as 110105********002X."""
    text = "客户张三，身份证 110105 1949 1231 002X，请录入"
    (f,) = ENGINE.scan(text)
    assert text[f.start : f.end] == "110105 1949 1231 002X"
    assert f.masked == "110105********002X"


def test_bank_cards_with_luhn_and_context():
    """A Luhn-valid number with a card prefix or 卡号 nearby is a card; masked 6 + stars + 4."""
    spaced = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
    (f,) = ENGINE.scan(f"卡号 {spaced}")
    assert f.detector == "bank_card" and f.masked == CARD[:6] + "******" + CARD[-4:]
    assert detectors(f"转到{CARD}") == {"bank_card"}


def test_bank_card_look_alikes_are_not_reported():
    """Wrong Luhn digits, order and serial numbers, and amounts are not cards."""
    bad = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
    assert "bank_card" not in detectors(f"卡号{bad}")
    assert "bank_card" not in detectors(f"订单号{CARD}")
    assert "bank_card" not in detectors(f"流水号：{CARD}")
    assert "bank_card" not in detectors(f"金额{CARD}元")


def test_an_id_number_is_not_also_a_card():
    """Where an ID number also passes Luhn, only the ID number is reported."""
    # 62 (Gansu) looks like a UnionPay prefix; find an ID that also passes Luhn.
    for seq in range(1000):
        body = f"62010219800101{seq:03d}"
        number = body + id_check(body)
        if number[-1] != "X" and luhn_ok(number):
            break
    assert found(f"身份证{number}") == [("cn_id_card", number)]
    assert found(number) == [("cn_id_card", number)]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        (f"手机{MOBILE}", MOBILE),
        ("电话 139-1234-5678", "139-1234-5678"),
        ("电话 139 1234 5678", "139 1234 5678"),
        ("+86 139 1234 5678", "+86 139 1234 5678"),
        ("(+86)13912345678", "(+86)13912345678"),
        ("+8613912345678", "+8613912345678"),
        ("微信同号１３９１２３４５６７８", "１３９１２３４５６７８"),
    ],
)
def test_mobile_numbers_in_their_usual_forms(text, span):
    """Mobile numbers are found with +86, brackets, spaces, dashes and full-width digits."""
    assert found(text) == [("cn_mobile", span)]
    assert ENGINE.scan(text)[0].masked == "139****5678"


@pytest.mark.parametrize(
    "text",
    ["办公室010-65123456", "总机(021)12345678", "客服400-820-8820", "拨打95588", "号码12345678901",
     "单号13912345678", "转账13912345678元", "服务器192.168.191.23"],
)
def test_landlines_service_numbers_and_order_numbers_are_not_mobiles(text):
    """Landlines, 400/955xx numbers, unallocated prefixes, order numbers, amounts and IPs are ignored."""
    assert "cn_mobile" not in detectors(text)


def test_two_numbers_separated_by_a_space_are_both_found():
    """Two mobile numbers side by side are two findings, not one unreadable run."""
    assert found("13912345678 13812345678") == [("cn_mobile", "13912345678"), ("cn_mobile", "13812345678")]


def test_uscc_found_and_checked():
    """A unified social credit code is found only when both check characters are right."""
    assert found(f"统一社会信用代码{USCC}") == [("uscc", USCC)]
    assert found(f"统一社会信用代码{USCC.lower()}") == [("uscc", USCC.lower())]
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    assert "uscc" not in detectors(f"统一社会信用代码{wrong}")


def test_email_addresses():
    """E-mail addresses are found inside Chinese text; @mentions and hostnames without a TLD are not."""
    assert found("邮件发到zhang.san@icbc.com.cn就行") == [("email", "zhang.san@icbc.com.cn")]
    assert found("邮箱ｚｓ＠ｂａｎｋ．ｃｎ") == [("email", "ｚｓ＠ｂａｎｋ．ｃｎ")]
    assert "email" not in detectors("@张三 请看一下") and "email" not in detectors("root@localhost")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("系统初始密码是Abc@12345，登录后请修改", "Abc@12345"),
        ("wifi密码：bank2024!", "bank2024!"),
        ("账号zhangsan 密码 P@ssw0rd", "P@ssw0rd"),
        ("password: hunter22", "hunter22"),
        ("网银登录密码已重置为Qw3rty!!。", "Qw3rty!!"),
        ("取款密码246810", "246810"),
        ("PIN码：1234", "1234"),
        ("口令為Xy7#Xy7#", "Xy7#Xy7#"),
        ("密碼：Abc12345", "Abc12345"),
    ],
)
def test_credentials_given_in_text(text, value):
    """A password, 口令 or PIN followed by its value is caught; the finding is the value."""
    assert found(text) == [("credential", value)]
    assert ENGINE.scan(text)[0].masked == "******"


@pytest.mark.parametrize(
    "text",
    ["请勿在群里发送密码", "密码要定期修改", "密码至少8位，包含字母数字和符号", "初始密码为身份证后六位",
     "密码是2024年改的", "密码：******", "password policy 已更新", "请输入PIN码", "密码为8位以上",
     "密码是{password}"],
)
def test_sentences_about_passwords_are_not_credentials(text):
    """Talking about passwords, or showing a placeholder, is not giving one."""
    assert "credential" not in detectors(text)


@pytest.mark.parametrize(
    "value",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2" * 9,
        "xoxb-123456789012-abcdefABCDEF",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "sk-" + "Ab3" * 12,
        "LTAI5tAbCdEfGh123456",
    ],
)
def test_token_formats(value):
    """Cloud keys, GitHub and Slack tokens, JWTs and API keys are secret keys."""
    assert found(f"配置里的key是 {value} 别外传") == [("secret_key", value)]


def test_pem_private_key_block_is_one_finding():
    """A pasted PEM private key is reported once, whole, and masked to its header."""
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nabc+/=\n-----END RSA PRIVATE KEY-----"
    (f,) = ENGINE.scan(f"给你：\n{pem}\n谢谢")
    assert f.detector == "secret_key" and f.masked == "-----BEGIN RSA PRIVATE KEY-----******"
    assert f.end - f.start == len(pem)


def test_generic_secret_assignment_needs_a_real_looking_value():
    """`token=` with a long mixed value is a secret; `token=true` or a Chinese note is not."""
    assert detectors("api_key=9f8e7d6c5b4a39281706f5e4") == {"secret_key"}
    assert "secret_key" not in detectors("token=true，api_key=请找运维申请")


@pytest.mark.parametrize(
    "text",
    ["绝密★长期", "机密★5年\n关于调整授信政策的通知", "密级：机密", "【绝密】会议纪要", "機密★10年",
     "机\u200b密★长期", "机密＊3年", "秘密★1年", "文件\n机密\n正文"],
)
def test_classified_markings(text):
    """GB/T 9704 marking forms, also in Traditional, with zero-width or full-width characters."""
    assert "classified_marking" in detectors(text)


@pytest.mark.parametrize(
    "text",
    ["不得泄露企业机密信息", "机密文件不得通过即时通讯工具传输", "这是个秘密", "涉及机密的事项请线下沟通",
     "机密级以上文件一律走纸质", "关于加强保密工作的通知"],
)
def test_ordinary_sentences_mentioning_secrets_are_not_markings(text):
    """The word 机密 in a sentence is not a marking."""
    assert "classified_marking" not in detectors(text)


@pytest.mark.parametrize(
    "text", ["最新网络赌博平台", "网络赌*博", "網絡賭博", "网 络 赌 博", "网★络★赌★博", "网\u200b络赌博", "六合彩"]
)
def test_prohibited_terms_survive_evasion(text):
    """Lexicon terms are matched through inserted symbols, spaces, Traditional and zero-width characters."""
    (f,) = ENGINE.scan(text)
    assert f.detector == "prohibited" and f.category == "gambling"
    assert text[f.start] in "最网網六" and f.masked.startswith(text[f.start])


def test_prohibited_does_not_match_innocent_neighbours():
    """Place names and everyday words that share characters with a term are not hits."""
    assert ENGINE.scan("六合区的分行下周开业，冰箱坏了找后勤") == []


def test_custom_lexicon_with_many_terms_in_one_pass():
    """An administrator's lexicon of thousands of terms is matched, longest term first."""
    terms = [f"违禁词{i:05d}" for i in range(20000)] + ["违禁", "违禁词00042号"]
    engine = DlpEngine({"custom": terms})
    assert engine.term_count == 20002
    fs = engine.scan("这里有违禁词00042号和违禁词19999")
    assert [(f.category, f.end - f.start) for f in fs] == [("custom", 9), ("custom", 8)]


def test_mask_text_replaces_only_the_findings():
    """mask_text keeps everything around the findings exactly as written."""
    text = f"手机{MOBILE}，身份证{ID18}。"
    assert mask_text(text, ENGINE.scan(text)) == "手机139****5678，身份证110105********002X。"


def test_masked_never_carries_the_raw_value():
    """For sensitive detectors the masked form never equals or contains the raw value."""
    text = f"手机{MOBILE} 身份证{ID18} 卡号{CARD} 密码：Abc@12345 AKIAIOSFODNN7EXAMPLE"
    for f in ENGINE.scan(text):
        assert text[f.start : f.end] not in f.masked


def test_engine_is_safe_to_share_between_threads():
    """One engine scanning from many threads at once gives the same answers as one thread."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"手机{MOBILE} 网络赌博 {i}" for i in range(200)]
    expected = [ENGINE.scan(t) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(ENGINE.scan, texts)) == expected
