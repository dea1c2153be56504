"""DLP in the service layer: the send-path step, the policy and lexicons secadmin keeps, hits and sanctions.

The send-path step runs before the message's write transaction, so a block or a confirm-required
answer records its audit entry and hits in a transaction of its own and stores nothing else. Policy,
lexicons and suspensions are cached per process and re-read at most every few seconds, so every
server process follows a change within that time without a query per message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from mixun import metrics
from mixun.db.engine import affected
from mixun.db.models import Unit, User
from mixun.db.models_dlp import DlpHit, DlpLexiconTerm, DlpPolicyVersion, DlpSanction
from mixun.domain.audit_actions import AuditAction
from mixun.domain.dlp import (
    CATEGORIES,
    CHANNELS,
    DEFAULT_LEXICONS,
    DEFAULT_POLICY,
    DETECTORS,
    DlpEngine,
    Policy,
    Verdict,
    decide,
)
from mixun.domain.events import EventType
from mixun.domain.roles import Role
from mixun.domain.sanctions import higher_level
from mixun.errors import MixunError
from mixun.files.inspect import DocumentVerdict, inspect_document
from mixun.services import audit, events, texts
from mixun.services.runtime import Ctx, DlpOutcome, Runtime

REFRESH_SECONDS = 3.0
_REFUSAL_TEXT = {  # why a file was refused, for the sender (the code stays in `reason`)
    "empty_file": ("文件为空", "The file is empty"),
    "unsupported_type": ("只能发送 Word、Excel、PowerPoint、PDF、TXT/CSV 文件和图片",
                         "Only Word, Excel, PowerPoint, PDF, TXT/CSV files and images may be sent"),
    "archive_not_allowed": ("不允许发送压缩包；需要加密传输的文件请使用“加密打包”",
                            "Archives may not be sent; use secure packing for files that must travel encrypted"),
    "corrupt_archive": ("压缩文件已损坏，无法读取", "The archive is damaged and cannot be read"),
    "corrupt_document": ("文档已损坏，无法读取", "The document is damaged and cannot be read"),
    "too_large_uncompressed": ("文件解压后过大", "The file expands beyond the allowed size"),
    "encrypted_content": ("加密文件无法检查内容；需要加密传输的文件请使用“加密打包”",
                          "Encrypted files cannot be inspected; use secure packing instead"),
    "unreadable_document": ("文档无法读取，无法检查内容", "The document cannot be read, so it cannot be inspected"),
}


def _summary(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the audit trail keeps of findings: detector, masked excerpt, action (never the raw value)."""
    return [{k: f[k] for k in ("detector", "masked", "action")} for f in views]


@dataclass
class DlpState:
    policy: Policy
    policy_id: int | None
    engine: DlpEngine
    lexicon_stamp: tuple[int, int]
    suspended: dict[int, datetime] = field(default_factory=dict)
    loaded_at: float = 0.0


def _escalation(rt: Runtime) -> tuple[int, int, int, float]:
    """(warning after, unit-head notice after, suspension after) blocked attempts in 30 days; hours."""
    parts = rt.settings.extra.get("MIXUN_DLP_ESCALATION", "1,3,5").split(",")
    hours = float(rt.settings.extra.get("MIXUN_DLP_SUSPEND_HOURS", "24"))
    a, b, c = (int(p) for p in parts[:3])
    return a, b, c, hours


class DlpService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._lock = threading.Lock()
        self._state: DlpState | None = None

    # --- state ------------------------------------------------------------------------------------
    def state(self) -> DlpState:
        st = self._state
        if st is not None and time.monotonic() - st.loaded_at < REFRESH_SECONDS:
            return st
        with self._lock:
            st = self._state
            if st is not None and time.monotonic() - st.loaded_at < REFRESH_SECONDS:
                return st
            self._state = self._load(st)
            return self._state

    def invalidate(self) -> None:
        with self._lock:
            if self._state is not None:
                self._state.loaded_at = 0.0

    def _load(self, old: DlpState | None) -> DlpState:
        now = datetime.now(UTC)
        with self.rt.db.read() as s:
            row = s.execute(select(DlpPolicyVersion).order_by(DlpPolicyVersion.id.desc()).limit(1)).scalar()
            stamp_row = s.execute(select(func.coalesce(func.max(DlpLexiconTerm.id), 0), func.count())
                                  .select_from(DlpLexiconTerm)).one()
            stamp = (int(stamp_row[0]), int(stamp_row[1]))
            suspended: dict[int, datetime] = {uid: until for uid, until in s.execute(
                select(DlpSanction.user_id, DlpSanction.suspended_until)
                .where(DlpSanction.suspended_until > now)).all() if until is not None}
            if old is not None and old.lexicon_stamp == stamp:
                engine = old.engine
            else:
                lex: dict[str, list[str]] = {c: list(t) for c, t in DEFAULT_LEXICONS.items()}
                for cat, term in s.execute(select(DlpLexiconTerm.category, DlpLexiconTerm.term)).all():
                    lex.setdefault(cat, []).append(term)
                engine = DlpEngine(lex)
        policy = Policy.from_dict(row.body) if row is not None else DEFAULT_POLICY
        return DlpState(policy=policy, policy_id=row.id if row else None, engine=engine, lexicon_stamp=stamp,
                        suspended=suspended, loaded_at=time.monotonic())

    # --- the send-path step ------------------------------------------------------------------------
    def check(self, ctx: Ctx, text: str, channel_of: Callable[[], str], confirm: bool,
              unit_path: Callable[[], str], target: str) -> DlpOutcome:
        st = self.state()
        self.check_suspension(ctx, st)
        findings = st.engine.scan(text)
        if not findings:
            return DlpOutcome(deliver_text=text)
        roles = ctx.principal.roles if ctx.principal else ()
        channel = channel_of()
        verdict = decide(findings, st.policy, channel=channel, roles=roles, unit_path=unit_path())
        if verdict.action == "allow":
            return DlpOutcome(deliver_text=text)
        views = self._settle(ctx, verdict, verdict.action, channel, confirm, target)
        # Findings ruled `mask` are masked whatever the overall action (a confirmed warning may carry some).
        deliver, original = verdict.masked_text(text), None
        if deliver != text:
            original = self.rt.keys.encrypt_small(text.encode(), "dlp-original")
        return DlpOutcome(action=verdict.action, deliver_text=deliver, findings=views, original_enc=original,
                          audit_summary=_summary(views), channel=channel)

    def check_file(self, ctx: Ctx, data: bytes, filename: str, confirm: bool, unit_path: Callable[[], str],
                   target: str, channel: str = "file") -> tuple[DocumentVerdict, DlpOutcome]:
        """A file on channel `file` (D1–D4; `drive` when shared from a drive): its real type, its text and its name through the same
        detectors and policy. Refusals raise (unsupported_media, dlp_blocked, dlp_confirm_required);
        what may go comes back with the outcome its message carries (allow, confirmed warn, hold)."""
        st = self.state()
        self.check_suspension(ctx, st)
        roles = ctx.principal.roles if ctx.principal else ()
        doc = inspect_document(data, filename, st.engine, st.policy, channel=channel, roles=roles,
                               unit_path=unit_path())
        verdict = doc.verdict
        if verdict is None and doc.action != "block":  # encrypted content the policy lets through (or holds)
            verdict = Verdict(doc.action)
        if verdict is None:  # refused before any text was read: its type, encryption or an unreadable body
            with self.rt.db.write() as s:
                audit.record(s, ctx, AuditAction.FILE_REFUSED, target=target, outcome="failure", reason=doc.reason,
                             file_kind=doc.kind.value if doc.kind else None)
            raise MixunError("unsupported_media", _REFUSAL_TEXT.get(doc.reason or ""),
                             reason=doc.reason, detected=doc.kind.value if doc.kind else None)
        if doc.action == "allow" and not verdict.decisions:
            return doc, DlpOutcome(channel=channel)
        # `inspect_document` turns mask into warn (a file cannot be masked in place) and any classified
        # marking into a block whatever the policy says; settle on its action, not the raw verdict's.
        views = self._settle(ctx, verdict, doc.action, channel, confirm, target, reason=doc.reason)
        action = "allow" if doc.action == "allow" else doc.action
        return doc, DlpOutcome(action=action, findings=views, audit_summary=_summary(views), channel=channel)

    def check_suspension(self, ctx: Ctx, st: DlpState) -> None:
        until = st.suspended.get(ctx.user_id)
        if until is not None and until > datetime.now(UTC):
            raise MixunError("sending_suspended", suspended_until=until.isoformat())

    def _settle(self, ctx: Ctx, verdict: Verdict, action: str, channel: str, confirm: bool, target: str,
                reason: str | None = None) -> list[dict[str, Any]]:
        """The findings' views; a block, or a warning not yet confirmed, is recorded and raised."""
        metrics.DLP_VERDICTS.labels(action, channel).inc()
        for d in verdict.decisions:
            metrics.DLP_FINDINGS.labels(d.finding.detector, d.action).inc()
        views = [{"detector": d.finding.detector, "start": d.finding.start, "end": d.finding.end,
                  "masked": d.finding.masked, "action": d.action, "category": d.finding.category}
                 for d in verdict.decisions]
        if action == "block" or (action == "warn" and not confirm):
            code = "dlp_blocked" if action == "block" else "dlp_confirm_required"
            with self.rt.db.write() as s:
                self._record_hits(s, ctx, views, channel, target)
                audit.record(s, ctx, AuditAction.DLP_BLOCKED if action == "block" else AuditAction.DLP_WARNED, target=target,
                             outcome="failure", channel=channel, findings=_summary(views),
                             thresholds=list(verdict.thresholds), **_reason(reason))
                if action == "block":
                    self._escalate(s, ctx)
            extra = _reason(reason)
            raise MixunError(code, findings=views, thresholds=list(verdict.thresholds), **extra)
        return views

    def _record_hits(self, s: Any, ctx: Ctx, views: list[dict[str, Any]], channel: str, target: str) -> None:
        now = datetime.now(UTC)  # one timestamp per attempt: escalation counts attempts, not findings
        masked = texts.seal_excerpts(self.rt, s, target, now, [str(f["masked"])[:200] for f in views])
        for f, excerpt in zip(views, masked, strict=True):
            s.add(DlpHit(user_id=ctx.user_id, detector=f["detector"], category=f.get("category"),
                         action=f["action"], channel=channel, target=target[:100], masked=excerpt,
                         created_at=now))

    def record_allowed_hits(self, s: Any, ctx: Ctx, outcome: DlpOutcome, target: str) -> None:
        """Hits of a message that goes through (masked, confirmed warning, hold), in its own transaction."""
        self._record_hits(s, ctx, outcome.findings, outcome.channel, target)

    def _escalate(self, s: Any, ctx: Ctx) -> None:
        warn_after, notice_after, suspend_after, hours = _escalation(self.rt)
        since = datetime.now(UTC) - timedelta(days=30)
        blocked = s.execute(select(func.count(func.distinct(DlpHit.created_at))).where(
            DlpHit.user_id == ctx.user_id, DlpHit.action == "block", DlpHit.created_at > since)).scalar_one()
        sanction = s.get(DlpSanction, ctx.user_id)
        level = "none"
        if blocked >= suspend_after:
            level = "suspension"
        elif blocked >= notice_after:
            level = "unit_notice"
        elif blocked >= warn_after:
            level = "warning"
        # Blocks never lower what a reviewer's violation decisions (or earlier blocks) reached.
        current = sanction.level if sanction is not None else "none"
        if level != "none" and (higher_level(level, current) != current or level == "suspension"):
            apply_sanction_txn(s, ctx, ctx.user_id, level, hours,
                               violations=max(int(blocked), sanction.violations if sanction else 0))
        self.invalidate()




def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _reason(reason: str | None) -> dict[str, Any]:
    return {"reason": reason} if reason else {}


def _unit_heads(s: Any, user_id: int) -> list[int]:
    unit_id = s.execute(select(User.unit_id).where(User.id == user_id)).scalar()
    if unit_id is None:
        return []
    return [uid for uid, roles in s.execute(select(User.id, User.roles).where(User.unit_id == unit_id)).all()
            if Role.UNIT_HEAD.value in roles and uid != user_id]


def apply_sanction_txn(s: Any, ctx: Ctx, user_id: int, level: str, hours: float | None = None,
                       violations: int | None = None) -> None:
    """C7 escalation, shared by DLP blocks and review decisions: `warning` tells the person,
    `unit_notice` also tells the unit head, `suspension` also stops sending for a while."""
    if hours is None:
        hours = _escalation(ctx.rt)[3]
    now = datetime.now(UTC)
    sanction = s.get(DlpSanction, user_id)
    if sanction is None:
        sanction = DlpSanction(user_id=user_id, level="none", violations=0)
        s.add(sanction)
    sanction.level = level
    sanction.updated_at = now
    if violations is not None:
        sanction.violations = violations
    else:
        sanction.violations = (sanction.violations or 0) + 1
    if level == "suspension":
        sanction.suspended_until = now + timedelta(hours=hours)
    audit.record(s, ctx, AuditAction.DLP_ESCALATED, target=f"user:{user_id}", level=level, violations=sanction.violations)
    # The name lets the unit head's client say who it is about without a directory look-up.
    notice = {"user_id": user_id, "name": s.execute(select(User.name).where(User.id == user_id)).scalar(),
              "level": level, "violations": sanction.violations,
              "suspended_until": sanction.suspended_until.isoformat() if sanction.suspended_until else None}
    recipients = {user_id}
    if level in ("unit_notice", "suspension"):
        recipients |= set(_unit_heads(s, user_id))
    events.emit(s, ctx, recipients, EventType.DLP_VIOLATION_NOTICE, notice)
    svc = ctx.rt.dlp_service
    if svc is not None:
        from mixun.db.engine import on_commit

        on_commit(s, svc.invalidate)


def make_hook(rt: Runtime) -> Callable[..., DlpOutcome]:
    svc = DlpService(rt)
    rt.dlp_service = svc
    return svc.check


def service(ctx: Ctx) -> DlpService:
    svc = ctx.rt.dlp_service
    if not isinstance(svc, DlpService):
        svc = ctx.rt.dlp_service = DlpService(ctx.rt)
    return svc


# --- secadmin: policy, lexicons, scans, hits, sanctions ------------------------------------------------

def get_policy(ctx: Ctx) -> dict[str, Any]:
    st = service(ctx).state()
    return {"id": st.policy_id, "policy": st.policy.to_dict(), "default": st.policy_id is None,
            "channels": list(CHANNELS), "categories": list(CATEGORIES), "detectors": list(DETECTORS)}


def set_policy(ctx: Ctx, body: dict[str, Any], note: str = "") -> dict[str, Any]:
    try:
        policy = Policy.from_dict(body)
    except (ValueError, TypeError, KeyError) as exc:
        raise MixunError("validation_failed", (f"策略不正确：{exc}", f"The policy is invalid: {exc}"), field="policy") from exc
    with ctx.rt.db.write() as s:
        row = DlpPolicyVersion(body=policy.to_dict(), created_by=ctx.principal.user_id if ctx.principal else None,
                               note=note[:500])
        s.add(row)
        s.flush()
        audit.record(s, ctx, AuditAction.DLP_POLICY_CHANGED, target=f"dlp_policy:{row.id}", note=note[:200],
                     rules=len(policy.rules))
    service(ctx).invalidate()
    return get_policy(ctx)


def reset_policy(ctx: Ctx) -> dict[str, Any]:
    return set_policy(ctx, DEFAULT_POLICY.to_dict(), "reset to defaults")


def list_terms(ctx: Ctx, category: str | None, limit: int, offset: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        stmt = select(DlpLexiconTerm).order_by(DlpLexiconTerm.id)
        if category:
            stmt = stmt.where(DlpLexiconTerm.category == category)
        rows = list(s.execute(stmt.offset(offset).limit(limit + 1)).scalars())
    return {"terms": [{"id": r.id, "category": r.category, "term": r.term, "created_at": r.created_at.isoformat()}
                      for r in rows[:limit]],
            "builtin_counts": {c: len(t) for c, t in DEFAULT_LEXICONS.items()},
            "next_offset": offset + limit if len(rows) > limit else None}


def _check_terms(category: str, terms: list[str]) -> list[str]:
    if category not in CATEGORIES:
        raise MixunError("validation_failed", (f"未知词库类别：{category}", f"Unknown lexicon category: {category}"), field="category")
    clean = list(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
    if not clean or any(len(t) > 200 for t in clean):
        raise MixunError("validation_failed", ("词条为 1–200 个字符", "Each term must be 1–200 characters"), field="terms")
    return clean


def add_terms(ctx: Ctx, category: str, terms: list[str]) -> dict[str, int]:
    clean = _check_terms(category, terms)
    with ctx.rt.db.write() as s:
        existing = set(s.execute(select(DlpLexiconTerm.term).where(DlpLexiconTerm.category == category,
                                                                  DlpLexiconTerm.term.in_(clean))).scalars())
        new = [t for t in clean if t not in existing]
        for t in new:
            s.add(DlpLexiconTerm(category=category, term=t,
                                 created_by=ctx.principal.user_id if ctx.principal else None))
        audit.record(s, ctx, AuditAction.DLP_LEXICON_CHANGED, target=f"lexicon:{category}", added=len(new))
    service(ctx).invalidate()
    return {"added": len(new)}


def remove_terms(ctx: Ctx, category: str, terms: list[str]) -> dict[str, int]:
    clean = _check_terms(category, terms)
    with ctx.rt.db.write() as s:
        n = affected(s.execute(delete(DlpLexiconTerm).where(DlpLexiconTerm.category == category,
                                                   DlpLexiconTerm.term.in_(clean))))
        audit.record(s, ctx, AuditAction.DLP_LEXICON_CHANGED, target=f"lexicon:{category}", removed=int(n or 0))
    service(ctx).invalidate()
    return {"removed": int(n or 0)}


def try_scan(ctx: Ctx, text: str, channel: str, roles: list[str], unit_path: str) -> dict[str, Any]:
    if channel not in CHANNELS:
        raise MixunError("validation_failed", ("未知渠道", "Unknown channel"), field="channel")
    st = service(ctx).state()
    verdict = decide(st.engine.scan(text), st.policy, channel=channel, roles=roles, unit_path=unit_path)
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.DLP_SCAN_TRIED, channel=channel, findings=len(verdict.decisions))
    return {"action": verdict.action, "thresholds": list(verdict.thresholds),
            "findings": [{"detector": d.finding.detector, "start": d.finding.start, "end": d.finding.end,
                          "masked": d.finding.masked, "action": d.action, "confidence": d.finding.confidence,
                          "category": d.finding.category} for d in verdict.decisions],
            "masked_text": verdict.masked_text(text)}


def list_hits(ctx: Ctx, user_id: int | None, limit: int, offset: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        stmt = select(DlpHit, User.name, Unit.path).join(User, User.id == DlpHit.user_id).outerjoin(
            Unit, Unit.id == User.unit_id).order_by(DlpHit.id.desc())
        if user_id:
            stmt = stmt.where(DlpHit.user_id == user_id)
        rows = s.execute(stmt.offset(offset).limit(limit + 1)).all()
        per_person = s.execute(select(DlpHit.user_id, User.name, func.count()).join(User, User.id == DlpHit.user_id)
                               .group_by(DlpHit.user_id, User.name).order_by(func.count().desc()).limit(50)).all()
        sanctions = {r.user_id: r for r in s.execute(select(DlpSanction)).scalars()}
    return {
        "hits": [{"id": h.id, "user_id": h.user_id, "name": nm, "unit": up or "", "detector": h.detector,
                  "category": h.category, "action": h.action, "channel": h.channel, "target": h.target,
                  "masked": h.masked, "created_at": h.created_at.isoformat()} for h, nm, up in rows[:limit]],
        "by_person": [{"user_id": uid, "name": nm, "hits": n,
                       "level": sanctions[uid].level if uid in sanctions else "none",
                       "suspended_until": _iso(sanctions[uid].suspended_until) if uid in sanctions else None}
                      for uid, nm, n in per_person],
        "next_offset": offset + limit if len(rows) > limit else None,
    }


def lift_suspension(ctx: Ctx, user_id: int) -> None:
    with ctx.rt.db.write() as s:
        sanction = s.get(DlpSanction, user_id)
        if sanction is None:
            raise MixunError("not_found")
        sanction.suspended_until = None
        sanction.level = "warning"
        sanction.updated_at = datetime.now(UTC)
        audit.record(s, ctx, AuditAction.DLP_SUSPENSION_LIFTED, target=f"user:{user_id}")
    service(ctx).invalidate()
