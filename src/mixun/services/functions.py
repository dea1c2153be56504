"""Function switches and group limits (NAFMII No.222 三(二), M10): secadmin switches functions on or off
for a unit (with its sub-units) or one person, and sets group limits. A person's own rule wins over
their unit's, a unit's nearest rule over its parents'; with no rule everything is on. Enforced in the
services that do each function, so every route (and the CLI) meets the same refusal: a 403
``function_disabled`` / ``group_size_limit`` that names the rule."""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from mixun.db.models_people import FunctionRule
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.runtime import Ctx, Runtime
from mixun.storage import Session
from mixun.storage import conversations as conversation_store
from mixun.storage import function_rules as rule_store
from mixun.storage import units as unit_store
from mixun.storage import users as user_store

# Switches (on/off) and limits (a number). ``cross_unit_groups_unreviewed`` off means a group with people
# of other units waits for the unit head's approval (services/group_requests.py) instead of being made.
SWITCHES = ("send_files", "create_groups", "cross_unit_messages", "cross_unit_groups",
            "cross_unit_groups_unreviewed", "use_drive")
LIMITS = ("group_size",)
FUNCTIONS = SWITCHES + LIMITS
NAMES = {
    "send_files": ("发送文件和图片", "sending files and images"),
    "create_groups": ("创建群聊", "creating groups"),
    "cross_unit_messages": ("与其他单位人员单聊", "direct messages with people of other units"),
    "cross_unit_groups": ("群聊加入其他单位人员", "groups with people of other units"),
    "cross_unit_groups_unreviewed": ("跨单位建群无需单位负责人审批", "groups with other units without the unit head's approval"),
    "use_drive": ("使用网盘", "using the drive"),
    "group_size": ("群成员人数上限", "the group size limit"),
}
# Rules change rarely and are few: each process keeps them all, re-read every few seconds (a change made
# in this process is seen at once; in another, within CACHE_SECONDS).
CACHE_SECONDS = 5.0
Key = tuple[str, int, str]  # (scope, target id, function)
# Set while a unit head's approved group request makes its group (services/group_requests.py).
APPROVED_GROUP: ContextVar[bool] = ContextVar("mixun_approved_group", default=False)


class _Rules:
    def __init__(self) -> None:
        self.rows: dict[Key, tuple[bool, int | None, int]] = {}
        self.loaded = -1e9
        self.lock = threading.Lock()


def _cache(rt: Runtime) -> _Rules:
    c = rt.function_rules
    if c is None:
        c = rt.function_rules = _Rules()
    return c  # type: ignore[no-any-return]


def _rules(rt: Runtime, s: Session | None = None) -> dict[Key, tuple[bool, int | None, int]]:
    c = _cache(rt)
    if time.monotonic() - c.loaded < CACHE_SECONDS:
        return c.rows
    if s is not None:
        rows = rule_store.list_rule_rows(s)
    else:
        with rt.db.read() as rs:
            rows = rule_store.list_rule_rows(rs)
    with c.lock:
        c.rows = {(r.scope, int(r.target_id), r.function): (bool(r.allowed), r.limit, int(r.id)) for r in rows}
        c.loaded = time.monotonic()
    return c.rows


def forget(rt: Runtime) -> None:
    _cache(rt).loaded = -1e9


def _unit_path(s: Session, user_id: int) -> str:
    """The path of the person's unit ("" for none)."""
    return unit_store.user_unit_path(s, user_id)


def _ancestors(s: Session, path: str) -> list[tuple[int, str]]:
    """The unit of ``path`` and its parents, nearest first."""
    if not path:
        return []
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
    found = unit_store.list_ids_by_path(s, prefixes)
    return [(int(found[p]), p) for p in prefixes if p in found]


def effective_in(s: Session, rt: Runtime, user_id: int) -> dict[str, dict[str, Any]]:
    """Each function's state for one person and the rule that decided it (None: the default)."""
    rules = _rules(rt, s)
    out: dict[str, dict[str, Any]] = {f: {"allowed": True, "limit": None, "rule": None} for f in FUNCTIONS}
    if not rules:
        return out
    path = _unit_path(s, user_id)
    chain = _ancestors(s, path)
    for f in FUNCTIONS:
        hit = rules.get(("user", user_id, f))
        if hit is not None:
            out[f] = {"allowed": hit[0], "limit": hit[1], "rule": {"id": hit[2], "scope": "user", "target": ""}}
            continue
        for uid, upath in chain:
            hit = rules.get(("unit", uid, f))
            if hit is not None:
                out[f] = {"allowed": hit[0], "limit": hit[1], "rule": {"id": hit[2], "scope": "unit", "target": upath}}
                break
    return out


def effective(ctx: Ctx, user_id: int | None = None) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        uid = user_id if user_id is not None else ctx.user_id
        if user_id is not None and user_store.find_user(s, user_id) is None:
            raise MixunError("not_found")
        eff = effective_in(s, ctx.rt, uid)
    return {"functions": {f: {**v, "name": NAMES[f][1 if ctx.locale.startswith("en") else 0]} for f, v in eff.items()}}


def _refuse(code: str, function: str, state: dict[str, Any], **extra: Any) -> MixunError:
    rule = state["rule"] or {}
    by_unit = rule.get("scope") == "unit"
    where_zh = f"单位“{rule.get('target')}”的规则" if by_unit else "针对本人的规则"
    where_en = f"the rule for unit {rule.get('target')}" if by_unit else "a rule set for you"
    zh, en = NAMES[function]
    details = {"function": function, "rule_scope": rule.get("scope"), "rule_unit": rule.get("target") or None,
               "rule_id": rule.get("id"), **extra}
    if code == "group_approval_required":
        return MixunError(code, (f"与其他单位人员建群须经单位负责人审批（{where_zh}），已可提交申请",
                                 f"A group with people of other units needs the unit head's approval ({where_en})"),
                          **details)
    if code == "group_size_limit":
        return MixunError(code, (f"群成员不能超过 {state['limit']} 人（{where_zh}）",
                                 f"A group may have at most {state['limit']} members ({where_en})"), **details)
    return MixunError(code, (f"“{zh}”功能已被安全管理员关闭（{where_zh}）",
                             f"{en.capitalize()} is switched off by the security administrator ({where_en})"), **details)


def require_in(s: Session, ctx: Ctx, function: str) -> None:
    """403 when ``function`` is switched off for the caller."""
    if not _rules(ctx.rt, s):
        return
    state = effective_in(s, ctx.rt, ctx.user_id)[function]
    if not state["allowed"]:
        raise _refuse("function_disabled", function, state)


def require(ctx: Ctx, function: str) -> None:
    if not _rules(ctx.rt):
        return
    with ctx.rt.db.read() as s:
        require_in(s, ctx, function)


def _same_unit(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def check_members_in(s: Session, ctx: Ctx, member_ids: list[int], size_after: int, creating: bool) -> None:
    """A group being created (or grown) by the caller: may they create groups, include people of other
    units, reach this size?"""
    if not _rules(ctx.rt, s):
        return
    eff = effective_in(s, ctx.rt, ctx.user_id)
    if creating and not eff["create_groups"]["allowed"]:
        raise _refuse("function_disabled", "create_groups", eff["create_groups"])
    size = eff["group_size"]
    if size["limit"] is not None and size_after > size["limit"]:
        raise _refuse("group_size_limit", "group_size", size, limit=size["limit"])
    reviewed = creating and not eff["cross_unit_groups_unreviewed"]["allowed"] and not APPROVED_GROUP.get()
    if (not eff["cross_unit_groups"]["allowed"] or reviewed) and member_ids:
        mine = _unit_path(s, ctx.user_id)
        paths = user_store.list_unit_paths(s, member_ids)
        others = [uid for uid, p in paths.items() if not _same_unit(mine, p or "")]
        if others and not eff["cross_unit_groups"]["allowed"]:
            raise _refuse("function_disabled", "cross_unit_groups", eff["cross_unit_groups"], user_ids=others)
        if others:
            raise _refuse("group_approval_required", "cross_unit_groups_unreviewed",
                          eff["cross_unit_groups_unreviewed"], user_ids=others)


def check_direct_in(s: Session, ctx: Ctx, other_id: int) -> None:
    """A direct conversation with ``other_id``: may the caller talk to someone of another unit?"""
    if not _rules(ctx.rt, s):
        return
    eff = effective_in(s, ctx.rt, ctx.user_id)
    if eff["cross_unit_messages"]["allowed"]:
        return
    if not _same_unit(_unit_path(s, ctx.user_id), _unit_path(s, other_id)):
        raise _refuse("function_disabled", "cross_unit_messages", eff["cross_unit_messages"])


def check_send(ctx: Ctx, conversation_id: int, with_files: bool) -> None:
    """Before a message is written: files allowed, and a direct conversation across units allowed."""
    if not _rules(ctx.rt):
        return
    with ctx.rt.db.read() as s:
        if with_files:
            require_in(s, ctx, "send_files")
        conv = conversation_store.find_conversation(s, conversation_id)
        if conv is None or conv.kind != "direct":
            return
        other = conversation_store.find_other_member_id(s, conversation_id, ctx.user_id)
        if other is not None:
            check_direct_in(s, ctx, int(other))


# ---- secadmin's screen --------------------------------------------------------------------------------

def list_rules(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        rows = rule_store.list_rules(s)
        units = unit_store.list_paths(s, [r.target_id for r in rows if r.scope == "unit"])
        users = user_store.list_names_and_usernames(s, [r.target_id for r in rows if r.scope == "user"])
    out = []
    for r in rows:
        who = units.get(r.target_id, "") if r.scope == "unit" else (
            f"{users[r.target_id][0]}（{users[r.target_id][1]}）" if r.target_id in users else "")
        out.append({"id": r.id, "scope": r.scope, "target_id": r.target_id, "target": who, "function": r.function,
                    "allowed": r.allowed, "limit": r.limit, "set_at": r.set_at.isoformat()})
    return out


def set_rule(ctx: Ctx, scope: str, target_id: int, function: str, allowed: bool, limit: int | None) -> dict[str, Any]:
    if scope not in ("unit", "user"):
        raise MixunError("validation_failed", ("scope 只能是 unit 或 user", "scope must be unit or user"), field="scope")
    if function not in FUNCTIONS:
        raise MixunError("validation_failed", (f"功能只能是 {'、'.join(FUNCTIONS)}", f"function must be one of {', '.join(FUNCTIONS)}"),
                         field="function")
    if function in LIMITS:
        if limit is None or not 2 <= limit <= 100_000:
            raise MixunError("validation_failed", ("人数上限为 2–100000", "The limit must be 2–100000"), field="limit")
        allowed = True
    else:
        limit = None
    with ctx.rt.db.write() as s:
        if scope == "unit":
            if unit_store.find_unit(s, target_id) is None:
                raise MixunError("unit_not_found")
        elif user_store.find_user(s, target_id) is None:
            raise MixunError("not_found")
        row = rule_store.find_rule_for(s, scope, target_id, function)
        if row is None:
            row = FunctionRule(scope=scope, target_id=target_id, function=function)
            s.add(row)
        row.allowed, row.limit, row.set_by, row.set_at = allowed, limit, ctx.user_id, datetime.now(UTC)
        s.flush()
        audit.record(s, ctx, AuditAction.FUNCTION_RULE_SET, target=f"{scope}:{target_id}", function=function,
                     allowed=allowed, limit=limit)
        rid = row.id
    forget(ctx.rt)
    return {"id": rid, "scope": scope, "target_id": target_id, "function": function, "allowed": allowed, "limit": limit}


def remove_rule(ctx: Ctx, rule_id: int) -> None:
    with ctx.rt.db.write() as s:
        row = rule_store.find_rule(s, rule_id)
        if row is None:
            raise MixunError("not_found")
        audit.record(s, ctx, AuditAction.FUNCTION_RULE_REMOVED, target=f"{row.scope}:{row.target_id}", function=row.function)
        rule_store.delete_rule(s, rule_id)
    forget(ctx.rt)
