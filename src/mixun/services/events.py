"""Per-user event streams: every event a user receives gets that user's next gap-free event_seq.

An event is serialised once (event_payloads) and referenced by one small row per recipient
(user_events). After commit, one wake-up naming (user, event_seq) pairs and carrying the payload goes
to the bus; processes push straight from it, and read the rows when they see a gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from mixun.db.engine import on_commit
from mixun.db.models import EventCounter, EventPayload, UserEvent
from mixun.services.runtime import Ctx

_counters = EventCounter.__table__
_BUMP_COUNTERS = (update(_counters).where(_counters.c.user_id.in_(bindparam("ids", expanding=True)))
                  .values(last_seq=_counters.c.last_seq + 1).returning(_counters.c.user_id, _counters.c.last_seq))
_BUMP_COUNTERS_PG = text(
    "UPDATE event_counters AS c SET last_seq = c.last_seq + 1 FROM "
    "(SELECT user_id FROM event_counters WHERE user_id = ANY(:ids) ORDER BY user_id FOR UPDATE) AS l "
    "WHERE c.user_id = l.user_id RETURNING c.user_id, c.last_seq")
_INS_PAYLOAD = insert(EventPayload.__table__).returning(EventPayload.__table__.c.id)
_INS_USER_EVENT = insert(UserEvent.__table__)


def allocate_seqs(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """Next event_seq for each user, locking counters in id order so concurrent writers never deadlock."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    conn = session.connection()  # Core on the connection: the hot path skips the ORM's statement layers
    if conn.dialect.name == "postgresql":
        # One round trip: lock the counters in id order (no deadlocks), then bump them.
        rows = conn.execute(_BUMP_COUNTERS_PG, {"ids": ids}).all()
    else:
        rows = conn.execute(_BUMP_COUNTERS, {"ids": ids}).all()
    seqs = {r[0]: r[1] for r in rows}
    missing = [uid for uid in ids if uid not in seqs]
    if missing:  # users created before their counter row (should not happen; heal it)
        conn.execute(insert(EventCounter.__table__), [{"user_id": uid, "last_seq": 1} for uid in missing])
        seqs.update({uid: 1 for uid in missing})
    return seqs


def emit(session: Session, ctx: Ctx, recipients: Iterable[int], type_: str, body: dict[str, Any]) -> None:
    """Persist one event for every recipient and wake their connections after commit."""
    seqs = allocate_seqs(session, recipients)
    if not seqs:
        return
    payload = orjson.dumps({"type": type_, **body}).decode()
    conn = session.connection()
    payload_id = conn.execute(_INS_PAYLOAD, {"type": type_, "body": payload, "created_at": datetime.now(UTC)}
                              ).scalar_one()
    conn.execute(_INS_USER_EVENT, [
        {"user_id": uid, "event_seq": seq, "payload_id": payload_id} for uid, seq in seqs.items()
    ])
    wake = {"recipients": [[uid, seq] for uid, seq in seqs.items()], "payload": payload}
    notify = ctx.rt.notify
    on_commit(session, lambda: notify(wake))


def read_events(session: Session, user_id: int, after_seq: int, limit: int = 500) -> list[tuple[int, str]]:
    """(event_seq, payload json) for one user after ``after_seq``, in order."""
    rows = session.execute(
        select(UserEvent.event_seq, EventPayload.body)
        .join(EventPayload, EventPayload.id == UserEvent.payload_id)
        .where(UserEvent.user_id == user_id, UserEvent.event_seq > after_seq)
        .order_by(UserEvent.event_seq)
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def last_seq(session: Session, user_id: int) -> int:
    value = session.execute(select(EventCounter.last_seq).where(EventCounter.user_id == user_id)).scalar()
    return int(value or 0)


def ephemeral(ctx: Ctx, recipients: Iterable[int], type_: str, body: dict[str, Any]) -> None:
    """A live-only notice (no event_seq, not replayed), e.g. connection-driven presence."""
    ids = list(set(recipients))
    if ids:
        ctx.rt.notify({"recipients": [[uid, 0] for uid in ids],
                       "payload": orjson.dumps({"type": type_, **body}).decode()})
