"""The DLP step of every send path: scan, decide by policy, and record the hit (masked, never raw).

Runs before the message's write transaction, so a block or a confirm-required answer records its
audit entry in a transaction of its own and stores nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mixun.domain.dlp import DEFAULT_LEXICONS, DEFAULT_POLICY, DlpEngine, Policy, decide
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.messages import DlpOutcome
from mixun.services.runtime import Ctx, Runtime


def _finding_views(verdict: Any) -> list[dict[str, Any]]:
    return [{"detector": d.finding.detector, "start": d.finding.start, "end": d.finding.end,
             "masked": d.finding.masked, "action": d.action, "category": d.finding.category}
            for d in verdict.decisions]


def make_hook(rt: Runtime):  # noqa: ANN201 - returns the DlpHook callable
    engine = DlpEngine(DEFAULT_LEXICONS)
    rt.extras["dlp_engine"] = engine
    rt.extras.setdefault("dlp_policy", DEFAULT_POLICY)

    def hook(ctx: Ctx, text: str, channel: str, confirm: bool, unit_path: Callable[[], str],
             target: str) -> DlpOutcome:
        findings = engine.scan(text)
        if not findings:
            return DlpOutcome(deliver_text=text)
        policy: Policy = rt.extras["dlp_policy"]
        roles = ctx.principal.roles if ctx.principal else ()
        verdict = decide(findings, policy, channel=channel, roles=roles, unit_path=unit_path())
        views = _finding_views(verdict)
        if verdict.action == "allow":
            return DlpOutcome(deliver_text=text)
        summary = [{k: v for k, v in f.items() if k in ("detector", "masked", "action")} for f in views]
        if verdict.action == "block" or (verdict.action == "warn" and not confirm):
            code = "dlp_blocked" if verdict.action == "block" else "dlp_confirm_required"
            with rt.db.write() as s:
                audit.record(s, ctx, "dlp.blocked" if code == "dlp_blocked" else "dlp.warned", target=target,
                             outcome="failure", channel=channel, findings=summary, thresholds=list(verdict.thresholds))
            raise MixunError(code, findings=views, thresholds=list(verdict.thresholds))
        original = None
        deliver = text
        if verdict.action == "mask":
            deliver = verdict.masked_text(text)
            original = rt.keys.encrypt_small(text.encode(), "dlp-original")
        return DlpOutcome(action=verdict.action, deliver_text=deliver, findings=views, original_enc=original,
                          audit_summary=summary)

    return hook


__all__ = ["make_hook"]
