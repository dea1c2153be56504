"""The demo bank: a head office and two branches, about ten departments, sixty employees, groups and history."""

from __future__ import annotations

import random

from sqlalchemy import select

from mixun.db.models import Conversation, User
from mixun.sendpath import batch
from mixun.sendpath.request import SendRequest
from mixun.services import conversations, users
from mixun.services.runtime import Ctx, Principal, Runtime

DEMO_PASSWORD = "Mixun@2026"  # noqa: S105 - the documented demo password
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "建国", "红", "志强", "海燕", "晓东", "雪", "鹏", "宇",
         "思远", "子涵", "雨桐", "浩然", "欣怡", "梓萱", "一鸣", "嘉怡", "俊杰", "佳琪"]
UNITS = [
    ("总行/办公室", ["主任", "副主任", "秘书"]),
    ("总行/信息科技部", ["总经理", "架构师", "开发工程师", "运维工程师"]),
    ("总行/风险管理部", ["总经理", "风险经理", "模型分析师"]),
    ("总行/公司金融部", ["总经理", "客户经理", "产品经理"]),
    ("总行/人力资源部", ["总经理", "人事专员"]),
    ("总行/合规部", ["总经理", "合规专员"]),
    ("总行/金融市场部", ["总经理", "交易员", "研究员"]),
    ("北京分行/营业部", ["行长", "柜员", "理财经理"]),
    ("北京分行/个人金融部", ["总经理", "客户经理"]),
    ("上海分行/营业部", ["行长", "柜员", "理财经理"]),
    ("上海分行/公司业务部", ["总经理", "客户经理"]),
]
GROUPS = [
    ("信息科技部工作群", "总行/信息科技部"),
    ("风险管理周会", "总行/风险管理部"),
    ("北京分行营业部", "北京分行/营业部"),
    ("上海分行业务交流", "上海分行"),
]
LINES = [
    "各位早上好,今天上午十点在三楼会议室开周会。",
    "收到,我准时参加。",
    "季度授信报告初稿已经上传到共享空间,请大家审阅。",
    "利率调整的通知下午会发出,请各网点做好客户解释工作。",
    "系统升级定于本周六凌晨两点到六点,期间暂停对外服务。",
    "好的,运维组已经准备好回退方案。",
    "请各部门周五前提交下季度预算。",
    "本月合规培训安排在周四下午,请大家预留时间。",
    "客户投诉已处理完毕,结论已反馈给营业部。",
    "今天的交易量比昨天高了百分之十五。",
]


def load_demo(ctx: Ctx) -> str:
    """Idempotent: does nothing when the demo people already exist."""
    rt = ctx.rt
    with rt.db.read() as s:
        if s.execute(select(User.id).where(User.username == "zhangsan")).first():
            return "demo data already loaded"
    rng = random.Random(20261123)
    pw_hash = rt.hasher.hash(DEMO_PASSWORD)
    people: list[tuple[int, str]] = []
    named = [("zhangsan", "张三", "总行/信息科技部", "开发工程师", ["employee"]),
             ("lisi", "李四", "总行/信息科技部", "运维工程师", ["employee"]),
             ("wangwu", "王五", "总行/信息科技部", "总经理", ["employee", "unit_head"]),
             ("zhaoliu", "赵六", "总行/人力资源部", "人事专员", ["employee", "hr"]),
             ("hegui", "何规", "总行/合规部", "合规专员", ["employee", "compliance"])]
    used = {n for _, n, *_ in named}
    with rt.db.write() as s:
        for i, (username, name, unit, position, roles) in enumerate(named):
            u = users.create_user_txn(s, ctx, username=username, name=name, unit=unit, password=DEMO_PASSWORD,
                                      phone=f"1380013{8000 + i:04d}", position=position, roles=roles,
                                      employee_no=f"D{10001 + i}", must_change_password=True,
                                      check_policy=False, password_hash=pw_hash)
            people.append((u.id, unit))
        n = len(named)
        while n < 60:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            if name in used:
                continue
            used.add(name)
            unit, positions = UNITS[n % len(UNITS)]
            u = users.create_user_txn(s, ctx, username=f"demo{n:03d}", name=name, unit=unit,
                                      password=DEMO_PASSWORD, phone=f"139{rng.randrange(10**8):08d}",
                                      position=rng.choice(positions), employee_no=f"D{10001 + n}",
                                      must_change_password=True, check_policy=False, password_hash=pw_hash)
            people.append((u.id, unit))
            n += 1
    zhangsan = people[0][0]
    owner_ctx = Ctx(rt=rt, principal=_principal(rt, zhangsan), ip="127.0.0.1", client="mixun demo")
    limiter, rt.rate_limiter = rt.rate_limiter, None
    try:
        for gname, prefix in GROUPS:
            members = [uid for uid, unit in people if unit.startswith(prefix) and uid != zhangsan][:49]
            conv = conversations.create_conversation(owner_ctx, "group", members, gname)
            senders = [zhangsan, *members[:6]]
            for i in range(12):
                sctx = Ctx(rt=rt, principal=_principal(rt, senders[i % len(senders)]), ip="127.0.0.1")
                batch.send(SendRequest(sctx, conv["id"], LINES[(i + len(gname)) % len(LINES)])).unwrap()
        direct = conversations.create_conversation(owner_ctx, "direct", [people[1][0]], None)
        batch.send(SendRequest(owner_ctx, direct["id"], "李四,下午的变更窗口确认一下?")).unwrap()
        lctx = Ctx(rt=rt, principal=_principal(rt, people[1][0]), ip="127.0.0.1")
        batch.send(SendRequest(lctx, direct["id"], "确认,两点开始,我在机房。")).unwrap()
    finally:
        rt.rate_limiter = limiter
    with rt.db.read() as s:
        groups = len(s.execute(select(Conversation.id)).all())
    return f"demo loaded: 60 people in {len(UNITS)} departments, {groups} conversations; password {DEMO_PASSWORD}"


def _principal(rt: Runtime, user_id: int) -> Principal:
    """A Principal for acting as a demo person."""
    from mixun.domain.roles import permissions_for

    with rt.db.read() as s:
        u = s.get(User, user_id)
        assert u is not None
        return Principal(user_id=u.id, username=u.username, name=u.name, roles=tuple(u.roles),
                         perms=permissions_for(u.roles), session_id=None)
