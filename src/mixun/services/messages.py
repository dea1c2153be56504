"""Sending, reading, editing and recalling messages; read receipts.

A send is one transaction: permission gate, idempotency by client_id, the DLP verdict, the next
gap-free seq (the conversation row's counter, locked), the message, its first archive version and one
event per member. The 201 goes back only after the commit.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mixun.db import bulk
from mixun.db.engine import is_busy
from mixun.db.models import Attachment, Conversation, Member, Message, MessageVersion, Unit, User
from mixun.db.sealed import Unreadable
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit, events, functions, texts
from mixun.services.membership import access_conversation, member_ids
from mixun.services.presence import online_users
from mixun.services.runtime import Ctx, DlpHook, DlpOutcome

MAX_PAGE = 200
RETRY_PAUSE = 0.02  # s between tries of a send whose conversation another transaction holds
# The files inside a secure pack, kept (encrypted with our keys) for the compliance archive only.
ARCHIVE_ONLY = "pack_original"
_conv, _mem, _msg, _ver = (Conversation.__table__, Member.__table__, Message.__table__,
                           MessageVersion.__table__)
# The send path's statements, built once (their compiled forms are cached by SQLAlchemy). Each serves a
# whole batch of sends: one round trip per statement, not per message.
_SEL_CONV_IDS = select(_conv.c.id).where(_conv.c.id.in_(bindparam("ids", expanding=True)))
_SEL_MEMBERS = bulk.Query(
    text("SELECT conversation_id, user_id, joined_seq FROM conversation_members "
         "WHERE conversation_id = ANY(CAST(:cids AS bigint[]))"),
    select(_mem.c.conversation_id, _mem.c.user_id, _mem.c.joined_seq).where(
        _mem.c.conversation_id.in_(bindparam("cids", expanding=True))))
_SEL_CLIENT_IDS = bulk.Query(
    text("SELECT sender_id, client_id FROM messages "
         "WHERE sender_id = ANY(CAST(:uids AS bigint[])) AND client_id = ANY(CAST(:keys AS text[]))"),
    select(_msg.c.sender_id, _msg.c.client_id).where(
        _msg.c.sender_id.in_(bindparam("uids", expanding=True)), _msg.c.client_id.in_(bindparam("keys", expanding=True))))
_SEL_REPLY_CONVS = bulk.Query(
    text("SELECT id, conversation_id, seq FROM messages WHERE id = ANY(CAST(:ids AS bigint[]))"),
    select(_msg.c.id, _msg.c.conversation_id, _msg.c.seq).where(_msg.c.id.in_(bindparam("ids", expanding=True))))


def _dlp(ctx: Ctx, text: str, conversation_id: int, confirm: bool, target: str) -> DlpOutcome:
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


def take_send_token(ctx: Ctx) -> None:
    """One send against the caller's rate limit (429 when spent)."""
    limiter = ctx.rt.rate_limiter
    if limiter is not None and (wait := limiter.wait(ctx.user_id)) > 0:
        raise MixunError("rate_limited", retry_after=max(1, math.ceil(wait)))


def take_send_tokens(jobs: list[SendJob]) -> None:
    """A batch's sends against their senders' rate limits at once (one Redis round trip, not one per
    send); ``prepare`` then answers a job that was over its limit with the 429, in its usual place."""
    pending = [j for j in jobs if not j.rate_checked and j.error is None and j.result is None]
    limiter = pending[0].ctx.rt.rate_limiter if pending else None
    if limiter is None:
        return
    try:
        waits = limiter.wait_many([j.ctx.user_id for j in pending])
    except Exception:  # noqa: BLE001 - prepare asks one at a time and reports the job's own failure
        return
    for job, wait in zip(pending, waits, strict=True):
        job.rate_wait = wait


def _record_dlp(s: Session, ctx: Ctx, outcome: DlpOutcome, target: str) -> None:
    if outcome.action != "allow" and outcome.audit_summary:
        audit.record(s, ctx, AuditAction.DLP_HIT, target=target, dlp_action=outcome.action,
                     findings=outcome.audit_summary)
        svc = ctx.rt.dlp_service
        if svc is not None:
            svc.record_allowed_hits(s, ctx, outcome, target)


def _check_text(ctx: Ctx, text: str, allow_empty: bool = False) -> str:
    if not isinstance(text, str):
        raise MixunError("validation_failed", field="text")
    if len(text) > ctx.rt.settings.max_message_length:
        raise MixunError("message_too_long", limit=ctx.rt.settings.max_message_length)
    if "\x00" in text:  # PostgreSQL text cannot hold it; refused alike on both databases
        raise MixunError("validation_failed", ("消息含有不允许的控制字符", "The message contains control characters that are not allowed"), field="text")
    if not text.strip() and not allow_empty:
        raise MixunError("empty_message")
    return text


MENTION_ALL = "@所有人"


def _mentions(s: Session, conv_id: int, text: str, sender: int | None = None) -> list[int]:
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


@dataclass(eq=False)
class SendJob:
    """One message to send, and, once sent, its outcome: ``result`` (view, created) or ``error``."""

    ctx: Ctx
    conversation_id: int
    text: str
    client_id: str | None = None
    urgent: bool = False
    confirm: bool = False
    reply_to: int | None = None
    attachments: list[dict[str, Any]] | None = None
    kind: str = "text"
    dlp_outcome: DlpOutcome | None = None
    rate_checked: bool = False
    result: tuple[dict[str, Any], bool] | None = None
    error: BaseException | None = None
    resend: bool = False  # its client_id was already used: answer with the first message
    # Its conversation was locked by another transaction when its batch was written: nothing was
    # written for it, and it goes in a later batch until ``deadline`` (then "busy").
    deferred: bool = False
    deadline: float | None = None
    # The id reserved for its message by its latest write: a commit whose outcome was unknown that did
    # store it is told from a resend by this (the upload's blobs are then kept, not discarded).
    message_id: int | None = None
    # What the rate limit said when its batch was charged at once (take_send_tokens): seconds to wait,
    # 0.0 allowed; None: not asked yet (prepare asks on its own).
    rate_wait: float | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


def send_message(ctx: Ctx, conversation_id: int, text: str, *, client_id: str | None = None,
                 urgent: bool = False, confirm: bool = False, reply_to: int | None = None,
                 attachments: list[dict[str, Any]] | None = None, kind: str = "text",
                 dlp_outcome: DlpOutcome | None = None, rate_checked: bool = False) -> tuple[dict[str, Any], bool]:
    """(message view, created). A repeated client_id returns the first message with created=False.

    ``attachments`` are rows for new attachments (blobs already stored), inserted in the same
    transaction; a file's own DLP verdict comes as ``dlp_outcome``; ``rate_checked`` says the caller
    already took this send's rate-limit token (uploads do, before they scan and store anything).
    """
    job = SendJob(ctx, conversation_id, text, client_id, urgent, confirm, reply_to, attachments, kind,
                  dlp_outcome, rate_checked)
    send_settled([job])
    if job.error is not None:
        raise job.error
    assert job.result is not None
    return job.result


def send_settled(jobs: list[SendJob]) -> None:
    """``send_many``, trying deferred jobs again until each is written or past its deadline."""
    send_many(jobs)
    while any(job.deferred for job in jobs):
        time.sleep(RETRY_PAUSE)
        send_many([job for job in jobs if job.deferred])


def send_many(jobs: list[SendJob]) -> None:
    """Send a batch: each job is checked and scanned on its own (its own error, nothing shared), then
    all that passed are written in ONE transaction with one statement per step for the whole batch
    (group commit). Should that transaction fail, each job is retried in a transaction of its own, so
    one bad send never costs the others theirs. Every job ends with ``result`` or ``error``, or is
    ``deferred`` (its conversation's row was locked by another transaction: send it again in a later
    batch; past its deadline it gets "busy"); nothing is acknowledged before its commit.

    The writer never waits for a conversation's lock (a transaction stuck while holding one would
    otherwise hold every send of the process): its batch takes the conversations it can lock and
    leaves the others' sends for the next one."""
    take_send_tokens(jobs)
    for job in jobs:
        job.deferred = False
        prepare(job)
    ready = [j for j in jobs if not j.done]
    # A resend of a client_id that is in this same batch waits for the first to commit.
    seen: set[tuple[int, str]] = set()
    first: list[SendJob] = []
    later: list[SendJob] = []
    for job in ready:
        key = (job.ctx.user_id, job.client_id) if job.client_id else None
        (later if key in seen else first).append(job)
        if key:
            seen.add(key)
    for group in (first, later):
        if not group:
            continue
        try:
            _write(group)
        except bulk.CommitUncertain as exc:  # never written twice: a client_id tells, otherwise an error
            for job in group:
                if not job.deferred:  # a deferred job was not in that transaction
                    _single_failed(job, _cause(exc))
        except Exception as exc:
            if len(group) == 1:
                _single_failed(group[0], exc)
            else:
                # A lock the database would not wait for (a recipient's event counter; conversations
                # are never waited for) is not waited for again by the same conversation's other
                # sends, which have the same recipients.
                busy: dict[int, Exception] = {}
                for job in group:
                    if job.conversation_id in busy:
                        _single_failed(job, busy[job.conversation_id])
                        continue
                    try:
                        _write([job])
                    except Exception as one:
                        if is_busy(_cause(one)):
                            busy[job.conversation_id] = _cause(one)
                        _single_failed(job, _cause(one))
    now = time.monotonic()
    for job in jobs:
        if job.resend and job.result is None and job.error is None:
            answer_resend(job)
        if job.deferred:
            if job.deadline is None:
                limit = job.ctx.rt.settings.db_lock_timeout_seconds
                job.deadline = now + limit if limit > 0 else float("inf")
            elif now >= job.deadline:
                job.deferred = False
                job.error = MixunError("busy")


def prepare(job: SendJob) -> None:
    """Validation, the rate limit and the DLP verdict: everything before the write, per job."""
    ctx = job.ctx
    try:
        job.text = _check_text(ctx, job.text, allow_empty=bool(job.attachments))
        cid = job.client_id
        if cid is not None and (not isinstance(cid, str) or not 0 < len(cid) <= 64):
            raise MixunError("validation_failed", ("client_id 为 1–64 个字符", "client_id must be 1–64 characters"), field="client_id")
        functions.check_send(ctx, job.conversation_id, bool(job.attachments))  # secadmin's switches (M10)
        if not job.rate_checked:
            if job.rate_wait is None:
                take_send_token(ctx)
            elif job.rate_wait > 0:  # charged with its batch (take_send_tokens)
                raise MixunError("rate_limited", retry_after=max(1, math.ceil(job.rate_wait)))
            job.rate_checked = True  # a deferred send is not charged again
        if job.dlp_outcome is None:
            target = f"conversation:{job.conversation_id}"
            try:
                job.dlp_outcome = _dlp(ctx, job.text, job.conversation_id, job.confirm, target)
            except MixunError:
                if job.client_id:  # a resend of a message that was already accepted gets that message back
                    with ctx.rt.db.read() as s:
                        found = _find_by_client_id(s, ctx, job.client_id)
                    if found is not None:
                        job.result = (found, False)
                        return
                raise
    except Exception as exc:  # this job's own failure (a MixunError, or e.g. the rate limiter's store)
        job.error = exc


def _single_failed(job: SendJob, exc: Exception) -> None:
    """A job whose own transaction failed: a unique clash on (sender, client_id) means a concurrent resend
    committed first (answer with that message); anything else is this job's error."""
    if job.client_id and not isinstance(exc, MixunError):
        # A unique clash on (sender, client_id), or a commit whose outcome is unknown: if the message
        # is stored, this send's answer is that message.
        answer_resend(job, missing=exc)
        return
    job.error = exc


def answer_resend(job: SendJob, missing: BaseException | None = None) -> None:
    """Answer with the message this job's client_id already sent; when there is none, ``missing``
    (or a conflict) is the job's error."""
    try:
        with job.ctx.rt.db.read() as s:
            found = _find_by_client_id(s, job.ctx, job.client_id or "")
    except Exception as exc:
        job.error = exc
        return
    if found is None:
        job.error = missing if missing is not None else MixunError("conflict")
    else:  # its own message when a commit whose outcome was unknown did store it
        job.result = (found, job.message_id is not None and found["id"] == job.message_id)


def _write(jobs: list[SendJob]) -> None:
    """One write transaction for these jobs. Jobs that fail their own checks (not a member, a reply to
    another conversation) get their error and are left out; a resent client_id is answered after commit."""
    results: list[tuple[SendJob, dict[str, Any]]] = []
    committing = False
    try:
        with jobs[0].ctx.rt.db.write() as s:
            _write_in(s, jobs, results)  # on PostgreSQL its last round commits
            committing = True
    except bulk.CommitUncertain:
        raise
    except Exception as exc:
        if committing:  # the COMMIT itself failed: whether it took effect is unknown, so no rewrite
            raise bulk.CommitUncertain() from exc
        raise
    for job, view in results:
        job.result = (view, True)


def _cause(exc: Exception) -> Exception:
    cause = exc.__cause__ if isinstance(exc, bulk.CommitUncertain) else None
    return cause if isinstance(cause, Exception) else exc


def _write_in(s: Session, jobs: list[SendJob], results: list[tuple[SendJob, dict[str, Any]]]) -> None:
    """The batch's statements, in its transaction; (job, sender's view) pairs go to ``results``. Three
    rounds, each one wait for the database (``bulk.Round``): lock and read; number (seqs, ids, event
    seqs); store (messages, versions, read marks, events). What few sends need costs statements of its
    own: a DLP record, a mention's lookup, attachments and urgent notices (whose events then follow
    in a fourth round)."""
    conn = s.connection()  # Core on the connection throughout: the ORM's layers cost more than the SQL
    for job in jobs:  # a retry of a job from a failed batch starts clean
        job.resend, job.error, job.deferred, job.message_id = False, None, False, None
    # The conversations first (their counters, in id order), so no member joins or leaves between
    # reading who may send and receive and numbering the messages; the reads after the lock, in the
    # same round, see what it guards.
    cids = sorted({j.conversation_id for j in jobs})
    replies = sorted({j.reply_to for j in jobs if j.reply_to is not None})
    # A resent client_id: looked up first in a batch (a unique clash would undo the whole batch); a
    # send on its own meets the clash itself and is answered by _single_failed.
    keyed = [j for j in jobs if j.client_id] if len(jobs) > 1 else []
    with bulk.Round(conn, begins=True) as r:
        locked = r.lock(_conv, "id", cids, skip_locked=True)
        member_rows = r.rows(_SEL_MEMBERS, {"cids": cids})
        reply_rows = r.rows(_SEL_REPLY_CONVS, {"ids": replies}) if replies else None
        used_rows = r.rows(_SEL_CLIENT_IDS, {"uids": sorted({j.ctx.user_id for j in keyed}),
                                             "keys": sorted({j.client_id or "" for j in keyed})}) if keyed else None
    if len(locked.value) < len(cids):
        # Conversations that exist but another transaction holds: their sends wait for a later batch
        # (one that does not exist is answered 404 below, like any conversation one is not in).
        held = set(conn.execute(_SEL_CONV_IDS, {"ids": [c for c in cids if c not in locked.value]}).scalars())
        for job in jobs:
            job.deferred = job.conversation_id in held
        jobs = [j for j in jobs if not j.deferred]
        if not jobs:
            return
    # Every member of the batch's conversations: who may send (a non-member gets the same 404 as a
    # missing conversation) and, below, who receives.
    recipients: dict[int, list[int]] = {}
    joined: dict[tuple[int, int], int] = {}
    for cid, uid, joined_seq in member_rows.value:
        recipients.setdefault(cid, []).append(uid)
        joined[(cid, uid)] = joined_seq
    live: list[SendJob] = []
    for job in jobs:
        if job.ctx.user_id not in recipients.get(job.conversation_id, ()):
            job.error = MixunError("not_found")
        else:
            live.append(job)
    if reply_rows is not None:
        # A reply only to a message the sender can see: in this conversation and after they joined
        # (an earlier one is answered as if it did not exist).
        target = {mid: (cid, seq) for mid, cid, seq in reply_rows.value}
        for job in live:
            cid, seq = target.get(job.reply_to, (None, 0)) if job.reply_to is not None else (None, 0)
            if job.reply_to is not None and (
                    cid != job.conversation_id or seq <= joined[(cid, job.ctx.user_id)]):
                job.error = MixunError("validation_failed", ("被回复的消息不存在", "The message replied to does not exist"),
                                       field="reply_to")
        live = [j for j in live if j.error is None]
    if used_rows is not None:
        used = {tuple(row) for row in used_rows.value}
        for job in live:
            job.resend = (job.ctx.user_id, job.client_id) in used
        live = [j for j in live if not j.resend]
    if not live:
        return
    for job in live:
        _record_dlp(s, job.ctx, job.dlp_outcome or DlpOutcome(), f"conversation:{job.conversation_id}")
    now = datetime.now(UTC)
    outcomes = [job.dlp_outcome or DlpOutcome() for job in live]
    mentions = [_mentions(s, job.conversation_id, o.deliver_text, job.ctx.user_id)
                for job, o in zip(live, outcomes, strict=True)]
    # Who hears of each message (held by DLP: only the sender).
    hearers = [[job.ctx.user_id] if o.action == "hold" else recipients[job.conversation_id]
               for job, o in zip(live, outcomes, strict=True)]
    counts: dict[int, int] = {}
    for job in live:
        counts[job.conversation_id] = counts.get(job.conversation_id, 0) + 1
    with bulk.Round(conn) as r:
        last = r.bump(_conv, "id", "last_seq", counts, updated_at=now)
        reserved_ids = r.reserve_ids(_msg, len(live))
        reserved_events = events.reserve(r, hearers)
    nxt = {cid: last.value[cid] - n + 1 for cid, n in counts.items()}
    msg_ids = reserved_ids.value
    rows = []
    for job, outcome, found, msg_id in zip(live, outcomes, mentions, msg_ids, strict=True):
        seq = nxt[job.conversation_id]
        nxt[job.conversation_id] = seq + 1
        job.message_id = msg_id
        rows.append({
            "id": msg_id, "conversation_id": job.conversation_id, "seq": seq, "sender_id": job.ctx.user_id,
            "client_id": job.client_id or None, "kind": job.kind, "text": outcome.deliver_text,
            "reply_to_id": job.reply_to, "mentions": found, "urgent": bool(job.urgent),
            "created_at": now, "edited_at": None, "recalled_at": None, "recalled_by": None, "version": 1,
            "dlp_action": None if outcome.action == "allow" else outcome.action,
            "dlp_findings": outcome.findings or None, "classification": "internal"})

    def views() -> list[events.Event]:
        emitted: list[events.Event] = []
        for job, row, heard_by in zip(live, rows, hearers, strict=True):
            results.append((job, _created(s, job, row, recipients[job.conversation_id], heard_by, emitted)))
        return emitted

    # A plain message's view needs nothing from the database, so its events go in the same round as the
    # message; attachments and urgent notices read what the batch stored, so then the events follow.
    reads_back = any(job.attachments or job.urgent for job in live)
    emitted = None if reads_back else views()
    # The round that commits flushes what the session holds (a DLP hit's audit record) first.
    # Text is stored sealed under its conversation's data key for this month (cached: no round trip).
    sealed = texts.seal_many(jobs[0].ctx.rt, [(job.conversation_id, now, o.deliver_text)
                                              for job, o in zip(live, outcomes, strict=True)])
    with bulk.Round(conn, commits=None if reads_back else s) as r:
        r.insert_rows(_msg, [dict(row, text=text) for row, text in zip(rows, sealed, strict=True)])
        r.insert_rows(_ver, [{
            "message_id": row["id"], "conversation_id": row["conversation_id"], "version": 1, "kind": "created",
            "sender_id": row["sender_id"], "actor_id": row["sender_id"], "text": text,
            "original_enc": outcome.original_enc, "created_at": now}
            for outcome, row, text in zip(outcomes, rows, sealed, strict=True)])
        # Sending reads what came before (the last of a sender's messages in the batch counts). No
        # separate conversation.read event: every member receives this message.created, which says so.
        reads = {(row["conversation_id"], row["sender_id"]): row["seq"] for row in rows}
        r.update_rows(_mem, ("conversation_id", "user_id"), [
            {"conversation_id": cid, "user_id": uid, "read_seq": seq, "read_at": now}
            for (cid, uid), seq in reads.items()])
        if emitted is not None:
            events.write(r, s, jobs[0].ctx, reserved_events, emitted)
    if emitted is None:
        emitted = views()
        with bulk.Round(conn, commits=s) as r:
            events.write(r, s, jobs[0].ctx, reserved_events, emitted)


def _created(s: Session, job: SendJob, row: dict[str, Any], recipients: list[int], heard_by: list[int],
             emitted: list[events.Event]) -> dict[str, Any]:
    """The rest of one sent message inside the batch's transaction: its attachments, its event, the
    urgent notices; returns the sender's view."""
    ctx, me, cid, now, msg_id = job.ctx, job.ctx.user_id, job.conversation_id, row["created_at"], row["id"]
    outcome = job.dlp_outcome or DlpOutcome()
    atts: list[dict[str, Any]] = []
    if job.attachments:
        s.connection().execute(insert(Attachment.__table__), [
            dict(a, message_id=msg_id, conversation_id=cid, uploader_id=me, created_at=now)
            for a in job.attachments])
        atts = _attachment_views(s, [msg_id]).get(msg_id, [])
    view = message_view(msg_id, cid, row["seq"], me, ctx.principal.name if ctx.principal else "", job.kind,
                        row["text"], now, None, False, bool(job.urgent), job.reply_to, row["mentions"], atts,
                        0, len(recipients) - 1)
    dlp_action = row["dlp_action"]
    if dlp_action == "mask":
        view["dlp"] = {"action": "mask"}
    emitted.append((heard_by, "message.created", {"conversation_id": cid, "message": view}))
    mine = dict(view, client_id=job.client_id)
    if dlp_action:
        mine["dlp"] = {"action": dlp_action, "findings": outcome.findings}
    if job.urgent:
        others = [uid for uid in recipients if uid != me]
        people = s.execute(select(User.id, User.name, User.phone).where(User.id.in_(others))).all()
        mine["urgent_recipients"] = [{"id": uid, "name": nm, "phone": ph, "read": False}
                                     for uid, nm, ph in people]
        if outcome.action != "hold":
            _notify_offline_urgent(s, ctx, others)
    return mine


def _find_by_client_id(s: Session, ctx: Ctx, client_id: str) -> dict[str, Any] | None:
    existing = s.execute(select(Message).where(Message.sender_id == ctx.user_id,
                                               Message.client_id == client_id)).scalar_one_or_none()
    if existing is None:
        return None
    access_conversation(s, ctx, existing.conversation_id)
    return message_views(s, ctx, [existing], ctx.user_id)[0]


def _notify_offline_urgent(s: Session, ctx: Ctx, recipients: list[int]) -> None:
    """M3: recipients with no live connection are told through the notification gateway, after commit."""
    from mixun.db.engine import on_commit

    gateway = ctx.rt.notifier
    offline = [uid for uid in recipients if uid not in online_users(ctx, recipients)]
    if gateway is None or not offline:
        return
    from mixun.services.notifications import contacts

    reach = contacts(s, ctx.rt.settings, offline)
    sender = ctx.principal.name if ctx.principal else ""
    text = f"【密讯】{sender}给您发送了一条紧急消息,请尽快登录密讯查看。"

    def deliver() -> None:  # queued only: the gateways are reached from the notifier's own thread
        for uid in offline:
            phone, email = reach.get(uid, (None, None))
            gateway.send(uid, phone, text, email=email, subject="密讯紧急消息 Urgent message on Mixun")

    on_commit(s, deliver)


def _attachment_views(s: Session, message_ids: list[int], archive: bool = False) -> dict[int, list[dict[str, Any]]]:
    """Attachments by message. Members see what was sent; `archive` (compliance and review) adds the
    files kept inside secure packs, marked `archive_only`."""
    atts: dict[int, list[dict[str, Any]]] = {}
    stmt = select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.id)
    if not archive:
        stmt = stmt.where(Attachment.kind != ARCHIVE_ONLY)
    for a in s.execute(stmt).scalars():
        atts.setdefault(a.message_id or 0, []).append(attachment_view(a, archive))
    return atts


def attachment_view(a: Attachment, archive: bool = False) -> dict[str, Any]:
    """One attachment of a message (the shape api/models.py ``Attachment`` states)."""
    view: dict[str, Any] = {"id": a.id, "kind": a.kind, "mime": a.mime, "size": a.size, "width": a.width,
                            "height": a.height, "filename": a.filename, "scan_status": a.scan_status}
    if archive:
        view["archive_only"] = a.kind == ARCHIVE_ONLY
        view["sha256"] = a.sha256
    return view


def archive_attachment_views(s: Session, message_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return _attachment_views(s, message_ids, archive=True) if message_ids else {}


SENDER_ONLY = ("client_id", "dlp", "urgent_recipients")


def message_view(id_: int, conversation_id: int, seq: int, sender_id: int, sender_name: str, kind: str,
                 text: str, created_at: datetime, edited_at: datetime | None, recalled: bool, urgent: bool,
                 reply_to: int | None, mentions: list[int], attachments: list[dict[str, Any]], read_count: int,
                 recipient_count: int) -> dict[str, Any]:
    """The one builder of a message's view (api/models.py ``Message`` states its shape): history, the
    send path's answer and events, edits and recalls all start here; the callers add the viewer's parts
    (``client_id``, ``dlp``, ``urgent_recipients``) and history its ``reactions``."""
    return {
        "id": id_, "conversation_id": conversation_id, "seq": seq, "sender": {"id": sender_id, "name": sender_name},
        "kind": kind, "text": text, "created_at": created_at.isoformat(), "edited": edited_at is not None,
        "edited_at": edited_at.isoformat() if edited_at else None, "recalled": recalled, "urgent": urgent,
        "reply_to": reply_to, "mentions": mentions, "attachments": attachments, "read_count": read_count,
        "recipient_count": recipient_count,
    }


def public_view(view: dict[str, Any]) -> dict[str, Any]:
    """The same message as every member sees it in an event (no sender-only fields, no read counts)."""
    out = {k: v for k, v in view.items() if k not in SENDER_ONLY}
    out["read_count"] = 0
    if view.get("dlp", {}).get("action") == "mask":
        out["dlp"] = {"action": "mask"}
    return out


def message_views(s: Session, ctx: Ctx, msgs: list[Message], viewer: int | None) -> list[dict[str, Any]]:
    """Public views; ``viewer`` adds read state and, for an urgent sender, the recipients' phones."""
    if not msgs:
        return []
    sender_ids = {m.sender_id for m in msgs}
    names = dict(s.execute(select(User.id, User.name).where(User.id.in_(sender_ids))).all())
    conv_ids = {m.conversation_id for m in msgs}
    reads: dict[int, list[tuple[int, int]]] = {}
    for cid, uid, rs in s.execute(select(Member.conversation_id, Member.user_id, Member.read_seq)
                                  .where(Member.conversation_id.in_(conv_ids))).all():
        reads.setdefault(cid, []).append((uid, rs))
    ids_with_atts = [m.id for m in msgs if m.kind != "text"]
    atts = _attachment_views(s, ids_with_atts) if ids_with_atts else {}
    out = []
    for m in msgs:
        others = [(uid, rs) for uid, rs in reads.get(m.conversation_id, []) if uid != m.sender_id]
        read_count = sum(1 for _, rs in others if rs >= m.seq) if viewer is not None else 0
        recalled = m.recalled_at is not None
        view = message_view(m.id, m.conversation_id, m.seq, m.sender_id, names.get(m.sender_id, ""), m.kind,
                            "" if recalled else m.text, m.created_at, m.edited_at, recalled, m.urgent,
                            m.reply_to_id, list(m.mentions or []), [] if recalled else atts.get(m.id, []),
                            read_count, len(others))
        view["client_id"] = m.client_id if viewer == m.sender_id else None
        if isinstance(m.text, Unreadable):  # its data key was destroyed (retention's crypto-shredding)
            view["content_destroyed"] = True
        if m.dlp_action and viewer == m.sender_id:
            view["dlp"] = {"action": m.dlp_action, "findings": m.dlp_findings or []}
        elif m.dlp_action == "mask":
            view["dlp"] = {"action": "mask"}
        if viewer == m.sender_id and m.urgent:
            ids = [uid for uid, _ in others]
            people = dict(s.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
            phones = dict(s.execute(select(User.id, User.phone).where(User.id.in_(ids))).all())
            view["urgent_recipients"] = [{"id": uid, "name": people.get(uid, ""), "phone": phones.get(uid),
                                          "read": rs >= m.seq} for uid, rs in others]
        out.append(view)
    return out


def list_messages(ctx: Ctx, conversation_id: int, after_seq: int | None, before_seq: int | None,
                  limit: int) -> list[dict[str, Any]]:
    limit = max(1, min(limit, MAX_PAGE))
    with ctx.rt.db.read() as s:
        conv, me = access_conversation(s, ctx, conversation_id)
        stmt = select(Message).where(Message.conversation_id == conv.id, Message.seq > me.joined_seq)
        if before_seq is not None:
            stmt = stmt.where(Message.seq < before_seq)
            if after_seq is not None:
                stmt = stmt.where(Message.seq > after_seq)
            rows = list(s.execute(stmt.order_by(Message.seq.desc()).limit(limit)).scalars())[::-1]
        else:
            stmt = stmt.where(Message.seq > (after_seq or 0))
            rows = list(s.execute(stmt.order_by(Message.seq).limit(limit)).scalars())
        if any(r.dlp_action == "hold" for r in rows):
            rows = [r for r in rows if r.dlp_action != "hold" or r.sender_id == ctx.user_id]
        return message_views(s, ctx, rows, ctx.user_id)


def _access_message(s: Session, ctx: Ctx, message_id: int) -> tuple[Message, Conversation, Member]:
    msg = s.get(Message, message_id)
    if msg is None:
        raise MixunError("not_found")
    conv, member = access_conversation(s, ctx, msg.conversation_id)
    if msg.seq <= member.joined_seq:
        raise MixunError("not_found")
    return msg, conv, member


def edit_message(ctx: Ctx, message_id: int, text: str, confirm: bool = False) -> dict[str, Any]:
    text = _check_text(ctx, text)
    with ctx.rt.db.read() as s:
        conv_id = _access_message(s, ctx, message_id)[1].id
    target = f"message:{message_id}"
    outcome = _dlp(ctx, text, conv_id, confirm, target)
    with ctx.rt.db.write() as s:
        msg, conv, _member = _access_message(s, ctx, message_id)
        if msg.sender_id != ctx.user_id:
            raise MixunError("forbidden", ("只能编辑自己发送的消息", "You can edit only messages you sent"))
        if msg.kind == "merged":  # a merged forward's text is its transcript: it is not edited
            raise MixunError("forbidden", ("合并转发的聊天记录不能编辑", "A forwarded chat record cannot be edited"))
        if msg.recalled_at is not None:
            raise MixunError("message_recalled")
        now = datetime.now(UTC)
        if now - msg.created_at > timedelta(minutes=ctx.rt.settings.edit_window_minutes):
            raise MixunError("edit_window_passed")
        _record_dlp(s, ctx, outcome, target)
        stored = texts.seal(ctx.rt, conv.id, msg.created_at, outcome.deliver_text)
        msg.text = stored
        msg.edited_at = now
        msg.version += 1
        msg.mentions = _mentions(s, conv.id, outcome.deliver_text, ctx.user_id)
        if outcome.action != "allow":
            msg.dlp_action, msg.dlp_findings = outcome.action, outcome.findings or None
        s.add(MessageVersion(message_id=msg.id, conversation_id=conv.id, version=msg.version, kind="edited",
                             sender_id=msg.sender_id, actor_id=ctx.user_id, text=texts.seal(ctx.rt, conv.id, now, outcome.deliver_text),
                             original_enc=outcome.original_enc, created_at=now))
        s.flush()
        set_committed_value(msg, "text", outcome.deliver_text)  # the views show it; the row holds it sealed
        view = message_views(s, ctx, [msg], None)[0]
        events.emit(s, ctx, member_ids(s, conv.id), "message.edited", {"conversation_id": conv.id, "message": view})
        return message_views(s, ctx, [msg], ctx.user_id)[0]


def recall_message(ctx: Ctx, message_id: int) -> dict[str, Any]:
    with ctx.rt.db.write() as s:
        msg, conv, member = _access_message(s, ctx, message_id)
        if msg.recalled_at is not None:
            raise MixunError("message_recalled")
        now = datetime.now(UTC)
        group_admin = conv.kind == "group" and member.role in ("owner", "admin")
        if msg.sender_id == ctx.user_id:
            if now - msg.created_at > timedelta(minutes=ctx.rt.settings.recall_window_minutes) and not group_admin:
                raise MixunError("recall_window_passed")
        elif not group_admin:
            raise MixunError("forbidden", ("只能撤回自己发送的消息", "You can recall only messages you sent"))
        msg.recalled_at = now
        msg.recalled_by = ctx.user_id
        msg.version += 1
        s.add(MessageVersion(message_id=msg.id, conversation_id=conv.id, version=msg.version, kind="recalled",
                             sender_id=msg.sender_id, actor_id=ctx.user_id, text="", created_at=now))
        s.flush()
        view = message_views(s, ctx, [msg], None)[0]
        events.emit(s, ctx, member_ids(s, conv.id), "message.recalled",
                    {"conversation_id": conv.id, "message": view, "recalled_by": ctx.user_id})
        return view


def mark_read(ctx: Ctx, conversation_id: int, seq: int) -> None:
    """Advance the caller's read position; tell the caller's devices and the senders whose counts changed."""
    with ctx.rt.db.write() as s:
        conv, member = access_conversation(s, ctx, conversation_id)
        seq = min(int(seq), conv.last_seq)
        if seq <= member.read_seq:
            return
        old = member.read_seq
        now = datetime.now(UTC)
        s.execute(update(Member).where(Member.conversation_id == conv.id, Member.user_id == ctx.user_id,
                                       Member.read_seq < seq).values(read_seq=seq, read_at=now))
        _emit_read(s, ctx, conv.id, old, seq)


def _emit_read(s: Session, ctx: Ctx, conv_id: int, old: int, seq: int) -> None:
    """conversation.read to the senders whose messages in (old, seq] are now read (and the reader's devices)."""
    senders = set(s.execute(select(Message.sender_id).where(
        Message.conversation_id == conv_id, Message.seq > old, Message.seq <= seq,
        Message.sender_id != ctx.user_id).distinct().limit(500)).scalars())
    senders.add(ctx.user_id)
    if senders:
        events.emit(s, ctx, senders, "conversation.read",
                    {"conversation_id": conv_id, "user_id": ctx.user_id, "seq": seq})


def receipts(ctx: Ctx, message_id: int) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        msg, conv, member = _access_message(s, ctx, message_id)
        if msg.sender_id != ctx.user_id and member.role not in ("owner", "admin"):
            raise MixunError("forbidden", ("只有发送者可以查看回执", "Only the sender can see read receipts"))
        rows = s.execute(select(Member.user_id, User.name, User.phone, Member.read_seq, Member.read_at)
                         .join(User, User.id == Member.user_id)
                         .where(Member.conversation_id == conv.id, Member.user_id != msg.sender_id)).all()
        read = [{"user_id": uid, "name": nm, "read_at": ra.isoformat() if ra else None}
                for uid, nm, _ph, rs, ra in rows if rs >= msg.seq]
        unread = [{"user_id": uid, "name": nm} for uid, nm, _ph, rs, _ra in rows if rs < msg.seq]
        out: dict[str, Any] = {"message_id": msg.id, "read": read, "unread": unread}
        if msg.urgent:
            out["urgent_phones"] = [{"user_id": uid, "name": nm, "phone": ph, "read": rs >= msg.seq}
                                    for uid, nm, ph, rs, _ra in rows]
        return out
