"""The WebSocket hub: pushes each user's events in event_seq order, exactly once per connection.

Wake-ups from the bus carry (user, event_seq) pairs and the payload serialised once. A connection
delivers an event when it is the next one it expects. An event ahead of that is held for up to
REORDER_SECONDS: with several writers (``--workers N``, several nodes) two commits' wake-ups often
arrive in the other order, and the missing one fills the gap a few milliseconds later, so the held
events follow it without reading anything. A gap that outlasts the window (a missed wake-up), or a
resume, reads the rows from the database until the connection has caught up. A connection whose queue passes the limit is
closed (4008) so a slow client never slows the others or grows memory; it reconnects and resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket

from mixun import metrics
from mixun.realtime.presence import LocalPresence
from mixun.services import auth, events
from mixun.services.runtime import Ctx

log = logging.getLogger("mixun.hub")
CATCHUP_BATCH = 500
READ_USERS = 100  # catch-ups served by one read at most
CLOSE_IDLE = 4002  # the session idled out (no request and no frame of the client's own)
CLOSE_LOCKED = 4023  # the session was locked (lock screen); the client reconnects after unlocking
REORDER_SECONDS = 0.1  # how long an event ahead of a gap waits for the gap's wake-up before the rows are read
REORDER_MAX = 256  # events held ahead of a gap at most; one more reads the rows at once
WATCH_SECONDS = 0.5  # how often the revocation epoch is read, and so how soon a revocation elsewhere lands


def frame(seq: int, payload: str) -> str:
    if seq <= 0:
        return payload
    return f'{{"event_seq":{seq},{payload[1:]}'


class Connection:
    __slots__ = ("ws", "user_id", "session_id", "next_seq", "queue", "writer", "catching_up", "live_max",
                 "closed", "hub", "direct", "pending", "ahead", "reorder")

    def __init__(self, hub: Hub, ws: WebSocket, user_id: int, session_id: int, next_seq: int) -> None:
        self.hub = hub
        self.ws = ws
        self.user_id = user_id
        self.session_id = session_id
        self.next_seq = next_seq
        self.queue: deque[str] | None = None  # made on the first frame, dropped when drained
        self.writer: asyncio.Task[None] | None = None
        self.catching_up = False
        self.live_max = 0
        self.closed = False
        # The server's protocol object when it can write a frame at once (mixun.api.wsproto).
        proto = getattr(ws._send, "__self__", None)  # noqa: SLF001
        self.direct: Callable[[list[bytes]], bool] | None = getattr(proto, "send_texts_now", None)
        # Frames for the direct path gathered during one turn of the event loop, written together at
        # its end (Hub.flush): a batch of sends to a group is one write per socket, not one per message.
        self.pending: list[bytes] | None = None
        # Events that arrived ahead of a gap (seq -> payload, tail), held for the gap's own wake-up, and
        # the timer that gives up on it (start_catchup); both None while there is no gap.
        self.ahead: dict[int, tuple[str, bytes | None]] | None = None
        self.reorder: asyncio.TimerHandle | None = None

    def offer(self, seq: int, payload: str, tail: bytes | None = None) -> None:
        """Deliver event ``seq`` (``payload``: its JSON object, without the event_seq) if it is the next
        this connection expects. ``tail``: the payload after its opening brace, UTF-8 encoded once for
        every recipient of the wake-up (Hub.on_bus), so a socket on the direct path costs one bytes
        formatting, not a string built and encoded per recipient."""
        if self.closed:
            return
        if seq <= 0:
            if tail is not None and self.queue is None and self.direct is not None:
                self._gather(b"{" + tail)
            else:
                self._enqueue(payload)
            return
        if self.catching_up:
            if seq > self.live_max:
                self.live_max = seq
            return
        if seq == self.next_seq:
            self.next_seq = seq + 1
            if tail is not None and self.queue is None and self.direct is not None:
                self._gather(b'{"event_seq":%d,%b' % (seq, tail))
            else:
                self._enqueue(frame(seq, payload))
            ahead = self.ahead
            if ahead is not None:  # the gap is filled: what waited behind it follows, in order
                while not self.closed and (held := ahead.pop(self.next_seq, None)) is not None:
                    self._deliver(self.next_seq, *held)
                if not ahead:
                    self._end_reorder()
            return
        if seq < self.next_seq:
            return
        if seq > self.live_max:
            self.live_max = seq
        ahead = self.ahead
        if ahead is None:
            ahead = self.ahead = {}
            self.reorder = asyncio.get_running_loop().call_later(REORDER_SECONDS, self._reorder_expired)
        elif len(ahead) >= REORDER_MAX:
            self.start_catchup()
            return
        ahead[seq] = (payload, tail)

    def _deliver(self, seq: int, payload: str, tail: bytes | None) -> None:
        self.next_seq = seq + 1
        if tail is not None and self.queue is None and self.direct is not None:
            self._gather(b'{"event_seq":%d,%b' % (seq, tail))
        else:
            self._enqueue(frame(seq, payload))

    def _end_reorder(self) -> None:
        self.ahead = None
        if self.reorder is not None:
            self.reorder.cancel()
            self.reorder = None

    def _reorder_expired(self) -> None:
        self.reorder = None
        if self.ahead:  # the gap's wake-up never came: read the rows (the held events among them)
            self.start_catchup()

    def send_now(self, text: str) -> None:
        self._enqueue(text)

    def _enqueue(self, text: str) -> None:
        # Nothing queued and a direct path: gather for this turn's flush, in order, without a task.
        if self.queue is None and self.direct is not None:
            self._gather(text.encode())
            return
        self._queue_text(text)

    def _gather(self, data: bytes) -> None:
        pending = self.pending
        if pending is None:
            pending = self.pending = []
            self.hub.mark(self)
        pending.append(data)

    def flush(self) -> None:
        """Write the frames gathered this turn at once when the socket takes them; otherwise they go to
        the queue (in order, ahead of anything later) and its writer waits for flow control."""
        frames, self.pending = self.pending, None
        if not frames or self.closed:
            return
        if self.queue is None and self.direct is not None and self.direct(frames):
            return
        for data in frames:
            if self.closed:  # dropped (4008) on the way: the rest is not kept
                break
            self._queue_text(data.decode())

    def _queue_text(self, text: str) -> None:
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        elif len(queue) >= self.hub.queue_limit:
            self.hub.drop(self, 4008, "too slow")
            return
        queue.append(text)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            while self.queue and not self.closed:
                await self.ws.send_text(self.queue.popleft())
        except Exception:
            self.hub.drop(self, 1011, "send failed")
        finally:
            self.writer = None
            if not self.queue:
                self.queue = None

    def start_catchup(self) -> None:
        """Read from the database what this connection owes (Hub.want_rows), then flow live again."""
        if self.ahead is not None:  # the rows read include what was held (live_max covers it)
            self._end_reorder()
        if self.catching_up or self.closed:
            return
        self.catching_up = True
        self.hub.want_rows(self)

    def take_rows(self, rows: list[tuple[int, str]]) -> bool:
        """Deliver ``rows`` (read after next_seq - 1); True when caught up, False to read again."""
        for seq, payload in rows:
            if seq >= self.next_seq:
                self.next_seq = seq + 1
                self._enqueue(frame(seq, payload))
        if self.closed or (len(rows) < CATCHUP_BATCH and self.live_max < self.next_seq):
            self.catching_up = False
            return True
        return False


class Hub:
    def __init__(self, ctx: Ctx, presence: LocalPresence, queue_limit: int = 1000) -> None:
        self.ctx = ctx
        self.presence = presence
        self.queue_limit = queue_limit
        self.by_user: dict[int, set[Connection]] = {}
        self.by_session: dict[int, set[Connection]] = {}
        self.on_presence: Callable[[int, bool], None] | None = None
        self._dirty: list[Connection] = []
        # Connections that are to read what they owe, served together (_read_rows): one thread hop and
        # two statements for all the catch-ups of a moment (a lost wake-up names a whole group; the
        # bus's resync names every connection), each payload read once.
        self._wanting: dict[Connection, None] = {}
        self._reader: asyncio.Task[None] | None = None

    def mark(self, conn: Connection) -> None:
        """``conn`` has frames to write at the end of this turn of the event loop."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self.flush)
        self._dirty.append(conn)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            try:
                conn.flush()
            except Exception:  # one broken socket never keeps the others' frames back
                log.exception("writing to a connection failed")
                self.drop(conn, 1011, "send failed")

    def read_events(self, wants: list[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[int, str]]]:
        """Each (user_id, after) -> that user's events after ``after`` (at most CATCHUP_BATCH), in order."""
        with self.ctx.rt.db.read() as s:
            return events.read_events_many(s, wants, CATCHUP_BATCH)

    def want_rows(self, conn: Connection) -> None:
        self._wanting[conn] = None
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_rows())

    async def _read_rows(self) -> None:
        try:
            while self._wanting:
                await asyncio.sleep(0)  # the catch-ups this turn starts join the read
                ready: dict[Connection, int] = {}
                for conn in list(self._wanting):
                    if conn.closed:
                        del self._wanting[conn]
                        conn.catching_up = False
                    elif not (conn.queue and len(conn.queue) > self.queue_limit // 2):  # else: its socket first
                        del self._wanting[conn]
                        ready[conn] = conn.next_seq - 1
                        if len(ready) >= READ_USERS:
                            break
                if not ready:
                    await asyncio.sleep(0.02)
                    continue
                try:
                    rows = await asyncio.to_thread(self.read_events, list(dict.fromkeys(
                        (conn.user_id, after) for conn, after in ready.items())))
                except Exception:
                    log.exception("catch-up failed")
                    for conn in ready:
                        conn.catching_up = False
                        self.drop(conn, 1011, "catch-up failed")
                    continue
                unseen = False
                for conn, after in ready.items():
                    if conn.closed:
                        conn.catching_up = False
                    elif conn.next_seq - 1 != after:  # a resume moved it back while reading: read again
                        self._wanting[conn] = None
                    else:
                        got = rows[(conn.user_id, after)]
                        try:
                            done = conn.take_rows(got)
                        except Exception:
                            log.exception("catch-up failed")
                            conn.catching_up = False
                            self.drop(conn, 1011, "catch-up failed")
                            continue
                        if not done:
                            self._wanting[conn] = None
                            unseen = unseen or not got
                if unseen:  # a wake-up named an event that cannot be read yet; look again shortly
                    await asyncio.sleep(0.05)
        finally:
            self._reader = None

    def last_seq(self, user_id: int) -> int:
        with self.ctx.rt.db.read() as s:
            return events.last_seq(s, user_id)

    def add(self, conn: Connection) -> None:
        metrics.WS_CONNECTIONS.inc()
        self.by_user.setdefault(conn.user_id, set()).add(conn)
        self.by_session.setdefault(conn.session_id, set()).add(conn)
        if self.presence.connected(conn.user_id) and self.on_presence:
            self.on_presence(conn.user_id, True)

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        conn._end_reorder()  # noqa: SLF001
        conns = self.by_user.get(conn.user_id)
        if conns and conn in conns:
            metrics.WS_CONNECTIONS.dec()
            conns.discard(conn)
            if not conns:
                del self.by_user[conn.user_id]
            sess = self.by_session.get(conn.session_id)
            if sess:
                sess.discard(conn)
                if not sess:
                    del self.by_session[conn.session_id]
            if self.presence.disconnected(conn.user_id) and self.on_presence:
                self.on_presence(conn.user_id, False)

    def drop(self, conn: Connection, code: int, reason: str) -> None:
        if conn.closed:
            return
        metrics.WS_DROPPED.labels(str(code)).inc()
        self.remove(conn)
        conn.queue = None
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().create_task(self._close(conn, code, reason))

    @staticmethod
    async def _close(conn: Connection, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, reason=reason)

    def on_bus(self, data: bytes) -> None:
        """Called on the event loop for every wake-up from any process."""
        try:
            msg: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        control = msg.get("control")
        if control:
            cache = auth.principal_cache(self.ctx.rt)
            cache.forget(session_ids=msg.get("session_ids", ()), user_ids=msg.get("user_ids", ()))
        if control == "sessions_revoked":
            idle = msg.get("reason") == "idle"
            for sid in msg.get("session_ids", []):
                for conn in list(self.by_session.get(sid, ())):
                    self.drop(conn, CLOSE_IDLE if idle else 4001, "session_idle" if idle else "session ended")
            return
        if control == "sessions_locked":  # nothing is delivered to a locked session
            for sid in msg.get("session_ids", []):
                for conn in list(self.by_session.get(sid, ())):
                    self.drop(conn, CLOSE_LOCKED, "session_locked")
            return
        if control:
            return
        by_user = self.by_user
        delivered = 0
        for wake in msg.get("wakes") or (msg,):
            payload = wake.get("payload")
            if not isinstance(payload, str):
                continue
            tail = payload[1:].encode()  # once per event, whatever the number of recipients
            for uid, seq in wake.get("recipients", ()):
                conns = by_user.get(uid)
                if conns:
                    for conn in tuple(conns):
                        conn.offer(seq, payload, tail)
                    if seq > 0:
                        delivered += len(conns)
        if delivered:  # counted once per wake-up, not per socket: a group's fan-out stays cheap
            metrics.DELIVERIES.inc(delivered)
            committed = msg.get("t")
            if isinstance(committed, float):
                metrics.DELIVERY_SECONDS.observe(max(0.0, time.time() - committed))

    def resync(self) -> None:
        """The bus connection came back: the wake-ups published while it was down are gone, so every
        connection reads what it owes from the database (the rows are the truth)."""
        for conns in tuple(self.by_user.values()):
            for conn in tuple(conns):
                conn.start_catchup()

    def connection_count(self) -> int:
        return sum(len(c) for c in self.by_user.values())


async def watch_sessions(hub: Hub, ctx: Ctx) -> None:
    """Make revocations and locks from any process (the CLI included) take effect here within
    WATCH_SECONDS, and close connections whose session idled out.

    The revocation epoch (one row every revocation, lock and account change moves) is read twice a
    second: when it moves, the session cache is dropped and the live connections' sessions are looked
    up once. Once a second, connections whose session saw no activity (a request or a frame of the
    client's own, in this process or written by another) for the idle limit are closed with 4002 and
    the session ended, as an HTTP request after that time would find it.
    """
    from datetime import UTC, datetime, timedelta

    rt = ctx.rt
    cache = auth.principal_cache(rt)
    epoch = await asyncio.to_thread(auth.read_epoch, rt)
    tick = 0
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        tick += 1
        try:
            now_epoch = await asyncio.to_thread(auth.read_epoch, rt)
            if now_epoch != epoch:
                epoch = now_epoch
                cache.clear()
                live = list(hub.by_session)
                if live:
                    alive, locked = await asyncio.to_thread(auth.session_states, ctx, live)
                    for sid in live:
                        code, reason = ((4001, "session ended") if sid not in alive else
                                        (CLOSE_LOCKED, "session_locked") if sid in locked else (0, ""))
                        if code:
                            for conn in list(hub.by_session.get(sid, ())):
                                hub.drop(conn, code, reason)
            if tick % 2:
                continue
            now = datetime.now(UTC)
            idle = timedelta(minutes=rt.settings.session_idle_minutes)
            suspects = [sid for sid in hub.by_session
                        if (seen := cache.last_activity(sid)) is None or seen + idle <= now]
            if suspects:
                for sid in await asyncio.to_thread(auth.expire_idle, ctx, suspects):
                    for conn in list(hub.by_session.get(sid, ())):
                        hub.drop(conn, CLOSE_IDLE, "session_idle")
            if tick % 120 == 0:
                cache.prune_seen(now - idle - timedelta(minutes=1))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session watch failed")
