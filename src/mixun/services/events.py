"""Per-user event streams: every event a user receives gets that user's next gap-free event_seq.

An event is serialised once (event_payloads) and referenced by one small row per recipient
(user_events). After commit, one wake-up naming (user, event_seq) pairs and carrying the payload goes
to the bus; processes push straight from it, and read the rows when they see a gap.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import orjson
from sqlalchemy.orm import Session

from mixun.db import bulk
from mixun.db.engine import on_commit
from mixun.db.sealed import Unreadable
from mixun.services import texts
from mixun.services.runtime import Ctx
from mixun.storage import events as stored_events

WAKE_BYTES = 256 * 1024
# (recipients, event type, body): one event to be emitted.
Event = tuple[Iterable[int], str, dict[str, Any]]


def _healed(r: bulk.Round, counts: Mapping[int, int], last: dict[int, int]) -> dict[int, int]:
    if len(last) == len(counts):  # the bump answered for everyone it was given (all counts are > 0)
        return last
    missing = sorted(uid for uid, n in counts.items() if n > 0 and uid not in last)
    if missing:  # users created before their counter row (should not happen; heal it)
        stored_events.insert_counters(r, {uid: counts[uid] for uid in missing})
        last.update({uid: counts[uid] for uid in missing})
    return last


def emit(session: Session, ctx: Ctx, recipients: Iterable[int], type_: str, body: dict[str, Any]) -> None:
    """Persist one event for every recipient and wake their connections after commit."""
    emit_many(session, ctx, [(recipients, type_, body)])


def emit_many(session: Session, ctx: Ctx, items: list[Event]) -> None:
    """Persist several events in one go: each recipient's events get consecutive event_seqs in the order
    of ``items``; one wake-up for all of them after commit."""
    deduped = [(list(dict.fromkeys(rcpts)), type_, body) for rcpts, type_, body in items]
    conn = session.connection()
    with bulk.Round(conn) as r:
        reserved = reserve(r, [rcpts for rcpts, _t, _b in deduped])
    with bulk.Round(conn) as r:
        write(r, session, ctx, reserved, deduped)


@dataclass
class Reserved:
    """The event_seqs and payload ids of events to come, known by their recipients only (a batch of sends
    reserves them alongside its messages' seqs and ids, then writes the events once their bodies exist)."""

    counts: Counter[int]
    last: bulk.Later[dict[int, int]]
    payload_ids: bulk.Later[list[int]]


def reserve(r: bulk.Round, recipients: list[list[int]]) -> Reserved:
    """In round ``r``: each recipient's event_seqs (one per event naming them) and one payload id per
    event that has recipients. ``recipients`` must be free of duplicates, as ``write`` gets them."""
    counts = Counter(chain.from_iterable(recipients))
    return Reserved(counts, stored_events.bump_counters(r, counts),
                    stored_events.reserve_payload_ids(r, sum(1 for rcpts in recipients if rcpts)))


def write(r: bulk.Round, session: Session, ctx: Ctx, reserved: Reserved, items: Sequence[Event]) -> None:
    """In round ``r``: the events ``reserved`` was made for (same recipients, same order), and their
    wake-up after commit."""
    events_ = [(list(rcpts), type_, body) for rcpts, type_, body in items]
    events_ = [e for e in events_ if e[0]]
    if not events_:
        return
    counts = reserved.counts
    last = _healed(r, counts, dict(reserved.last.value))
    # Each recipient's first seq of this batch, last - n + 1, column-wise (no Python step per recipient).
    next_seq = dict(zip(counts, map(int.__sub__, map(last.__getitem__, counts), map((1).__rsub__, counts.values())),
                        strict=True))
    payloads = [orjson.dumps({"type": type_, **body}).decode() for _r, type_, body in events_]
    payload_ids = reserved.payload_ids.value
    now = datetime.now(UTC)
    # A payload about a conversation may carry its text: stored sealed under that conversation's key.
    about = [conversation_of(body) for _r, _t, body in events_]
    stored = texts.seal_many(ctx.rt, [(cid, now, payload) if cid is not None else (0, now, "")
                                      for cid, payload in zip(about, payloads, strict=True)])
    stored = [s or p for s, p in zip(stored, payloads, strict=True)]
    stored_events.insert_payloads(r, payload_ids, [type_ for _r, type_, _b in events_], stored, now)
    users: list[int] = []
    seqs: list[int] = []
    refs: list[int] = []
    wakes: list[dict[str, Any]] = []
    for (rcpts, _t, _b), payload, payload_id in zip(events_, payloads, payload_ids, strict=True):
        # Recipients are distinct within an event (deduplicated by the caller), so each takes its next
        # seq and moves it on by one; done column-wise (map, zip) rather than a Python step per recipient,
        # which this loop was for every one of a group's members.
        mine = list(map(next_seq.__getitem__, rcpts))
        next_seq.update(zip(rcpts, map((1).__add__, mine), strict=True))
        seqs += mine
        users += rcpts
        refs += [payload_id] * len(rcpts)
        wakes.append({"recipients": list(zip(rcpts, mine, strict=True)), "payload": payload})
    stored_events.insert_user_events(r, users, seqs, refs)
    notify = ctx.rt.notify
    # One bus message for the whole batch (one publish, one parse and one loop wake-up in each process),
    # in parts of at most WAKE_BYTES of payload (NATS refuses messages over 1 MB by default).
    # "t": the commit's time, for the send-to-deliver latency each process's hub measures (mixun.metrics).
    on_commit(session, lambda: [notify({**part[0], "t": time.time()} if len(part) == 1 else
                                       {"wakes": part, "t": time.time()}) for part in _parts(wakes)])


def conversation_of(body: Mapping[str, Any]) -> int | None:
    """The conversation an event is about (its payload may carry that conversation's text), if any."""
    cid = body.get("conversation_id")
    if isinstance(cid, int):
        return cid
    conv = body.get("conversation")
    return conv.get("id") if isinstance(conv, dict) and isinstance(conv.get("id"), int) else None


def _parts(wakes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    parts: list[list[dict[str, Any]]] = [[]]
    size = 0
    for wake in wakes:
        n = 3 * len(wake["payload"]) + 16 * len(wake["recipients"])  # UTF-8 at most 3 bytes a character here
        if parts[-1] and size + n > WAKE_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(wake)
        size += n
    return parts


def read_events(session: Session, user_id: int, after_seq: int, limit: int = 500) -> list[tuple[int, str]]:
    """(event_seq, payload json) for one user after ``after_seq``, in order."""
    # A payload whose data key retention destroyed is no longer an event anyone can be sent.
    return [(seq, body) for seq, body in stored_events.list_events(session, user_id, after_seq, limit)
            if not isinstance(body, Unreadable)]


def read_events_many(session: Session, wants: Sequence[tuple[int, int]],
                     limit: int = 500) -> dict[tuple[int, int], list[tuple[int, str]]]:
    """``read_events`` for several (user_id, after_seq) at once (the hub's catch-ups of one moment):
    two statements, each payload read once."""
    return {key: [(seq, body) for seq, body in rows if not isinstance(body, Unreadable)]
            for key, rows in stored_events.list_events_many(session, wants, limit).items()}


def last_seq(session: Session, user_id: int) -> int:
    return int(stored_events.find_last_seq(session, user_id) or 0)


def ephemeral(ctx: Ctx, recipients: Iterable[int], type_: str, body: dict[str, Any]) -> None:
    """A live-only notice (no event_seq, not replayed), e.g. connection-driven presence."""
    ids = list(set(recipients))
    if ids:
        ctx.rt.notify({"recipients": [[uid, 0] for uid in ids],
                       "payload": orjson.dumps({"type": type_, **body}).decode()})
