"""The compliance archive: indexing message versions for Chinese search, searching, and opening a
conversation in context. Every search and view needs a stated reason and is itself audited.

A database trigger puts every new message version in archive_pending_versions in the transaction
that writes it; a version is indexed when its postings are written and its pending row deleted, in one
transaction. The send batch does that for the versions it writes, from the text in hand
(``sendpath/batch.py``); every other version (edits, recalls), and any the batch left (its indexing
failed), is indexed from message_versions itself: each search first indexes what is waiting, and a
background task keeps up. Nothing can be missed, whatever order concurrent transactions commit in.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import Session, aliased

from mixun.db import bulk
from mixun.db.engine import is_busy
from mixun.db.models import Conversation, Member, MembershipLog, Message, MessageVersion, Unit, User
from mixun.db.models_archive import PendingVersion, SearchIndexState, SearchTerm
from mixun.db.sealed import Unreadable
from mixun.domain.audit_actions import AuditAction
from mixun.domain.search_terms import (
    PREFIX_END,
    hashed,
    matches,
    normalise,
    postings,
    query_terms,
    runs,
)
from mixun.errors import MixunError
from mixun.services import audit, dual_control
from mixun.services.audit_read import resolve_people
from mixun.services.dual_control import Reason
from mixun.services.messages import archive_attachment_views
from mixun.services.runtime import Ctx, Runtime

log = logging.getLogger("mixun.archive")

MAX_LIMIT = 200
INDEX_BATCH = 5000
REASON_MAX = 500
INDEX_EVERY_SECONDS = 0.25
INDEX_SLICE = 50


# --- indexing ---------------------------------------------------------------------------------------

def search_key(s: Session) -> bytes:
    """The key of the postings' keyed hashes, from the runtime that made the session's database."""
    db = s.info.get("database")
    source = getattr(db, "search_key", None)
    if source is None:
        raise RuntimeError("no search key: the database was not opened by a runtime")
    return bytes(source())


def _state(s: Session, lock: bool = False) -> SearchIndexState:
    stmt = select(SearchIndexState).where(SearchIndexState.id == 1)
    if lock:
        stmt = stmt.with_for_update()
    row = s.execute(stmt).scalar_one_or_none()
    if row is None:
        # Two writers (two processes' indexers, or an indexer and retention) can both find no row: a
        # plain INSERT of the second then waited for the first's commit and failed on the primary key
        # (UniqueViolation). Inserted if missing: the second's insert does nothing, and the read after
        # it (a statement of its own, so it sees the first's commit) finds and locks the row.
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        s.execute(dialect.insert(SearchIndexState).values(id=1, last_version_id=0)
                  .on_conflict_do_nothing(index_elements=["id"]))
        row = s.execute(stmt).scalar_one()
    return row


def index_rows(s: Session, rows: list[tuple[int, str]]) -> int:
    """Insert the terms of (version id, text) pairs; returns the number of postings written."""
    terms, versions = postings(search_key(s), rows)
    # One statement, not one per posting.
    bulk.insert_columns(s.connection(), SearchTerm.__table__, {"term": terms, "version_id": versions})
    return len(terms)


def index_pending(s: Session, max_rows: int | None = None, batch: int = INDEX_BATCH) -> int:
    """Index the versions waiting in archive_pending_versions (in the caller's write transaction), oldest
    first; a version is waiting from the commit that wrote it, whatever its id."""
    _state(s, lock=True)  # one indexing run at a time (and none while retention unindexes)
    done = 0
    while max_rows is None or done < max_rows:
        rows = [(r[0], r[1]) for r in s.execute(
            select(MessageVersion.id, MessageVersion.text)
            .join(PendingVersion, PendingVersion.version_id == MessageVersion.id)
            .order_by(PendingVersion.version_id).limit(batch)).all()]
        if not rows:
            break
        index_rows(s, rows)
        s.execute(delete(PendingVersion).where(PendingVersion.version_id.in_([vid for vid, _t in rows])))
        done += len(rows)
        s.flush()
        if len(rows) < batch:
            break
    return done


def keep_index_current(rt: Runtime, stop: threading.Event) -> None:
    """Keep the search index current in small slices until ``stop`` (searches index the rest): fifty
    versions four times a second, so indexing never holds the write lock or an interpreter long enough
    to show in message latency (400 every 2 s put p99 at 300 ms with 1,000 clients at 100 msg/s; 50
    every 0.25 s, 41 ms), and a backlog drains slice by slice. A serving process runs it in a thread;
    with a writer process (sendpath/transport.py), the writer runs it instead, beside its writes
    and off the event loop's interpreter."""
    while not stop.wait(INDEX_EVERY_SECONDS):
        try:
            while index_slice(rt) >= INDEX_SLICE and not stop.wait(0.05):
                pass
        except Exception as exc:
            if is_busy(exc):  # a search is indexing a long backlog itself and holds the index state
                log.warning("search indexing waited too long for the index state; retried shortly")
            else:
                log.exception("search indexing failed; retried shortly")


def index_slice(rt: Runtime) -> int:
    """Index up to INDEX_SLICE waiting versions in a transaction of their own; how many it indexed.
    Nothing waiting (the usual case: a send batch indexes its own versions) costs one read, no write
    transaction: the poll no longer takes the write lock and commits four times a second."""
    with rt.db.read() as s:
        if s.execute(select(PendingVersion.version_id).limit(1)).first() is None:
            return 0
    with rt.db.write() as s:
        return index_pending(s, max_rows=INDEX_SLICE, batch=INDEX_SLICE)


def start_indexer(rt: Runtime) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=keep_index_current, args=(rt, stop), name="mixun-indexer", daemon=True)
    thread.start()
    return thread, stop


def catch_up(ctx: Ctx) -> None:
    with ctx.rt.db.read() as s:
        waiting = s.execute(select(PendingVersion.version_id).limit(1)).first() is not None
    if waiting:
        with ctx.rt.db.write() as s:
            index_pending(s)


def unindex(s: Session, version_ids: list[int]) -> None:
    """Drop the postings of destroyed versions (retention). The index state is locked first, as every
    indexing run locks it: a run that read these versions before they were deleted commits first (and
    its postings are dropped here), a later one no longer sees them; no posting of a destroyed version
    is left behind. (Their pending rows go with the versions: ON DELETE CASCADE.)"""
    _state(s, lock=True)
    for i in range(0, len(version_ids), 500):
        s.execute(delete(SearchTerm).where(SearchTerm.version_id.in_(version_ids[i : i + 500])))


# --- searching --------------------------------------------------------------------------------------

def check_reason(reason: str | None) -> str:
    """A free-text reason (legal holds and their release)."""
    reason = (reason or "").strip()
    if not reason:
        raise MixunError("validation_failed", ("必须说明理由", "A reason is required"), field="reason")
    return reason[:REASON_MAX]


# Why an officer looks at content: one of these categories, and a free text saying what the case is.
REASON_CATEGORIES = {"regulatory_inspection": "监管检查", "internal_investigation": "内部调查",
                     "customer_complaint": "客户投诉", "litigation": "法律诉讼", "audit_sampling": "审计抽查",
                     "other": "其他"}
_CATEGORY_BY_LABEL = {v: k for k, v in REASON_CATEGORIES.items()}
REASON_MIN = 10


def check_access_reason(category: str | None, reason: str | None) -> Reason:
    """The reason for reading archive content: a known category (its code or its Chinese label) and a
    text of at least REASON_MIN characters; each rule broken is its own 422."""
    cat = (category or "").strip()
    code = cat if cat in REASON_CATEGORIES else _CATEGORY_BY_LABEL.get(cat)
    if code is None:
        raise MixunError("reason_category_required", field="category", allowed=list(REASON_CATEGORIES))
    text = " ".join((reason or "").split())
    if len(text) < REASON_MIN:
        raise MixunError("reason_too_short", field="reason", min_length=REASON_MIN)
    return Reason(code, text[:REASON_MAX])


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise MixunError("invalid_time_range", field="since")


def _unit_sender_ids(s: Session, unit: str) -> list[int]:
    unit = unit.strip().rstrip("/")
    return list(s.execute(select(User.id).join(Unit, Unit.id == User.unit_id)
                          .where(or_(Unit.path == unit, Unit.path.startswith(unit + "/")))).scalars())


def _candidates(s: Session, q: str, filters: list[Any], cursor: int | None, n: int) -> list[int]:
    """Version ids (newest first) whose postings contain every query term and that pass the filters."""
    bigrams, singles = query_terms(q)
    if not bigrams and not singles:
        stmt = select(MessageVersion.id)
        id_col = MessageVersion.id
    elif bigrams:
        t0 = aliased(SearchTerm)
        key = search_key(s)
        stmt = select(t0.version_id).where(t0.term == hashed(key, bigrams[0]))
        for b in bigrams[1:]:
            tn = aliased(SearchTerm)
            stmt = stmt.join(tn, and_(tn.term == hashed(key, b), tn.version_id == t0.version_id))
        id_col = t0.version_id
        if filters:
            stmt = stmt.join(MessageVersion, MessageVersion.id == t0.version_id)
    else:
        t0 = aliased(SearchTerm)
        c = hashed(search_key(s), singles[0])
        stmt = select(t0.version_id).where(t0.term >= c, t0.term < c + PREFIX_END).distinct()
        id_col = t0.version_id
        if filters:
            stmt = stmt.join(MessageVersion, MessageVersion.id == t0.version_id)
    for f in filters:
        stmt = stmt.where(f)
    if cursor is not None:
        stmt = stmt.where(id_col < cursor)
    return list(s.execute(stmt.order_by(id_col.desc()).limit(n)).scalars())


def _filters(s: Session, sender: int | None, unit: str | None, conversation_id: int | None,
             since: datetime | None, until: datetime | None, dlp: bool,
             conversations: list[int] | None = None) -> list[Any]:
    f: list[Any] = []
    if sender is not None:
        f.append(MessageVersion.sender_id == sender)
    if unit:
        f.append(MessageVersion.sender_id.in_(_unit_sender_ids(s, unit) or [-1]))
    if conversation_id is not None:
        f.append(MessageVersion.conversation_id == conversation_id)
    if conversations is not None:
        f.append(MessageVersion.conversation_id.in_(conversations or [-1]))
    if since is not None:
        f.append(MessageVersion.created_at >= since)
    if until is not None:
        f.append(MessageVersion.created_at <= until)
    if dlp:
        f.append(MessageVersion.message_id.in_(select(Message.id).where(Message.dlp_action.is_not(None))))
    return f


def _version_views(s: Session, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = s.execute(
        select(MessageVersion, Message.seq, Message.dlp_action, User.name, User.username, Unit.path,
               Conversation.kind, Conversation.name)
        .join(Message, Message.id == MessageVersion.message_id, isouter=True)
        .join(User, User.id == MessageVersion.sender_id, isouter=True)
        .join(Unit, Unit.id == User.unit_id, isouter=True)
        .join(Conversation, Conversation.id == MessageVersion.conversation_id, isouter=True)
        .where(MessageVersion.id.in_(ids))).all()
    by_id = {}
    for v, seq, dlp_action, name, username, unit_path, ckind, cname in rows:
        by_id[v.id] = {
            "version_id": v.id, "message_id": v.message_id, "conversation": {
                "id": v.conversation_id, "kind": ckind, "name": cname or ""},
            "seq": seq, "version": v.version, "kind": v.kind, "text": v.text,
            "sender": {"id": v.sender_id, "name": name or "", "username": username or "", "unit": unit_path or ""},
            "actor_id": v.actor_id, "created_at": v.created_at.isoformat(),
            "dlp_action": dlp_action, "has_original": v.original_enc is not None,
            "content_destroyed": isinstance(v.text, Unreadable),  # its data key was destroyed (retention)
        }
    return [by_id[i] for i in ids if i in by_id]


def _with_attachments(s: Session, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compliance views: each created version with its message's files (pack contents included)."""
    atts = archive_attachment_views(s, sorted({v["message_id"] for v in versions if v["kind"] == "created"}))
    for v in versions:
        if v["kind"] == "created" and v["message_id"] in atts:
            v["attachments"] = atts[v["message_id"]]
    return versions


def search_versions(s: Session, q: str, filters: list[Any], limit: int, cursor: int | None
                    ) -> tuple[list[dict[str, Any]], int | None]:
    """Matching versions newest first, and the cursor for the next page (None at the end)."""
    limit = max(1, min(limit, MAX_LIMIT))
    found: list[dict[str, Any]] = []
    batch = max(limit * 2, 50)
    while len(found) < limit:
        ids = _candidates(s, q, filters, cursor, batch)
        if not ids:
            return found, None
        for view in _version_views(s, ids):
            cursor = view["version_id"]
            if not q.strip() or matches(q, view["text"]):
                found.append(view)
                if len(found) == limit:
                    return found, cursor
        if len(ids) < batch:
            return found, None
        cursor = ids[-1]
        batch = min(batch * 4, 5000)
    return found, cursor


def _participants(s: Session, conversation_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Everyone who is or was in each conversation (members and the membership log), with names."""
    if not conversation_ids:
        return {}
    ids = list(conversation_ids)
    pairs = set(s.execute(select(Member.conversation_id, Member.user_id)
                          .where(Member.conversation_id.in_(ids))).all())
    pairs |= set(s.execute(select(MembershipLog.conversation_id, MembershipLog.user_id)
                           .where(MembershipLog.conversation_id.in_(ids))).all())
    users = {uid for _c, uid in pairs}
    names = {uid: (nm, un) for uid, nm, un in s.execute(
        select(User.id, User.name, User.username).where(User.id.in_(users or [-1]))).all()}
    out: dict[int, list[dict[str, Any]]] = {}
    for cid, uid in sorted(pairs):
        nm, un = names.get(uid, ("", ""))
        out.setdefault(cid, []).append({"id": uid, "name": nm, "username": un})
    return out


def _with_people(s: Session, versions: list[dict[str, Any]], q: str = "") -> list[dict[str, Any]]:
    """Who wrote to whom: each result's recipients (the conversation's other participants, at most
    RECIPIENTS_SHOWN named), the conversation's title (a direct one is titled by its two people) and,
    for searches, the hit in context."""
    people = _participants(s, {v["conversation"]["id"] for v in versions})
    for v in versions:
        everyone = people.get(v["conversation"]["id"], [])
        others = [p for p in everyone if p["id"] != v["sender"]["id"]]
        v["recipients"] = others[:RECIPIENTS_SHOWN]
        v["recipient_count"] = len(others)
        conv = v["conversation"]
        conv["title"] = conv["name"] or "、".join(p["name"] for p in everyone[:RECIPIENTS_SHOWN])
        if q.strip():
            v["snippet"] = snippet(v["text"], q)
    return versions


RECIPIENTS_SHOWN = 8
SNIPPET_CONTEXT = 40


def snippet(text: str, q: str, context: int = SNIPPET_CONTEXT) -> dict[str, Any]:
    """The part of ``text`` around the first hit of ``q`` and the [start, end) of every hit in it, in
    characters of the original text (matching is on the normalised text, as the search does)."""
    norm: list[str] = []
    origin: list[int] = []  # for each normalised character, the original character it came from
    for i, ch in enumerate(text):
        for c in normalise(ch):
            norm.append(c)
            origin.append(i)
    hay = "".join(norm)
    spans: list[tuple[int, int]] = []
    for run in runs(q):
        start = hay.find(run)
        while start >= 0:
            spans.append((origin[start], origin[start + len(run) - 1] + 1))
            start = hay.find(run, start + len(run))
    if not spans:
        return {"text": text[: context * 3], "start": 0, "hits": []}
    spans.sort()
    lo = max(0, spans[0][0] - context)
    hi = min(len(text), spans[0][1] + context * 2)
    hits = [[a - lo, b - lo] for a, b in spans if a >= lo and b <= hi]
    merged: list[list[int]] = []
    for a, b in hits:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return {"text": text[lo:hi], "start": lo, "hits": merged}


def conversation_titles(s: Session, ids: set[int]) -> dict[int, str]:
    """A conversation's name, or for one without a name the names of its people."""
    if not ids:
        return {}
    people = _participants(s, set(ids))
    return {cid: name or "、".join(p["name"] for p in people.get(cid, [])[:RECIPIENTS_SHOWN])
            for cid, name in s.execute(select(Conversation.id, Conversation.name).where(Conversation.id.in_(ids))).all()}


def _person_ids(s: Session, query: str | None) -> list[int] | None:
    """A person given by name, username or employee number; None when not asked, [] when nobody."""
    if query is None or not query.strip():
        return None
    return [p["id"] for p in resolve_people(s, query)]


def _conversations_of(s: Session, user_ids: list[int]) -> list[int]:
    """Conversations the people are or were in (membership log included)."""
    if not user_ids:
        return []
    ids = set(s.execute(select(Member.conversation_id).where(Member.user_id.in_(user_ids))).scalars())
    ids |= set(s.execute(select(MembershipLog.conversation_id)
                         .where(MembershipLog.user_id.in_(user_ids))).scalars())
    return sorted(ids)


def search(ctx: Ctx, *, reason: Reason, q: str = "", sender: int | None = None, unit: str | None = None,
           conversation_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
           dlp: bool = False, limit: int = 50, cursor: int | None = None, participant: int | None = None,
           sender_q: str | None = None, participant_q: str | None = None) -> dict[str, Any]:
    """Compliance search across everyone's messages (every version); audited with its reason.
    ``sender_q``/``participant_q`` name a person (name, username or employee number): an unknown
    person finds nothing."""
    check_range(since, until)
    catch_up(ctx)
    with ctx.rt.db.read() as s:
        senders = _person_ids(s, sender_q)
        partners = _person_ids(s, participant_q)
        convs: list[int] | None = None
        if participant is not None:
            partners = [participant] if partners is None else [p for p in partners if p == participant]
        if partners is not None:
            convs = _conversations_of(s, partners)
        filters = _filters(s, sender, unit, conversation_id, since, until, dlp, conversations=convs)
        if senders is not None:
            filters.append(MessageVersion.sender_id.in_(senders or [-1]))
        results, next_cursor = search_versions(s, q, filters, limit, cursor)
        _with_people(s, _with_attachments(s, results), q)
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ARCHIVE_SEARCHED, target="archive", **reason.audit(), query_length=len(q),
                     sender=sender, sender_q=(sender_q or "")[:64] or None, participant=participant,
                     participant_q=(participant_q or "")[:64] or None, unit=unit or "",
                     conversation_id=conversation_id, since=since.isoformat() if since else None,
                     until=until.isoformat() if until else None, dlp=dlp, results=len(results))
    return {"results": results, "next_cursor": next_cursor}


def search_own(ctx: Ctx, q: str, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """An employee's search over the conversations they are in (current text versions only)."""
    if not q.strip():
        raise MixunError("validation_failed", ("请输入搜索内容", "Enter something to search for"), field="q")
    catch_up(ctx)
    with ctx.rt.db.read() as s:
        convs = list(s.execute(select(Member.conversation_id).where(Member.user_id == ctx.user_id)).scalars())
        filters = _filters(s, None, None, None, None, None, False, conversations=convs)
        # Only what the employee sees in history (list_messages): after they joined, not recalled, held
        # ones to their sender only; and only the message's CURRENT version, never the text before an edit.
        visible = exists().where(
            Message.id == MessageVersion.message_id, Message.version == MessageVersion.version,
            Message.recalled_at.is_(None),
            or_(Message.dlp_action.is_(None), Message.dlp_action != "hold", Message.sender_id == ctx.user_id),
            Member.conversation_id == Message.conversation_id, Member.user_id == ctx.user_id,
            Message.seq > Member.joined_seq)
        filters.append(visible)
        results, next_cursor = search_versions(s, q, filters, limit, cursor)
    out = [{"message_id": r["message_id"], "conversation_id": r["conversation"]["id"], "seq": r["seq"],
            "sender": {"id": r["sender"]["id"], "name": r["sender"]["name"]}, "text": r["text"],
            "created_at": r["created_at"]} for r in results]
    return {"results": out, "next_cursor": next_cursor}


CONTEXT_BEFORE = 20


def view_conversation(ctx: Ctx, conversation_id: int, *, reason: Reason, after_version: int = 0,
                      limit: int = 200, include_originals: bool = False,
                      around: int | None = None) -> dict[str, Any]:
    """Open any conversation in context: every version in order, members and the membership log.
    ``around`` (a version id) starts the page CONTEXT_BEFORE versions before that hit. Originals of
    masked messages are shown only where dual control for them is off (else: a request, approved)."""
    limit = max(1, min(limit, MAX_LIMIT))
    if include_originals:
        dual_control.require_off(ctx, "originals")
    with ctx.rt.db.read() as s:
        conv = s.get(Conversation, conversation_id)
        if conv is None:
            raise MixunError("not_found")
        if around is not None:
            before = list(s.execute(select(MessageVersion.id).where(
                MessageVersion.conversation_id == conversation_id, MessageVersion.id < around)
                .order_by(MessageVersion.id.desc()).limit(CONTEXT_BEFORE)).scalars())
            after_version = (before[-1] - 1) if before else max(0, around - 1)
        ids = list(s.execute(select(MessageVersion.id).where(MessageVersion.conversation_id == conversation_id,
                                                             MessageVersion.id > after_version)
                             .order_by(MessageVersion.id).limit(limit + 1)).scalars())
        more = len(ids) > limit
        ids = ids[:limit]
        versions = _with_people(s, _with_attachments(s, _version_views(s, ids)))
        if include_originals:
            enc = dict(s.execute(select(MessageVersion.id, MessageVersion.original_enc)
                                 .where(MessageVersion.id.in_(ids), MessageVersion.original_enc.is_not(None))).all())
            for v in versions:
                blob = enc.get(v["version_id"])
                if blob is not None:
                    v["original_text"] = ctx.rt.keys.decrypt_small(blob, "dlp-original").decode()
        names = dict(s.execute(select(User.id, User.name).join(
            MembershipLog, MembershipLog.user_id == User.id).where(
            MembershipLog.conversation_id == conversation_id)).all())
        members: list[dict[str, Any]] = [{"id": uid, "name": name, "role": role} for uid, name, role in s.execute(
            select(Member.user_id, User.name, Member.role).join(User, User.id == Member.user_id)
            .where(Member.conversation_id == conversation_id)).all()]
        actors = set(s.execute(select(MembershipLog.actor_id).where(
            MembershipLog.conversation_id == conversation_id)).scalars()) - set(names)
        if actors:
            names.update(dict(s.execute(select(User.id, User.name).where(User.id.in_(actors))).all()))
        log = [{"user_id": r.user_id, "user_name": names.get(r.user_id, ""), "action": r.action,
                "actor_id": r.actor_id, "actor_name": names.get(r.actor_id, ""), "detail": r.detail,
                "at": r.created_at.isoformat()} for r in s.execute(
            select(MembershipLog).where(MembershipLog.conversation_id == conversation_id)
            .order_by(MembershipLog.id)).scalars()]
        title = conv.name or "、".join(m["name"] for m in members[:RECIPIENTS_SHOWN])
        view = {"conversation": {"id": conv.id, "kind": conv.kind, "name": conv.name, "title": title,
                                 "created_at": conv.created_at.isoformat()},
                "members": members, "membership_log": log, "versions": versions,
                "next_after_version": ids[-1] if more and ids else None}
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ARCHIVE_VIEWED, target=f"conversation:{conversation_id}", **reason.audit(),
                     versions=len(versions), originals=include_originals, around=around)
    return view


def original_exists(ctx: Ctx, version_id: int) -> None:
    """A request for an original is filed only for a version that has one."""
    with ctx.rt.db.read() as s:
        row = s.execute(select(MessageVersion.original_enc.is_not(None)).where(MessageVersion.id == version_id)).first()
    if row is None:
        raise MixunError("not_found")
    if not row[0]:
        raise MixunError("no_original")


def original_text(ctx: Ctx, version_id: int, reason: Reason, request_id: int | None = None) -> dict[str, Any]:
    """The unmasked original of one masked version (decrypted here, never stored in clear); audited.
    Under dual control the caller's approved request for this version is consumed instead."""
    with ctx.rt.db.read() as s:
        v = s.get(MessageVersion, version_id)
        if v is None:
            raise MixunError("not_found")
        if v.original_enc is None:
            raise MixunError("no_original")
        text = ctx.rt.keys.decrypt_small(v.original_enc, "dlp-original").decode()
        conversation_id, message_id = v.conversation_id, v.message_id
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ARCHIVE_ORIGINAL_VIEWED, target=f"conversation:{conversation_id}",
                     **reason.audit(), version_id=version_id, message_id=message_id, request_id=request_id)
    return {"version_id": version_id, "message_id": message_id, "original_text": text}
