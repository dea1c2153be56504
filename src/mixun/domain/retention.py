"""Retention rules: which policy governs a message, when it expires, and whether a legal hold keeps it.

Policies are scoped 'default', 'kind:direct' / 'kind:group', 'unit:<path>' (covering sub-units) and
'audit'; the most specific applies (unit over kind over default). The audit trail is never kept less
than 180 days (Cybersecurity Law art. 21 asks six months).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_MESSAGES_DAYS = 5 * 365
DEFAULT_FILES_DAYS = 5 * 365
DEFAULT_AUDIT_DAYS = 3 * 365
AUDIT_MIN_DAYS = 180
MIN_DAYS = 1


@dataclass(frozen=True)
class Policy:
    scope: str
    messages_days: int
    files_days: int


@dataclass(frozen=True)
class Hold:
    id: int
    user_id: int | None
    conversation_id: int | None
    since: datetime | None
    until: datetime | None


def valid_scope(scope: str) -> bool:
    return scope in ("default", "audit", "kind:direct", "kind:group") or (
        scope.startswith("unit:") and len(scope) > 5)


def check_days(scope: str, messages_days: int, files_days: int) -> tuple[str, str] | None:
    """An error text (zh-CN, English), or None when the numbers are acceptable for the scope."""
    if scope == "audit":
        if messages_days < AUDIT_MIN_DAYS:
            return (f"审计日志至少保存 {AUDIT_MIN_DAYS} 天", f"The audit log must be kept at least {AUDIT_MIN_DAYS} days")
        return None
    if messages_days < MIN_DAYS or files_days < MIN_DAYS:
        return ("保存期限至少 1 天", "Keep for at least 1 day")
    return None


def defaults() -> dict[str, Policy]:
    return {"default": Policy("default", DEFAULT_MESSAGES_DAYS, DEFAULT_FILES_DAYS),
            "audit": Policy("audit", DEFAULT_AUDIT_DAYS, DEFAULT_AUDIT_DAYS)}


def resolve(policies: dict[str, Policy], conversation_kind: str, unit_path: str) -> Policy:
    """The most specific policy: the longest matching unit scope, else the kind, else the default."""
    best: Policy | None = None
    for scope, p in policies.items():
        if scope.startswith("unit:"):
            unit = scope[5:].rstrip("/")
            if (unit_path == unit or unit_path.startswith(unit + "/")) and (
                    best is None or len(scope) > len(best.scope)):
                best = p
    if best is not None:
        return best
    return policies.get(f"kind:{conversation_kind}") or policies.get("default") or defaults()["default"]


def key_group(policies: dict[str, Policy], conversation_kind: str, unit_paths: set[str],
              held_conversation: int | None = None) -> str:
    """The retention group of a conversation's data keys (ADR 0020, "Groups"): the scopes of the policies
    that govern its messages now - ``resolve`` for each participant's unit (a message's policy follows its
    sender's unit), several joined by ``+`` in order - so conversations that expire together share a period
    key. A conversation a legal hold names has a group of its own, ``hold:<id>``, so it keeps no
    neighbour's key alive."""
    if held_conversation is not None:
        return f"hold:{held_conversation}"
    scopes = {resolve(policies, conversation_kind, unit).scope for unit in (unit_paths or {""})}
    return "+".join(sorted(scopes))


def group_label(group: str) -> str:
    """A retention group for people: 默认 / 单聊 / 群聊 / 单位 <path> / 保全 会话 <id>, several joined."""
    if not group:
        return "按月（分组前）"
    names = {"default": "默认", "kind:direct": "单聊", "kind:group": "群聊"}
    out = []
    for part in group.split("+"):
        if part in names:
            out.append(names[part])
        elif part.startswith("unit:"):
            out.append(f"单位 {part[5:]}")
        elif part.startswith("hold:"):
            out.append(f"保全 会话 {part[5:]}")
        else:
            out.append(part)
    return " + ".join(out)


def audit_days(policies: dict[str, Policy]) -> int:
    p = policies.get("audit")
    return max(AUDIT_MIN_DAYS, p.messages_days if p else DEFAULT_AUDIT_DAYS)


def expired(created_at: datetime, days: int, now: datetime) -> bool:
    return created_at < now - timedelta(days=days)


def held(holds: list[Hold], sender_id: int, participants: set[int], conversation_id: int,
         created_at: datetime) -> int | None:
    """The id of the first active hold covering this message, or None."""
    for h in holds:
        if h.user_id is not None and h.user_id != sender_id and h.user_id not in participants:
            continue
        if h.conversation_id is not None and h.conversation_id != conversation_id:
            continue
        if h.since is not None and created_at < h.since:
            continue
        if h.until is not None and created_at > h.until:
            continue
        return h.id
    return None
