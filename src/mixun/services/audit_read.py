"""Reading the audit trail (the auditor's side); reads are themselves audited. (Verifying it is
services/audit_checkpoints.verify.)

The auditor looks people up by name, username or employee number, and sees names beside ids: the
records keep ids (they are hashed as written), names are joined in when read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mixun.db.models import AuditLog, Conversation, Unit, User
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import audit, audit_checkpoints, texts
from mixun.services.runtime import Ctx

PEOPLE_MAX = 20  # a person query naming more than this many people is too vague to be useful


def resolve_people(s: Session, query: str) -> list[dict[str, Any]]:
    """People whose username, employee number or name is exactly ``query`` (usernames case-blind).
    An unknown name resolves to nobody, never to everybody."""
    q = query.strip()
    if not q:
        return []
    rows = s.execute(select(User.id, User.username, User.name, User.employee_no).where(or_(
        func.lower(User.username) == q.lower(), User.employee_no == q, User.name == q))
        .order_by(User.id).limit(PEOPLE_MAX)).all()
    return [{"id": uid, "username": un, "name": nm, "employee_no": no or ""} for uid, un, nm, no in rows]


# Details that hold the id of a person, a conversation or a unit: shown by name beside the id.
DETAIL_REFS = {"requested_by": "user", "user_id": "user", "subject_id": "user", "user": "user",
               "decided_by": "user", "actor_id": "user", "conversation_id": "conversation", "unit_id": "unit"}


def _detail_refs(details: Any) -> dict[str, str]:
    """{detail key: "kind:id"} for the details naming a person, conversation or unit by id."""
    out: dict[str, str] = {}
    if isinstance(details, dict):
        for key, kind in DETAIL_REFS.items():
            v = details.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**62:
                out[key] = f"{kind}:{v}"
    return out


def _target_names(s: Session, rows: list[AuditLog]) -> dict[str, str]:
    """Display names for targets such as ``user:5``, ``conversation:3`` and ``unit:2``, and for the ids
    the records' details name (DETAIL_REFS)."""
    want: dict[str, set[int]] = {"user": set(), "conversation": set(), "unit": set()}
    for r in rows:
        for ref in [r.target or "", *_detail_refs(r.details).values()]:
            kind, _, rest = ref.partition(":")
            if kind in want and rest.isdigit() and len(rest) < 19:
                want[kind].add(int(rest))
    out: dict[str, str] = {}
    if want["user"]:
        for uid, un, nm in s.execute(select(User.id, User.username, User.name).where(User.id.in_(want["user"]))):
            out[f"user:{uid}"] = f"{nm}（{un}）"
    if want["conversation"]:
        for cid, nm in s.execute(select(Conversation.id, Conversation.name)
                                       .where(Conversation.id.in_(want["conversation"]))):
            out[f"conversation:{cid}"] = nm or ""
    if want["unit"]:
        for uid, path in s.execute(select(Unit.id, Unit.path).where(Unit.id.in_(want["unit"]))):
            out[f"unit:{uid}"] = path
    return out


def _view(r: AuditLog, names: dict[int, tuple[str, str]], targets: dict[str, str]) -> dict[str, Any]:
    username, name = names.get(r.actor_id or 0, ("", ""))
    return {"id": r.id, "at": r.at, "actor_id": r.actor_id, "actor_username": username, "actor_name": name,
            "actor_role": r.actor_role, "ip": r.ip, "client": r.client, "action": r.action, "target": r.target,
            "target_name": targets.get(r.target or "", ""), "outcome": r.outcome,
            "details": texts.opened(r.details),  # DLP findings' excerpts are stored sealed
            "detail_names": {k: targets[ref] for k, ref in _detail_refs(r.details).items() if targets.get(ref)},
            "hash": r.hash}


def search(ctx: Ctx, action: str | None, actor: int | None, limit: int, offset: int,
           actor_username: str | None = None, since: str | None = None, until: str | None = None,
           person: str | None = None) -> dict[str, Any]:
    """Newest first. ``since``/``until`` are ISO 8601 times (records store theirs in UTC as written).
    ``person`` (a name, username or employee number) keeps the records that person did or that were
    done to them; the people it matched are returned, and a person nobody is gives no records."""
    since_at = parse_time(since, "since") if since else None
    until_at = parse_time(until, "until") if until else None
    people: list[dict[str, Any]] | None = None
    with ctx.rt.db.read() as s:
        stmt = select(AuditLog).order_by(AuditLog.id.desc())
        if action:
            stmt = stmt.where(AuditLog.action.startswith(action))
        if actor:
            stmt = stmt.where(AuditLog.actor_id == actor)
        if actor_username:
            stmt = stmt.where(AuditLog.actor_id.in_(select(User.id).where(User.username == actor_username)))
        if person is not None and person.strip():
            people = resolve_people(s, person)
            ids = [p["id"] for p in people]
            stmt = stmt.where(or_(AuditLog.actor_id.in_(ids or [-1]),
                                  AuditLog.target.in_([f"user:{i}" for i in ids] or ["-"])))
        if since_at:
            stmt = stmt.where(AuditLog.at >= since_at)
        if until_at:
            stmt = stmt.where(AuditLog.at < until_at)
        rows = list(s.execute(stmt.offset(offset).limit(limit + 1)).scalars()) if people != [] else []
        actor_ids = {r.actor_id for r in rows if r.actor_id}
        names = {uid: (un, nm) for uid, un, nm in s.execute(
            select(User.id, User.username, User.name).where(User.id.in_(actor_ids))).all()} if actor_ids else {}
        targets = _target_names(s, rows[:limit])
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.AUDIT_SEARCHED, action_filter=action or "", actor_filter=actor,
                     person_filter=(person or "").strip()[:64] or None)
    out: dict[str, Any] = {"records": [_view(r, names, targets) for r in rows[:limit]],
                           "next_offset": offset + limit if len(rows) > limit else None}
    if people is not None:
        out["people"] = people
    return out


def parse_time(value: str, field: str = "since/until") -> str:
    """An ISO 8601 time as the trail's own UTC text (naive means UTC); anything else is a 422."""
    try:
        t = datetime.fromisoformat(value)
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return t.astimezone(UTC).isoformat()
    except (ValueError, OverflowError) as exc:
        raise MixunError("validation_failed", ("时间格式应为 ISO 8601，例如 2026-12-01T00:00:00+08:00",
                                               "Times must be ISO 8601, e.g. 2026-12-01T00:00:00+08:00"),
                         field=field) from exc


def run_verification(ctx: Ctx) -> audit_checkpoints.VerifyReport:
    """The auditor's check of the whole trail: audit_checkpoints.verify (the one verification), itself audited."""
    report = audit_checkpoints.verify(ctx)
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.AUDIT_VERIFIED, ok=report.ok, first_bad_id=report.first_bad_id)
    return report


EXPORT_BATCH = 2000


def export_lines(ctx: Ctx, action: str | None, since: str | None, until: str | None) -> Iterator[bytes]:
    """The trail as JSON Lines in id order, for streaming: the export is audited now (before the first
    line is read), then each batch of 2,000 records is read in a short read transaction of its own as the
    stream is consumed. ``since``/``until`` are ISO 8601 (``parse_time``; anything else is a 422 now)."""
    since_at = parse_time(since, "since") if since else None
    until_at = parse_time(until, "until") if until else None
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.AUDIT_EXPORTED, action_filter=action or "", since=since_at, until=until_at)
    return _export_batches(ctx, action, since_at, until_at)


def _export_batches(ctx: Ctx, action: str | None, since: str | None, until: str | None) -> Iterator[bytes]:
    last = 0
    while True:
        with ctx.rt.db.read() as s:
            stmt = select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id).limit(EXPORT_BATCH)
            if action:
                stmt = stmt.where(AuditLog.action.startswith(action))
            if since:
                stmt = stmt.where(AuditLog.at >= since)
            if until:
                stmt = stmt.where(AuditLog.at <= until)
            batch = list(s.execute(stmt).scalars())
        if not batch:
            return
        last = batch[-1].id
        yield b"".join(orjson.dumps({
            "id": r.id, "at": r.at, "actor_id": r.actor_id, "actor_role": r.actor_role, "ip": r.ip,
            "client": r.client, "action": r.action, "target": r.target, "outcome": r.outcome,
            "details": r.details, "prev_hash": r.prev_hash, "hash": r.hash}) + b"\n" for r in batch)
