"""A deterministic, labelled corpus of Chinese chat lines for measuring DLP precision and recall.

Check digits are computed here independently of the engine (a test that reused the engine's own
check-digit code would agree with any bug in it). Shared by the tests and bench/bench_dlp.py.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from faker import Faker
from opencc import OpenCC

DETECTORS = (
    "cn_id_card", "bank_card", "cn_mobile", "uscc", "email", "credential", "secret_key",
    "classified_marking", "prohibited",
)


@dataclass
class Line:
    text: str
    labels: list[tuple[str, int, int]] = field(default_factory=list)  # (detector, start, end)


class _Builder:
    """Concatenates pieces, recording the span of each labelled value."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.labels: list[tuple[str, int, int]] = []
        self.pos = 0

    def add(self, text: str, detector: str | None = None) -> _Builder:
        if detector:
            self.labels.append((detector, self.pos, self.pos + len(text)))
        self.parts.append(text)
        self.pos += len(text)
        return self

    def line(self) -> Line:
        return Line("".join(self.parts), self.labels)


AREAS = ("110105", "310104", "440305", "320102", "510107", "330106", "420106", "370202", "610113",
         "210102", "500103", "120101", "350203", "430104", "620102", "450103", "410105", "530102")
BINS = ("622202", "621700", "622848", "621661", "622588", "622262", "436742", "622700", "621226",
        "622609", "625965", "524094", "601382")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "157", "158", "159", "166", "170", "173", "176", "177", "180", "181", "185",
                   "186", "187", "188", "189", "191", "195", "198", "199", "147")
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
TERMS = {
    "gambling": ("网络赌博", "赌博网站", "六合彩", "百家乐", "博彩平台"),
    "drugs": ("冰毒", "摇头丸", "海洛因"),
    "fraud": ("刷单返利", "杀猪盘", "信用卡套现", "高额返利"),
    "advertising": ("日赚千元", "兼职日结", "扫码领红包", "微商代理"),
    "illegal": ("办理假证", "出售公民信息", "代开发票", "收购银行卡"),
    "obscene": ("裸聊", "色情网站"),
    "violent": ("买凶杀人", "制作炸弹"),
}


def id_check(first17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * k for c, k in zip(first17, w, strict=True)) % 11]


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def uscc_checks(body16: str) -> str:
    """Given 16 characters (dept, kind, region, 8-char org code), append GB 11714 then GB 32100 checks."""
    org = body16[8:16]
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    r = 11 - s % 11
    c9 = "X" if r == 10 else "0" if r == 11 else str(r)
    first17 = body16 + c9
    weights = [pow(3, i, 31) for i in range(17)]
    t = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + USCC_CHARS[(31 - t % 31) % 31]


class CorpusGenerator:
    def __init__(self, seed: int = 20240601) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.s2t = OpenCC("s2t")

    # ---- values -------------------------------------------------------------------------------
    def _date(self, lo: int = 1950, hi: int = 2005) -> tuple[int, int, int]:
        y = self.rng.randint(lo, hi)
        m = self.rng.randint(1, 12)
        d = self.rng.randint(1, 28)
        return y, m, d

    def id18(self) -> str:
        if self.rng.random() < 0.3:
            return self.fake.ssn()
        y, m, d = self._date()
        body = f"{self.rng.choice(AREAS)}{y:04d}{m:02d}{d:02d}{self.rng.randint(0, 999):03d}"
        return body + id_check(body)

    def id15(self) -> str:
        y, m, d = self._date(1930, 1990)
        return f"{self.rng.choice(AREAS)}{y % 100:02d}{m:02d}{d:02d}{self.rng.randint(0, 999):03d}"

    def card(self) -> str:
        length = self.rng.choice((16, 16, 16, 19))
        body = self.rng.choice(BINS) + "".join(self.rng.choice(string.digits) for _ in range(length - 7))
        return body + luhn_digit(body)

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + "".join(self.rng.choice(string.digits) for _ in range(8))

    def uscc(self) -> str:
        region = self.rng.choice(AREAS)
        org = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        return uscc_checks(self.rng.choice("159") + self.rng.choice("123") + region + org)

    def password(self) -> str:
        pw = self.fake.password(length=self.rng.randint(8, 14), special_chars=True)
        return pw.replace(" ", "")

    def secret(self) -> str:
        alnum = string.ascii_letters + string.digits
        kind = self.rng.randrange(5)
        if kind == 0:
            return "AKIA" + "".join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        if kind == 1:
            return "ghp_" + "".join(self.rng.choice(alnum) for _ in range(36))
        if kind == 2:
            return "LTAI" + "".join(self.rng.choice(alnum) for _ in range(16))
        if kind == 3:
            seg = lambda n: "".join(self.rng.choice(alnum + "_-") for _ in range(n))  # noqa: E731
            return "eyJ" + seg(20) + ".eyJ" + seg(40) + "." + seg(43)
        body = "\n".join("".join(self.rng.choice(alnum + "+/") for _ in range(64)) for _ in range(4))
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"

    # ---- formatting variants (what users and evaders type) --------------------------------------
    def styled_number(self, digits: str, groups: tuple[int, ...]) -> str:
        r = self.rng.random()
        if r < 0.55:
            return digits
        if r < 0.75:
            # Slashes, underscores and asterisks too (issue 19 item 19): any separator between the groups.
            sep = self.rng.choice((" ", "-", " ", "-", "/", "_", "*"))
            out, i = [], 0
            for g in groups:
                out.append(digits[i : i + g])
                i += g
            if i < len(digits):
                out.append(digits[i:])
            return sep.join(p for p in out if p)
        if r < 0.9:
            return digits.translate(str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ"))
        pos = self.rng.randint(1, len(digits) - 1)
        return digits[:pos] + "\u200b" + digits[pos:]

    def styled_term(self, term: str) -> str:
        r = self.rng.random()
        if r < 0.5:
            return term
        if r < 0.7:
            sep = self.rng.choice(("*", " ", "★", ".", "-", "_", "|", "·", "\u3000", "\u2005", "  "))
            return sep.join(term)
        if r < 0.85:
            return self.s2t.convert(term)
        return "\u200b".join(term)

    # ---- lines --------------------------------------------------------------------------------
    def _filler(self) -> str:
        return self.fake.sentence(nb_words=self.rng.randint(3, 8)).rstrip("。.")

    def positive(self, detector: str) -> Line:
        b = _Builder()
        f, rng = self.fake, self.rng
        name = f.name()
        if detector == "cn_id_card":
            value = self.id15() if rng.random() < 0.1 else self.id18()
            shown = self.styled_number(value, (6, 8, 4) if len(value) == 18 else (6, 6, 3))
            pre, post = rng.choice((
                (f"{name}的身份证号是", "，麻烦帮忙录入一下"), ("客户证件号码：", f"，住址{f.city()}"),
                (f"开户资料：{name} ", " 已复核"), ("请核对身份证", "是否正确"), (f"{name}，", "，明天来办业务"),
                ("公民身份号码", "。"), ("ID:", f" {name}"),
            ))
        elif detector == "bank_card":
            value = self.card()
            shown = self.styled_number(value, (4, 4, 4, 4))
            pre, post = rng.choice((
                ("转账到我的卡号", f"，户名{name}"), (f"{name}的工资卡是", f"，开户行{f.city()}支行"),
                ("银行卡：", ""), (f"客户{name}的借记卡", "已挂失"), ("收款账号 ", " 谢谢"),
                ("信用卡", "这个月账单还没出"), ("请核对 ", f" {name}"),
            ))
        elif detector == "cn_mobile":
            value = self.mobile()
            r = rng.random()
            if r < 0.15:
                shown = rng.choice(("+86 ", "+86-", "(+86)", "+86")) + self.styled_number(value, (3, 4, 4))
            else:
                shown = self.styled_number(value, (3, 4, 4))
            pre, post = rng.choice((
                ("我手机", "，有事打我"), (f"{name}的电话是", ""), (f"联系人：{name}，", ""),
                ("客户留的号码是", "，请回访"), ("请尽快回电 ", ""), (f"{name} ", f" {f.city()}"),
                ("微信同号", "，加一下"), ("", f"是{name}的新号码"),
            ))
        elif detector == "uscc":
            shown = self.uscc()
            if rng.random() < 0.2:  # written in groups (issue 19 item 19)
                sep = rng.choice((" ", "-", " "))
                shown = sep.join(shown[i : i + 4] for i in range(0, 18, 4)) if rng.random() < 0.5 else \
                    sep.join(shown[i : i + 6] for i in range(0, 18, 6))
            pre, post = rng.choice((
                (f"{f.company()}的统一社会信用代码是", ""), ("税号：", "，开票时用"),
                (f"开票信息：{f.company()} ", f" {f.city()}"), ("营业执照代码", "已核验"),
            ))
        elif detector == "email":
            shown = f.email() if rng.random() < 0.6 else f"{f.user_name()}@{rng.choice(('icbc.com.cn', 'bank.cn', 'hq.mixun.local'))}"
            if rng.random() < 0.2:  # spaces around the @, or the @ written out (issue 19 item 19)
                shown = shown.replace("@", rng.choice((" @ ", "\u3000@\u3000", "(at)", " [at] ", "（at）")))
            pre, post = rng.choice((
                ("邮件发到", "就行"), (f"{name}的邮箱", "，抄送我"), ("请抄送 ", " 谢谢"),
                ("材料已发送至", "，请查收"),
            ))
        elif detector == "credential":
            if rng.random() < 0.2:
                shown = "".join(rng.choice(string.digits) for _ in range(6))
                pre, post = rng.choice((("取款密码", "，别告诉别人"), ("PIN码：", ""), ("交易密码是", "")))
            else:
                shown = self.password()
                pre, post = rng.choice((
                    ("系统初始密码是", "，登录后请修改"), ("wifi密码：", ""), (f"账号{f.user_name()} 密码", ""),
                    ("password: ", ""), ("临时口令为", "，今天有效"), ("VPN密码 ", " 用完告诉我"),
                    ("网银登录密码已重置为", "。"), ("pwd=", " 测试库"),
                    # Separators inside the keyword (issue 19 item 19): they must not hide it.
                    ("密 码：", ""), ("密\u3000码：", ""), ("登录密*码 ", ""), ("临时口 令为", "，今天有效"),
                    ("pass word: ", ""), ("PIN 码：", ""), ("密·码是", "，别外传"), ("密\n码：", ""), ("密    码：", ""),
                    ("p a s s w o r d: ", ""), ("P.W.D=", ""),
                ))
        elif detector == "secret_key" and rng.random() < 0.2:
            # A generic assignment whose keyword words are spread apart ("api key", "secret - key").
            alnum = string.ascii_letters + string.digits
            shown = ("".join(rng.choice(string.ascii_letters) for _ in range(8))
                     + "".join(rng.choice(string.digits) for _ in range(4))
                     + "".join(rng.choice(alnum) for _ in range(rng.randint(8, 20))))
            pre, post = rng.choice((
                ("api key: ", ""), ("secret key = ", " 别外传"), ("access key id：", ""), ("client - secret: ", ""),
                ("private key=", ""), ("a p i k e y: ", ""), ("t.o.k.e.n = ", ""),
            ))
        elif detector == "secret_key":
            shown = self.secret()
            body = shown[4:]
            if (shown[:4] in ("AKIA", "LTAI") and rng.random() < 0.3 and any(c.isdigit() for c in body)
                    and sum(c.isalpha() for c in body) >= 2):  # written in groups (issue 19 item 19)
                shown = rng.choice((" ", "-")).join(shown[i : i + 4] for i in range(0, len(shown), 4))
            pre, post = rng.choice((
                ("测试环境的key：", ""), ("这个是生产的凭证 ", " 别外传"), ("配置里写的是\n", "\n记得改"),
                ("token ", " 过期了吗"),
            ))
        elif detector == "classified_marking":
            level = rng.choice(("绝密", "机密"))
            form = rng.randrange(9)
            if form == 0:
                shown = f"{level}★{rng.choice(('长期', '5年', '10年', '20年', '6个月'))}"
            elif form == 1:
                shown = f"密级：{level}"
            elif form == 2:
                shown = f"【{level}】"
            elif form == 3:
                shown = self.s2t.convert(f"{level}★{rng.randint(1, 30)}年")
            elif form == 4:
                shown = f"{level[0]}\u200b{level[1]}★长期"
            elif form == 5:
                shown = f"{level}＊{rng.randint(1, 20)}年"
            elif form == 6:  # separators inside the level (issue 19 item 19)
                gap = rng.choice((" ", "  ", "　", " - ", "·", "\n", "    "))
                shown = f"{level[0]}{gap}{level[1]}★长期"
            elif form == 7:
                shown = f"密{rng.choice((' ', '　'))}级：{level[0]} {level[1]}"
            else:
                shown = f"【{level[0]}{rng.choice((' ', '　', '*'))}{level[1]}】"
            pre, post = rng.choice((
                ("", f"\n关于{self._filler()}的通知"), ("附件标注了", "，请查收"), ("这份材料是", "的"),
                ("", f" {f.company()}文件"),
            ))
        elif detector == "prohibited":
            cat = rng.choice(sorted(TERMS))
            shown = self.styled_term(rng.choice(TERMS[cat]))
            pre, post = rng.choice((
                ("最新", "，速来"), ("有人在群里发", "的广告"), ("", f"，联系{name}"), (f"{self._filler()}，", ""),
            ))
        else:
            raise ValueError(detector)
        b.add(pre)
        b.add(shown, detector)
        b.add(post)
        return b.line()

    def negative(self) -> Line:
        f, rng = self.fake, self.rng
        digits = lambda n: str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(n - 1))  # noqa: E731
        y, m, d = self._date(2018, 2025)
        choices = [
            lambda: self._filler() + "。",
            lambda: f.text(max_nb_chars=rng.randint(40, 160)),
            lambda: f"订单号{digits(rng.randint(16, 20))}已发货，请注意查收",
            lambda: f"流水号：{digits(rng.randint(13, 19))}",
            lambda: f"交易流水{digits(18)}，金额{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}元",
            lambda: f"快递单号{digits(rng.randint(12, 15))}",
            lambda: f"合同编号 {digits(16)}，{f.company()}",
            lambda: f"转账金额{digits(11)}元已到账",
            lambda: f"余额 {rng.randint(1000, 10**9):,}.{rng.randint(0, 99):02d} 元",
            lambda: f"{y}-{m:02d}-{d:02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} 系统自动备份完成",
            lambda: f"时间戳 {y}{m:02d}{d:02d}{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}",
            lambda: f"{y}年{m}月{d}日下午{rng.randint(1, 5)}点在{f.city()}开会",
            lambda: f"办公室电话010-{digits(8)}，传真0755-{digits(8)}",
            lambda: f"总机 ({rng.choice(('021', '020', '0571'))}){digits(8)} 转 {rng.randint(100, 999)}",
            lambda: "客服热线400-820-8820，或拨打95588",
            lambda: f"请拨打 0{rng.randint(10, 99)} {digits(4)} {digits(4)}",
            lambda: self._wrong_id(),
            lambda: self._impossible_date_id(),
            lambda: f"卡号{self._wrong_luhn()}好像输错了",
            lambda: f"{rng.choice(('12', '10', '11'))}{digits(9)} 不是手机号",
            lambda: rng.choice((
                "不得泄露企业机密信息", "机密文件不得通过即时通讯工具传输", "涉及机密的事项请线下沟通",
                "这个是商业秘密，别外传", "他说这是个秘密", "机密级以上文件一律走纸质", "关于加强保密工作的通知",
                "请按密级管理要求处理文件", "保密期限届满后自动解密", "绝密的事情我可不知道",
            )),
            lambda: rng.choice((
                "请勿在群里发送密码", "密码要定期修改", "忘记密码了怎么办", "密码至少8位，包含字母数字和符号",
                "初始密码为身份证后六位", "密码已重置，请查收短信", "密码是什么来着？", "密码错误三次会锁定",
                "password policy 已更新", "请输入PIN码", "密码是2024年改的", "修改密码请联系管理员",
                "token过期了，请重新登录", "api_key=请找运维申请", "密码：******", "密码为8位以上",
            )),
            # Spaced-out everyday text near the keywords: separators alone never make a finding.
            lambda: rng.choice((
                "请 勿 在 群 里 发 送 密 码", "密 码 要 定 期 修 改", "机 密 文 件 请 线 下 传 递", "绝 密 的 事 我 不 知 道",
                "api key 请 找 运 维 申 请", "pass word policy 已更新", "出 口 令 人 担 忧", "保 密 级 别 请 咨 询 保 密 办",
                "冰 箱 坏 了 找 后 勤", "百 家 姓 里 有 几 个 姓 王", "密\u3000码\u3000忘\u3000了\u3000怎\u3000么\u3000办",
                # The separators the number and e-mail detectors now accept, in everyday text.
                "会议 2024/01/01 12:30 开始", "路径 /api/v1/items/2024/0101", "请 @ 张三 看一下", "签到 (at) 会议室",
                "文件 2024_01_01_report.pdf", "这件事要保密\n码头那边明天再说", "比分 3*2*1",
                "请 p i n g 一下服务器", "P.S. 明天见",
            )),
            lambda: f"@{f.name()} 请看一下 {self._filler()}",
            lambda: f"版本 v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}，服务器 192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            lambda: rng.choice(("六合区的分行下周开业", "冰箱坏了找后勤", "百家姓里有几个姓王", "我们赌一把，周五前能上线",
                                "警惕电信诈骗，保护好个人信息", "发票已经开好了", "积分兑换活动今天截止")),
            lambda: f"{f.name()}，{f.job()}，{f.address()}",
            lambda: f"编号 {''.join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(18))}",
        ]
        return Line(rng.choice(choices)())

    def _wrong_id(self) -> str:
        v = self.id18()
        wrong = rng_choice_other(self.rng, "0123456789X", v[17])
        return f"身份证号{v[:17]}{wrong}是不是写错了"

    def _impossible_date_id(self) -> str:
        y = self.rng.randint(1950, 2005)
        m, d = self.rng.choice(((13, 1), (2, 30), (0, 12), (4, 31), (2, 29 if y % 4 else 30), (6, 0)))
        body = f"{self.rng.choice(AREAS)}{y:04d}{m:02d}{d:02d}{self.rng.randint(0, 999):03d}"
        return f"身份证{body}{id_check(body)}日期不对"

    def _wrong_luhn(self) -> str:
        v = self.card()
        return v[:-1] + rng_choice_other(self.rng, "0123456789", v[-1])

    def corpus(self, n_positive_per_detector: int = 240, n_negative: int = 800) -> list[Line]:
        lines = [self.positive(d) for d in DETECTORS for _ in range(n_positive_per_detector)]
        lines += [self.negative() for _ in range(n_negative)]
        # A few lines carry several items at once, as real chat does.
        for _ in range(n_positive_per_detector // 2):
            a, b = self.positive(self.rng.choice(DETECTORS)), self.positive(self.rng.choice(DETECTORS))
            sep = "；"
            shift = len(a.text) + len(sep)
            lines.append(Line(a.text + sep + b.text, a.labels + [(d, s + shift, e + shift) for d, s, e in b.labels]))
        self.rng.shuffle(lines)
        return lines


def rng_choice_other(rng: random.Random, alphabet: str, current: str) -> str:
    return rng.choice([c for c in alphabet if c != current.upper()])


def score(lines: list[Line], scan) -> dict[str, dict[str, float]]:
    """Per-detector precision and recall; a finding counts when it overlaps a label of its detector."""
    tp = dict.fromkeys(DETECTORS, 0)
    fp = dict.fromkeys(DETECTORS, 0)
    fn = dict.fromkeys(DETECTORS, 0)
    errors: list[str] = []
    for line in lines:
        found = [(f[0], f[1], f[2]) for f in scan(line.text)]
        used: set[int] = set()
        for det, s, e in line.labels:
            hit = next((i for i, (d, fs, fe) in enumerate(found) if d == det and fs < e and s < fe and i not in used), None)
            if hit is None:
                fn[det] += 1
                errors.append(f"FN {det}: {line.text!r}")
            else:
                used.add(hit)
                tp[det] += 1
        for i, (d, fs, fe) in enumerate(found):
            if i not in used and d in fp:
                fp[d] += 1
                errors.append(f"FP {d}: {line.text[fs:fe]!r} in {line.text!r}")
    out: dict[str, dict[str, float]] = {}
    for d in DETECTORS:
        p = tp[d] / (tp[d] + fp[d]) if tp[d] + fp[d] else 1.0
        r = tp[d] / (tp[d] + fn[d]) if tp[d] + fn[d] else 1.0
        out[d] = {"precision": p, "recall": r, "tp": tp[d], "fp": fp[d], "fn": fn[d]}
    out["_errors"] = errors  # type: ignore[assignment]
    return out
