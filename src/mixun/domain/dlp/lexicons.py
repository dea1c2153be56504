"""The built-in starter lexicons for `prohibited`, one list per category.

Deliberately small and phrase-like: single common words (赌博, 毒品) appear in the bank's own compliance
notices, so the defaults name the act being offered or solicited. `secadmin` extends them.
"""

from __future__ import annotations

from types import MappingProxyType

CATEGORIES = ("illegal", "obscene", "violent", "gambling", "drugs", "fraud", "advertising")

DEFAULT_LEXICONS = MappingProxyType(
    {
        "illegal": (
            "办理假证", "代办假证", "出售假币", "买卖枪支", "出售枪支", "出售公民信息", "出售个人信息",
            "收购银行卡", "出租银行卡", "买卖银行卡", "代开发票", "地下钱庄", "洗钱通道", "出售身份证",
        ),
        "obscene": ("色情视频", "色情网站", "裸聊", "约炮", "成人视频", "黄色网站", "援交"),
        "violent": ("制作炸弹", "自制炸药", "买凶杀人", "杀你全家", "恐怖袭击", "砍死你"),
        "gambling": (
            "网络赌博", "赌博网站", "网上赌场", "六合彩", "时时彩", "百家乐", "赌球", "博彩平台",
            "下注平台", "澳门赌场",
        ),
        "drugs": ("冰毒", "海洛因", "摇头丸", "大麻烟", "k粉", "麻古", "贩毒"),
        "fraud": (
            "刷单返利", "刷单兼职", "转到安全账户", "冒充公检法", "杀猪盘", "信用卡套现", "代还信用卡",
            "高额返利", "内幕消息稳赚", "验证码发给我",
        ),
        "advertising": (
            "加微信领取", "扫码领红包", "微商代理", "日赚千元", "月入过万", "兼职日结", "点击链接领取",
            "免费领取iphone",
        ),
    }
)
