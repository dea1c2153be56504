"""The event log: one counter per person (``event_counters``, the last event_seq handed out), each
event's payload stored once (``event_payloads``) and one small row per recipient naming it
(``user_events``).

The write path runs inside the caller's ``bulk.Round`` (a batch of sends reserves its events' seqs and
payload ids in the same round as its messages'); these functions add statements to the round and never
send one of their own, so the number of round trips stays the caller's. Serialising, sealing and the
wake-up after commit are ``services/events.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from mixun.db import bulk
from mixun.db.engine import affected
from mixun.db.models import EventCounter, EventPayload, UserEvent

_counters = EventCounter.__table__
_payloads = EventPayload.__table__
_user_events = UserEvent.__table__


# --- counters -------------------------------------------------------------------------------------

def add_counter(s: Session, user_id: int) -> None:
    """A new person's counter (no event yet)."""
    s.add(EventCounter(user_id=user_id, last_seq=0))


def add_counters(s: Session, user_ids: Sequence[int]) -> None:
    """New people's counters, in one statement (none for no one)."""
    if user_ids:
        s.execute(insert(EventCounter), [{"user_id": uid, "last_seq": 0} for uid in user_ids])


def find_last_seq(s: Session, user_id: int) -> int | None:
    """The last event_seq handed to ``user_id``; None when the person has no counter."""
    return s.execute(select(EventCounter.last_seq).where(EventCounter.user_id == user_id)).scalar()


def bump_counters(r: bulk.Round, counts: Mapping[int, int]) -> bulk.Later[dict[int, int]]:
    """In round ``r``: add ``counts[uid]`` to each person's counter; {uid: new last_seq} once the round
    is sent (people without a counter row are left out)."""
    return r.bump(_counters, "user_id", "last_seq", counts)


def insert_counters(r: bulk.Round, last_seqs: Mapping[int, int]) -> None:
    """In round ``r``: counters for people who had none, starting at ``last_seqs[uid]``."""
    ids = sorted(last_seqs)
    if ids:
        r.insert_columns(_counters, {"user_id": ids, "last_seq": [last_seqs[uid] for uid in ids]})


# --- payloads and recipients' rows --------------------------------------------------------------------

def reserve_payload_ids(r: bulk.Round, count: int) -> bulk.Later[list[int]]:
    """In round ``r``: ``count`` ids for payloads written in a later round."""
    return r.reserve_ids(_payloads, count)


def insert_payloads(r: bulk.Round, ids: list[int], types: list[str], bodies: list[Any], at: datetime) -> None:
    """In round ``r``: one payload row per id (``bodies`` as stored: sealed or plain JSON text)."""
    # Ids given (reserved), no trigger: the rows' order is immaterial (PostgreSQL need not sort them).
    r.insert_columns(_payloads, {"id": ids, "type": types, "body": bodies, "created_at": [at] * len(ids)},
                     ordered=False)


def insert_user_events(r: bulk.Round, user_ids: list[int], seqs: list[int], payload_ids: list[int]) -> None:
    """In round ``r``: the rows naming each recipient's event_seq and its payload (three equal lists)."""
    r.insert_columns(_user_events, {"user_id": user_ids, "event_seq": seqs, "payload_id": payload_ids},
                     ordered=False)


def list_events(s: Session, user_id: int, after_seq: int, limit: int) -> list[tuple[int, Any]]:
    """(event_seq, stored body) for ``user_id`` after ``after_seq``, in order, at most ``limit``. A body
    whose data key was destroyed reads as ``db.sealed.Unreadable``."""
    rows = s.execute(
        select(UserEvent.event_seq, EventPayload.body)
        .join(EventPayload, EventPayload.id == UserEvent.payload_id)
        .where(UserEvent.user_id == user_id, UserEvent.event_seq > after_seq)
        .order_by(UserEvent.event_seq)
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def list_events_many(s: Session, wants: Sequence[tuple[int, int]], limit: int) -> dict[tuple[int, int], list[tuple[int, Any]]]:
    """``list_events`` for several (user_id, after_seq) at once: one statement for the recipients' rows
    and one for the payloads they name, each payload read (and opened) once however many of them it
    reaches. A person's event_seqs have no gaps, so each asks for the range after_seq + 1 … after_seq +
    ``limit``; one whose rows do not start at after_seq + 1 (none yet, or the first ones removed by
    retention) is read on its own by ``list_events``."""
    if len(wants) == 1:
        user_id, after = wants[0]
        return {(user_id, after): list_events(s, user_id, after, limit)}
    rows = s.execute(
        select(UserEvent.user_id, UserEvent.event_seq, UserEvent.payload_id)
        .where(or_(*(and_(UserEvent.user_id == user_id, UserEvent.event_seq > after,
                          UserEvent.event_seq <= after + limit) for user_id, after in wants)))
        .order_by(UserEvent.user_id, UserEvent.event_seq)
    ).all()
    by_user: dict[int, list[tuple[int, int]]] = {}
    for user_id, seq, payload_id in rows:
        by_user.setdefault(user_id, []).append((seq, payload_id))
    ids = sorted({payload_id for _u, _s, payload_id in rows})
    bodies: dict[int, Any] = {}
    for i in range(0, len(ids), 1000):
        bodies.update((pid, body) for pid, body in s.execute(
            select(EventPayload.id, EventPayload.body).where(EventPayload.id.in_(ids[i:i + 1000]))))
    out: dict[tuple[int, int], list[tuple[int, Any]]] = {}
    for user_id, after in wants:
        mine = [(seq, payload_id) for seq, payload_id in by_user.get(user_id, ())
                if after < seq <= after + limit]
        if not mine or mine[0][0] != after + 1 or any(pid not in bodies for _seq, pid in mine):
            out[(user_id, after)] = list_events(s, user_id, after, limit)
        else:
            out[(user_id, after)] = [(seq, bodies[pid]) for seq, pid in mine]
    return out


def delete_before(s: Session, cutoff: datetime) -> int:
    """Delete the payloads created before ``cutoff`` and every recipient's row naming them; the number of
    recipients' rows deleted."""
    old = select(EventPayload.id).where(EventPayload.created_at < cutoff)
    n = affected(s.execute(delete(UserEvent).where(UserEvent.payload_id.in_(old)))) or 0
    s.execute(delete(EventPayload).where(EventPayload.created_at < cutoff))
    return n

