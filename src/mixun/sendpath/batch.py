"""The batch writer: a batch of sends in ONE transaction, one statement per step for the whole batch
(group commit), three round trips to PostgreSQL (``db/bulk.py`` ``Round``; held by
``tests/integration/test_send_round_trips.py``). The 201 goes back only after the commit.

Two ways in: ``write_batch`` (the queue's writer, in a thread of this process or of the writer process)
and ``send`` (one send written in the calling thread: uploads, forwards, the demo). Each send is checked
on its own (``checks.prepare``), and ends with its own ``SendOutcome``: nothing one send does costs
another its outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from mixun.db import bulk
from mixun.db.engine import is_busy, on_commit
from mixun.db.models import Attachment, Conversation, Member, Message, MessageVersion, User
from mixun.db.models_archive import PendingVersion, SearchTerm
from mixun.domain import search_terms
from mixun.errors import MixunError
from mixun.sendpath import checks
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services import events, texts
from mixun.services.message_views import attachment_views, find_sent_view, message_view
from mixun.services.notifications import contacts
from mixun.services.presence import online_users
from mixun.services.runtime import Ctx, DlpOutcome

log = logging.getLogger("mixun.sendpath")

RETRY_PAUSE = 0.02  # s between tries of a send whose conversation another transaction holds
_conv, _mem, _msg, _ver = (Conversation.__table__, Member.__table__, Message.__table__,
                           MessageVersion.__table__)
# The batch's statements, built once (their compiled forms are cached by SQLAlchemy). Each serves a
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
# The batch indexes its own new versions for the archive search (services/archive.py): their postings,
# and their pending rows (the database trigger's) deleted, in the batch's transaction.
_terms, _pending = SearchTerm.__table__, PendingVersion.__table__
_DEL_PENDING = bulk.Query(
    text("DELETE FROM archive_pending_versions WHERE version_id = ANY(CAST(:ids AS bigint[]))"),
    delete(_pending).where(_pending.c.version_id.in_(bindparam("ids", expanding=True))))
_SEL_REPLY_CONVS = bulk.Query(
    text("SELECT id, conversation_id, seq FROM messages WHERE id = ANY(CAST(:ids AS bigint[]))"),
    select(_msg.c.id, _msg.c.conversation_id, _msg.c.seq).where(_msg.c.id.in_(bindparam("ids", expanding=True))))


def send(request: SendRequest) -> SendOutcome:
    """One send written in this thread, tried again while its conversation is held (until written or
    past its deadline). ``.unwrap()`` gives (view, created) or raises; a repeated client_id gives the
    first message with created=False."""
    return write_batch([request], settle=True)[0]


def write_batch(requests: Sequence[SendRequest], *, settle: bool = False) -> list[SendOutcome]:
    """Write a batch; each request's outcome, in order. Each send is checked and scanned on its own (its
    own error, nothing shared), then all that passed are written in ONE transaction. Should that
    transaction fail, each send is retried in a transaction of its own, so one bad send never costs the
    others theirs. A send whose conversation another transaction holds is deferred (an outcome with
    ``retry``: write that request in a later batch; past its deadline it gets "busy"), or, with
    ``settle``, tried again here until it is written or past its deadline. Nothing is acknowledged
    before its commit.

    The writer never waits for a conversation's lock (a transaction stuck while holding one would
    otherwise hold every send of the process): a batch takes the conversations it can lock and leaves
    the others' sends for the next one."""
    outcomes = _write_once(requests)
    while settle:
        again = [i for i, o in enumerate(outcomes) if o.retry is not None]
        if not again:
            break
        time.sleep(RETRY_PAUSE)
        retries = [r for r in (outcomes[i].retry for i in again) if r is not None]
        for i, outcome in zip(again, _write_once(retries), strict=True):
            outcomes[i] = outcome
    return outcomes


def resend_outcome(request: SendRequest, missing: BaseException | None = None,
                   message_id: int | None = None) -> SendOutcome:
    """The outcome of a send whose client_id may have been stored already: that message (created when it
    is ``message_id``, the id its own write reserved); when there is none, ``missing`` (or a conflict)."""
    try:
        with request.ctx.rt.db.read() as s:
            found = find_sent_view(s, request.ctx, request.client_id or "")
    except Exception as exc:
        return SendOutcome.failed(exc)
    if found is None:
        return SendOutcome.failed(missing if missing is not None else MixunError("conflict"))
    return SendOutcome.sent(found, created=message_id is not None and found["id"] == message_id)


@dataclass(eq=False, slots=True)
class _Job:
    """One send while its batch is written (this module's own bookkeeping; callers get the outcome)."""

    request: SendRequest
    outcome: SendOutcome | None = None
    resend: bool = False  # its client_id was already used: answer with the first message
    # Its conversation was locked by another transaction: nothing was written for it.
    deferred: bool = False
    # The id reserved for its message by its latest write: a commit whose outcome was unknown that did
    # store it is told from a resend by this (an upload's blobs are then kept, not discarded).
    message_id: int | None = None

    def fail(self, exc: BaseException) -> None:
        self.outcome = SendOutcome.failed(exc)


def _write_once(requests: Sequence[SendRequest]) -> list[SendOutcome]:
    jobs = []
    for request, wait in zip(requests, checks.rate_waits(requests), strict=True):
        checked = checks.prepare(request, wait)
        jobs.append(_Job(checked) if isinstance(checked, SendRequest) else _Job(request, outcome=checked))
    ready = [j for j in jobs if j.outcome is None]
    # A resend of a client_id that is in this same batch waits for the first to commit.
    seen: set[tuple[int, str]] = set()
    first: list[_Job] = []
    later: list[_Job] = []
    for job in ready:
        key = (job.request.ctx.user_id, job.request.client_id) if job.request.client_id else None
        (later if key in seen else first).append(job)
        if key:
            seen.add(key)
    for group in (first, later):
        if not group:
            continue
        try:
            _write_txn(group)
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
                    if job.request.conversation_id in busy:
                        _single_failed(job, busy[job.request.conversation_id])
                        continue
                    try:
                        _write_txn([job])
                    except Exception as one:
                        if is_busy(_cause(one)):
                            busy[job.request.conversation_id] = _cause(one)
                        _single_failed(job, _cause(one))
    now = time.monotonic()
    outcomes = []
    for job in jobs:
        if job.resend and job.outcome is None:
            job.outcome = resend_outcome(job.request, message_id=job.message_id)
        if job.deferred:
            until = job.request.retry_until
            if until is None:
                limit = job.request.ctx.rt.settings.db_lock_timeout_seconds
                job.outcome = SendOutcome.deferred(replace(job.request, retry_until=now + limit if limit > 0
                                                           else float("inf")))
            elif now >= until:
                job.fail(MixunError("busy"))
            else:
                job.outcome = SendOutcome.deferred(job.request)
        outcomes.append(job.outcome or SendOutcome.failed(RuntimeError("send left without an outcome")))
    return outcomes


def _single_failed(job: _Job, exc: Exception) -> None:
    """A send whose own transaction failed: a unique clash on (sender, client_id) means a concurrent
    resend committed first (answer with that message); anything else is this send's error."""
    if job.request.client_id and not isinstance(exc, MixunError):
        # A unique clash on (sender, client_id), or a commit whose outcome is unknown: if the message
        # is stored, this send's answer is that message.
        job.outcome = resend_outcome(job.request, missing=exc, message_id=job.message_id)
        return
    job.fail(exc)


def _cause(exc: Exception) -> Exception:
    cause = exc.__cause__ if isinstance(exc, bulk.CommitUncertain) else None
    return cause if isinstance(cause, Exception) else exc


def _write_txn(jobs: list[_Job], index: bool = True) -> None:
    """One write transaction for these sends. Sends that fail their own checks (not a member, a reply to
    another conversation) get their error and are left out; a resent client_id is answered after commit.

    With ``index`` the batch also indexes its new versions for the archive search. Indexing never costs
    a send: a transaction with it that fails (before its COMMIT) for any reason but a send's own (its
    error, a unique clash of its client_id, a lock the database would not wait for) is written again
    without it, and the versions stay pending for the archive's catch-up indexer."""
    results: list[tuple[_Job, dict[str, Any]]] = []
    committing = False
    indexed = [False]  # whether this transaction held the indexing statements
    try:
        with jobs[0].request.ctx.rt.db.write() as s:
            _statements_txn(s, jobs, results, indexed if index else None)  # on PostgreSQL its last round commits
            committing = True
    except bulk.CommitUncertain:
        raise
    except Exception as exc:
        if committing:  # the COMMIT itself failed: whether it took effect is unknown, so no rewrite
            raise bulk.CommitUncertain() from exc
        if not indexed[0] or isinstance(exc, MixunError | sa_exc.IntegrityError) or is_busy(exc):
            raise
        log.warning("a send batch failed with its search indexing; written again without it (the "
                    "archive's indexer catches up)", exc_info=True)
        _write_txn(jobs, index=False)
        return
    for job, view in results:
        job.outcome = SendOutcome.sent(view)


def _postings(jobs: list[_Job], texts_in_hand: list[str], version_ids: list[int]
              ) -> tuple[list[str], list[int]] | None:
    """The postings of the batch's new versions, from the text being stored (what the archive's indexer
    would read back and decrypt); None, leaving them to that indexer, should making them fail."""
    try:
        source = getattr(jobs[0].request.ctx.rt.db, "search_key", None)
        if source is None:
            raise RuntimeError("no search key: the database was not opened by a runtime")
        return search_terms.postings(bytes(source()), zip(version_ids, texts_in_hand, strict=True))
    except Exception:
        log.warning("a send batch could not index its messages for search; the archive's indexer "
                    "catches up", exc_info=True)
        return None


def _statements_txn(s: Session, jobs: list[_Job], results: list[tuple[_Job, dict[str, Any]]],
                    indexed: list[bool] | None = None) -> None:
    """The batch's statements, in its transaction; (job, sender's view) pairs go to ``results``. Three
    rounds, each one wait for the database (``bulk.Round``): lock and read; number (seqs, ids, event
    seqs); store (messages, versions, read marks, events). What few sends need costs statements of its
    own: a DLP record, a mention's lookup, attachments and urgent notices (whose events then follow
    in a fourth round)."""
    conn = s.connection()  # Core on the connection throughout: the ORM's layers cost more than the SQL
    for job in jobs:  # a retry of a send from a failed batch starts clean
        job.resend, job.outcome, job.deferred, job.message_id = False, None, False, None
    # The conversations first (their counters, in id order), so no member joins or leaves between
    # reading who may send and receive and numbering the messages; the reads after the lock, in the
    # same round, see what it guards.
    cids = sorted({j.request.conversation_id for j in jobs})
    replies = sorted({j.request.reply_to for j in jobs if j.request.reply_to is not None})
    # A resent client_id: looked up first in a batch (a unique clash would undo the whole batch); a
    # send on its own meets the clash itself and is answered by _single_failed.
    keyed = [j.request for j in jobs if j.request.client_id] if len(jobs) > 1 else []
    with bulk.Round(conn, begins=True) as r:
        locked = r.lock(_conv, "id", cids, skip_locked=True)
        member_rows = r.rows(_SEL_MEMBERS, {"cids": cids})
        reply_rows = r.rows(_SEL_REPLY_CONVS, {"ids": replies}) if replies else None
        used_rows = r.rows(_SEL_CLIENT_IDS, {"uids": sorted({q.ctx.user_id for q in keyed}),
                                             "keys": sorted({q.client_id or "" for q in keyed})}) if keyed else None
    if len(locked.value) < len(cids):
        # Conversations that exist but another transaction holds: their sends wait for a later batch
        # (one that does not exist is answered 404 below, like any conversation one is not in).
        held = set(conn.execute(_SEL_CONV_IDS, {"ids": [c for c in cids if c not in locked.value]}).scalars())
        for job in jobs:
            job.deferred = job.request.conversation_id in held
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
    live: list[_Job] = []
    for job in jobs:
        if job.request.ctx.user_id not in recipients.get(job.request.conversation_id, ()):
            job.fail(MixunError("not_found"))
        else:
            live.append(job)
    if reply_rows is not None:
        # A reply only to a message the sender can see: in this conversation and after they joined
        # (an earlier one is answered as if it did not exist).
        target = {mid: (cid, seq) for mid, cid, seq in reply_rows.value}
        for job in live:
            q = job.request
            cid, seq = target.get(q.reply_to, (None, 0)) if q.reply_to is not None else (None, 0)
            if q.reply_to is not None and (cid != q.conversation_id or seq <= joined[(cid, q.ctx.user_id)]):
                job.fail(MixunError("validation_failed", ("被回复的消息不存在", "The message replied to does not exist"),
                                    field="reply_to"))
        live = [j for j in live if j.outcome is None]
    if used_rows is not None:
        used = {tuple(row) for row in used_rows.value}
        for job in live:
            job.resend = (job.request.ctx.user_id, job.request.client_id) in used
        live = [j for j in live if not j.resend]
    if not live:
        return
    sends = [j.request for j in live]
    for q in sends:
        checks.record_dlp(s, q.ctx, q.dlp_outcome or DlpOutcome(), f"conversation:{q.conversation_id}")
    now = datetime.now(UTC)
    outcomes = [q.dlp_outcome or DlpOutcome() for q in sends]
    mentions = [checks.mentions(s, q.conversation_id, o.deliver_text, q.ctx.user_id)
                for q, o in zip(sends, outcomes, strict=True)]
    # Who hears of each message (held by DLP: only the sender).
    hearers = [[q.ctx.user_id] if o.action == "hold" else recipients[q.conversation_id]
               for q, o in zip(sends, outcomes, strict=True)]
    counts: dict[int, int] = {}
    for q in sends:
        counts[q.conversation_id] = counts.get(q.conversation_id, 0) + 1
    with bulk.Round(conn) as r:
        last = r.bump(_conv, "id", "last_seq", counts, updated_at=now)
        reserved_ids = r.reserve_ids(_msg, len(live))
        reserved_versions = r.reserve_ids(_ver, len(live)) if indexed is not None else None
        reserved_events = events.reserve(r, hearers)
    nxt = {cid: last.value[cid] - n + 1 for cid, n in counts.items()}
    rows = []
    for job, outcome, found, msg_id in zip(live, outcomes, mentions, reserved_ids.value, strict=True):
        q = job.request
        seq = nxt[q.conversation_id]
        nxt[q.conversation_id] = seq + 1
        job.message_id = msg_id
        rows.append({
            "id": msg_id, "conversation_id": q.conversation_id, "seq": seq, "sender_id": q.ctx.user_id,
            "client_id": q.client_id or None, "kind": q.kind, "text": outcome.deliver_text,
            "reply_to_id": q.reply_to, "mentions": found, "urgent": bool(q.urgent),
            "created_at": now, "edited_at": None, "recalled_at": None, "recalled_by": None, "version": 1,
            "dlp_action": None if outcome.action == "allow" else outcome.action,
            "dlp_findings": outcome.findings or None, "classification": "internal"})

    def views() -> list[events.Event]:
        emitted: list[events.Event] = []
        for job, row, heard_by in zip(live, rows, hearers, strict=True):
            q = job.request
            results.append((job, _created(s, q, row, recipients[q.conversation_id], heard_by, emitted)))
        return emitted

    # A plain message's view needs nothing from the database, so its events go in the same round as the
    # message; attachments and urgent notices read what the batch stored, so then the events follow.
    reads_back = any(q.attachments or q.urgent for q in sends)
    emitted = None if reads_back else views()
    # The round that commits flushes what the session holds (a DLP hit's audit record) first.
    # Text is stored sealed under its conversation's data key for this month (cached: no round trip).
    ctx = sends[0].ctx
    sealed = texts.seal_many(ctx.rt, [(q.conversation_id, now, o.deliver_text)
                                      for q, o in zip(sends, outcomes, strict=True)])
    version_ids = reserved_versions.value if reserved_versions is not None else None
    found_postings = (None if indexed is None or version_ids is None
                      else _postings(live, [o.deliver_text for o in outcomes], version_ids))
    ids_or_none: list[int | None] = list(version_ids) if version_ids is not None else [None] * len(rows)
    with bulk.Round(conn, commits=None if reads_back else s) as r:
        r.insert_rows(_msg, [dict(row, text=text, dlp_findings=texts.seal_findings(  # the masked excerpts too
            q.ctx.rt, q.conversation_id, now, o.findings)) for q, o, row, text in zip(sends, outcomes, rows, sealed, strict=True)])
        r.insert_rows(_ver, [dict({
            "message_id": row["id"], "conversation_id": row["conversation_id"], "version": 1, "kind": "created",
            "sender_id": row["sender_id"], "actor_id": row["sender_id"], "text": text,
            "original_enc": outcome.original_enc, "created_at": now}, **({"id": vid} if vid is not None else {}))
            for outcome, row, text, vid in zip(outcomes, rows, sealed, ids_or_none, strict=True)])
        if found_postings is not None and version_ids is not None and indexed is not None:
            # Indexed here, in this transaction: the trigger's pending rows go as the postings come.
            indexed[0] = True
            terms, term_versions = found_postings
            r.insert_columns(_terms, {"term": terms, "version_id": term_versions})
            r.run(_DEL_PENDING, {"ids": version_ids})
        # Sending reads what came before (the last of a sender's messages in the batch counts). No
        # separate conversation.read event: every member receives this message.created, which says so.
        reads = {(row["conversation_id"], row["sender_id"]): row["seq"] for row in rows}
        r.update_rows(_mem, ("conversation_id", "user_id"), [
            {"conversation_id": cid, "user_id": uid, "read_seq": seq, "read_at": now}
            for (cid, uid), seq in reads.items()])
        if emitted is not None:
            events.write(r, s, ctx, reserved_events, emitted)
    if emitted is None:
        emitted = views()
        with bulk.Round(conn, commits=s) as r:
            events.write(r, s, ctx, reserved_events, emitted)


def _created(s: Session, q: SendRequest, row: dict[str, Any], recipients: list[int], heard_by: list[int],
             emitted: list[events.Event]) -> dict[str, Any]:
    """The rest of one sent message inside the batch's transaction: its attachments, its event, the
    urgent notices; returns the sender's view."""
    ctx, me, cid, now, msg_id = q.ctx, q.ctx.user_id, q.conversation_id, row["created_at"], row["id"]
    outcome = q.dlp_outcome or DlpOutcome()
    atts: list[dict[str, Any]] = []
    if q.attachments:
        s.connection().execute(insert(Attachment.__table__), [
            dict(a, message_id=msg_id, conversation_id=cid, uploader_id=me, created_at=now)
            for a in q.attachments])
        atts = attachment_views(s, [msg_id]).get(msg_id, [])
    view = message_view(msg_id, cid, row["seq"], me, ctx.principal.name if ctx.principal else "", q.kind,
                        row["text"], now, None, False, bool(q.urgent), q.reply_to, row["mentions"], atts,
                        0, len(recipients) - 1)
    dlp_action = row["dlp_action"]
    if dlp_action == "mask":
        view["dlp"] = {"action": "mask"}
    emitted.append((heard_by, "message.created", {"conversation_id": cid, "message": view}))
    mine = dict(view, client_id=q.client_id)
    if dlp_action:
        mine["dlp"] = {"action": dlp_action, "findings": outcome.findings}
    if q.urgent:
        others = [uid for uid in recipients if uid != me]
        people = s.execute(select(User.id, User.name, User.phone).where(User.id.in_(others))).all()
        mine["urgent_recipients"] = [{"id": uid, "name": nm, "phone": ph, "read": False}
                                     for uid, nm, ph in people]
        if outcome.action != "hold":
            _notify_offline_urgent(s, ctx, others)
    return mine


def _notify_offline_urgent(s: Session, ctx: Ctx, recipients: list[int]) -> None:
    """Recipients of an urgent message with no live connection are told through the notification
    gateway, after commit."""
    gateway = ctx.rt.notifier
    offline = [uid for uid in recipients if uid not in online_users(ctx, recipients)]
    if gateway is None or not offline:
        return
    reach = contacts(s, ctx.rt.settings, offline)
    sender = ctx.principal.name if ctx.principal else ""
    text = f"【密讯】{sender}给您发送了一条紧急消息,请尽快登录密讯查看。"

    def deliver() -> None:  # queued only: the gateways are reached from the notifier's own thread
        for uid in offline:
            phone, email = reach.get(uid, (None, None))
            gateway.send(uid, phone, text, email=email, subject="密讯紧急消息 Urgent message on Mixun")

    on_commit(s, deliver)
