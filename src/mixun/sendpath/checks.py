"""Everything of a send before its write, one send at a time: the text, the client_id, the secadmin's
switches, the rate limit and the DLP verdict. In a serving process with a writer process these run in
the stage thread (``transport.ProcessWriter.write``), where this process's rate limiter and DLP policy
live; the batch writer runs them again, finding the token taken and the verdict decided."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member, Unit, User
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services import audit, functions
from mixun.services.membership import access_conversation
from mixun.services.message_views import find_sent_view
from mixun.services.runtime import Ctx, DlpHook, DlpOutcome

MENTION_ALL = "@所有人"


def check_text(ctx: Ctx, text: str, allow_empty: bool = False) -> str:
    if not isinstance(text, str):
        raise MixunError("validation_failed", field="text")
    if len(text) > ctx.rt.settings.max_message_length:
        raise MixunError("message_too_long", limit=ctx.rt.settings.max_message_length)
    if "\x00" in text:  # PostgreSQL text cannot hold it; refused alike on both databases
        raise MixunError("validation_failed", ("消息含有不允许的控制字符", "The message contains control characters that are not allowed"), field="text")
    if not text.strip() and not allow_empty:
        raise MixunError("empty_message")
    return text


def take_send_token(ctx: Ctx) -> None:
    """One send against the caller's rate limit (429 when spent)."""
    limiter = ctx.rt.rate_limiter
    if limiter is not None and (wait := limiter.wait(ctx.user_id)) > 0:
        raise MixunError("rate_limited", retry_after=max(1, math.ceil(wait)))


def rate_waits(requests: Sequence[SendRequest]) -> list[float | None]:
    """A batch's sends against their senders' rate limits at once (one Redis round trip, not one per
    send): for each request the seconds it must wait (0.0: allowed), or None where nothing was asked (a
    token already taken, no limiter, or the limiter failed: ``prepare`` then asks on its own and reports
    the failure as that send's)."""
    waits: list[float | None] = [None] * len(requests)
    pending = [i for i, r in enumerate(requests) if not r.rate_checked]
    limiter = requests[pending[0]].ctx.rt.rate_limiter if pending else None
    if limiter is None:
        return waits
    try:
        got = limiter.wait_many([requests[i].ctx.user_id for i in pending])
    except Exception:  # noqa: BLE001 - prepare asks one at a time and reports the send's own failure
        return waits
    for i, wait in zip(pending, got, strict=True):
        waits[i] = wait
    return waits


def prepare(request: SendRequest, rate_wait: float | None = None) -> SendRequest | SendOutcome:
    """The checks of one send: the checked request (its token taken, its DLP verdict decided) to write,
    or its outcome when it ends here (an error, or the first message of a client_id already sent)."""
    ctx = request.ctx
    try:
        check_text(ctx, request.text, allow_empty=bool(request.attachments))
        cid = request.client_id
        if cid is not None and (not isinstance(cid, str) or not 0 < len(cid) <= 64):
            raise MixunError("validation_failed", ("client_id 为 1–64 个字符", "client_id must be 1–64 characters"), field="client_id")
        functions.check_send(ctx, request.conversation_id, bool(request.attachments))  # secadmin's switches
        if not request.rate_checked:
            if rate_wait is None:
                take_send_token(ctx)
            elif rate_wait > 0:  # charged with its batch (rate_waits)
                raise MixunError("rate_limited", retry_after=max(1, math.ceil(rate_wait)))
            request = replace(request, rate_checked=True)  # a deferred send is not charged again
        if request.dlp_outcome is None:
            target = f"conversation:{request.conversation_id}"
            try:
                verdict = dlp_verdict(ctx, request.text, request.conversation_id, request.confirm, target)
            except MixunError:
                if request.client_id:  # a resend of a message that was already accepted gets that message back
                    with ctx.rt.db.read() as s:
                        found = find_sent_view(s, ctx, request.client_id)
                    if found is not None:
                        return SendOutcome.sent(found, created=False)
                raise
            request = replace(request, dlp_outcome=verdict)
    except Exception as exc:  # this send's own failure (a MixunError, or e.g. the rate limiter's store)
        return SendOutcome.failed(exc)
    return request


def dlp_verdict(ctx: Ctx, text: str, conversation_id: int, confirm: bool, target: str) -> DlpOutcome:
    """The DLP verdict on ``text`` sent to a conversation (an edit, a forward's items use it too); raises
    MixunError for a block or a confirmation required."""
    hook: DlpHook | None = ctx.rt.dlp
    if hook is None or not text:
        return DlpOutcome(deliver_text=text)

    def channel() -> str:
        with ctx.rt.db.read() as s:
            conv, _member = access_conversation(s, ctx, conversation_id)
            return "group" if conv.kind == "group" else "direct"

    return hook(ctx, text, channel, confirm, lambda: sender_unit_path(ctx), target)


def sender_unit_path(ctx: Ctx) -> str:
    """The caller's unit path, for DLP rules scoped to units (read only when something was found)."""
    with ctx.rt.db.read() as s:
        return s.execute(select(Unit.path).join(User, User.unit_id == Unit.id)
                         .where(User.id == ctx.user_id)).scalar() or ""


def record_dlp(s: Session, ctx: Ctx, outcome: DlpOutcome, target: str) -> None:
    """A DLP hit the send went through with (warn, mask, hold): audited, in the send's transaction."""
    if outcome.action != "allow" and outcome.audit_summary:
        audit.record(s, ctx, AuditAction.DLP_HIT, target=target, dlp_action=outcome.action,
                     findings=outcome.audit_summary)
        svc = ctx.rt.dlp_service
        if svc is not None:
            svc.record_allowed_hits(s, ctx, outcome, target)


def mentions(s: Session, conv_id: int, text: str, sender: int | None = None) -> list[int]:
    """The members ``text`` mentions (@name, @username; @所有人 from those who may)."""
    if "@" not in text:
        return []
    names = s.execute(select(Member.user_id, User.name, User.username, Member.role).join(User, User.id == Member.user_id)
                      .where(Member.conversation_id == conv_id)).all()
    if sender is not None and MENTION_ALL in text:
        # @所有人 (owners and group admins, or everyone when the group allows it) mentions every member;
        # from anyone else it is plain text. Read only for messages that contain it.
        role = next((r for uid, _n, _u, r in names if uid == sender), None)
        if role in ("owner", "admin") or s.execute(select(Conversation.all_may_mention_all)
                                                   .where(Conversation.id == conv_id)).scalar():
            return [uid for uid, _n, _u, _r in names if uid != sender]
    return [uid for uid, name, uname, _r in names if f"@{name}" in text or re.search(rf"@{re.escape(uname)}\b", text)]
