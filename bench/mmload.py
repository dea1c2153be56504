"""Mattermost's user behaviour model against Mixun: how many concurrently active users one box carries.
`python -m bench.mmload [--start 1000] [--step 1000] [--max 8000] [--window 60]`.

The model is the one of Mattermost's load-test agent (mattermost-load-test-ng), its "simulative"
user controller:
- each active user waits an idle time drawn uniformly from [MinIdleTimeMs, 2·AvgIdleTimeMs −
  MinIdleTimeMs) = [1 s, 39 s) between actions, 20 s on average (defaults of
  ``loadtest/control/simulcontroller/config.go``; ``control.PickIdleTimeMs``), so 3 actions a minute;
- each action is drawn with the weights of ``getActionList`` in
  ``loadtest/control/simulcontroller/controller.go`` (ACTIONS below keeps Mattermost's names and
  weights, and says what each becomes in Mixun);
- a post is preceded by a typing event (``createPost`` calls ``sendTypingEventIfEnabled``) and 18 % of
  posts are replies (``PercentReplies`` 0.18);
- every 60 s each user fetches its contacts' statuses (``periodic.go``, getUsersStatusesByIds);
- every user holds a WebSocket for the whole run.

The coordinator adds users while the system is healthy and stops at the first threshold that trips.
Its health queries (``config/coordinator.sample.json``, MonitorConfig, each over a 60 s window): 5xx
server errors < 0.025 % of requests, average client request time < 100 ms, p99 client request time
< 2 s, client timeouts < 0.025 %, app-node CPU < 85 %. Here: the same request bounds over every HTTP
request the users make; the CPU bound applied to the server's process tree plus the PostgreSQL
backends of its database against the box's 2 cores (this box is app node and database node at once);
and a WebSocket delivery bound Mattermost's sample does not have: every post reaches each connected
member's socket (≥ 99.9 %) with p99 < 2 s. A step adds users (they log in as the web client does:
``GET /me``, ``GET /conversations``, a WebSocket with a resume), waits ``--warmup`` seconds (their
first idle times run out), then holds ``--window`` seconds and is judged on that window, its posts'
frames given ``--grace`` seconds more (``Deliveries``: who is owed what, late and missing frames).

Users are in two groups of 50 each (blocks of 50 and blocks of 50 shifted by 25), so each user sees two
channels, as Mattermost's sample instance gives each user several.

The generators run on the same 2 cores as the server (GENERATORS processes, asyncio + uvloop, HTTP and
WebSocket frames by hand as ``bench.latency`` does); their CPU is measured from /proc and reported
per step next to the server's, so what the generator took from the box is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common

GENERATORS = 2
MIN_IDLE_S, AVG_IDLE_S = 1.0, 20.0
PERCENT_REPLIES = 0.18
STATUS_POLL_S = 60.0
REQUEST_TIMEOUT_S = 10.0
GROUP = 50

# Thresholds (coordinator.sample.json) and the delivery bound.
MAX_5XX_PERCENT = 0.025
MAX_TIMEOUT_PERCENT = 0.025
MAX_AVG_REQUEST_S = 0.1
MAX_P99_REQUEST_S = 2.0
MAX_CPU_PERCENT_OF_BOX = 85.0
MIN_DELIVERED = 0.999
MAX_P99_DELIVERY_S = 2.0
GRACE_S = 10.0  # after a window closes its posts' deliveries may still arrive this long, and count late


@dataclass(frozen=True)
class Action:
    name: str  # Mattermost's name
    weight: float  # Mattermost's frequency
    mixun: str  # what it becomes here (one of the handlers of _User), "" = no counterpart, skipped


# loadtest/control/simulcontroller/controller.go, getActionList (weights as published there).
ACTIONS: tuple[Action, ...] = (
    Action("SwitchChannel", 6.5219, "view_channel"),
    Action("ScrollChannel", 1.9873, "scroll"),
    Action("OpenDirectOrGroupChannel", 0.9843, "view_channel"),
    Action("UnreadCheck", 1.0, "list_conversations"),
    Action("CreatePost", 1.0, "post"),
    Action("JoinChannel", 0.0049, ""),
    Action("SearchChannels", 0.0150, "list_conversations"),
    Action("AddReaction", 0.1306, "react"),
    Action("FullReload", 0.0008, "login"),
    Action("CreateDirectChannel", 0.0055, ""),
    Action("LogoutLogin", 0.0006, ""),
    Action("SearchUsers", 0.0320, "search_users"),
    Action("SearchPosts", 0.0218, "search_posts"),
    Action("CreatePostReminder", 0.0005, ""),
    Action("EditPost", 0.0400, "edit"),
    Action("DeletePost", 0.0049, "recall"),
    Action("UpdateCustomStatus", 0.0028, "status"),
    Action("RemoveCustomStatus", 0.0026, "status"),
    Action("CreateSidebarCategory", 0.0001, ""),
    Action("UpdateSidebarCategory", 0.0040, ""),
    Action("SearchGroupChannels", 0.0204, "list_conversations"),
    Action("CreateGroupChannel", 0.0029, ""),
    Action("CreatePrivateChannel", 0.0002, ""),
    Action("CreatePublicChannel", 0.0001, ""),
    Action("ViewGlobalThreads", 0.6023, "list_conversations"),
    Action("FollowThread", 0.0005, ""),
    Action("UnfollowThread", 0.0050, ""),
    Action("ViewThread", 0.2841, "scroll"),
    Action("MarkAllThreadsInTeamAsRead", 0.0001, ""),
    Action("UpdateThreadRead", 0.3236, "mark_read"),
    Action("CreateAclPost", 0.0001, ""),
    Action("AckToPost", 0.0001, ""),
    Action("CreatePersistentNotificationPost", 0.0001, ""),
    Action("ClickUserProfile", 0.03, "profile"),
    Action("ClickPermalink", 0.3, "scroll"),
    Action("ReconnectWebSocket", 0.144, "reconnect"),
    Action("GenerateUserReport", 0.0001, ""),
    Action("surveyConnectAPI", 0.01, ""),
    Action("SubmitPartialResponse", 0.05, ""),
    Action("SubmitCompleteResponse", 0.05, ""),
)


def pick_idle(rnd: random.Random) -> float:
    """Seconds until the next action: uniform in [min, 2·avg − min) (PickIdleTimeMs), mean avg."""
    return rnd.uniform(MIN_IDLE_S, 2 * AVG_IDLE_S - MIN_IDLE_S)


def pick_action(rnd: random.Random, actions: tuple[Action, ...] = ACTIONS) -> Action:
    """One action, drawn with Mattermost's weights (pickAction: weighted by frequency)."""
    return rnd.choices(actions, weights=[a.weight for a in actions])[0]


def expected_per_minute(actions: tuple[Action, ...] = ACTIONS) -> dict[str, float]:
    """What one active user does per minute on average under the model, by Mixun handler (the model's
    3 actions a minute, plus the status poll and each post's typing event)."""
    total = sum(a.weight for a in actions)
    per_min = 60.0 / AVG_IDLE_S
    out: dict[str, float] = {}
    for a in actions:
        key = a.mixun or "skipped"
        out[key] = out.get(key, 0.0) + per_min * a.weight / total
    out["typing"] = out.get("post", 0.0)
    out["status_poll"] = 60.0 / STATUS_POLL_S
    return {k: round(v, 4) for k, v in sorted(out.items())}


def groups_of(n_users: int, size: int = GROUP) -> list[list[int]]:
    """Each user in two groups: blocks of ``size`` and blocks of ``size`` shifted by half of it."""
    blocks = [list(range(s, s + size)) for s in range(0, n_users - size + 1, size)]
    half = size // 2
    shifted = [list(range(s, s + size)) for s in range(half, n_users - size + 1, size)]
    return blocks + shifted


def request_kind(method: str, path: str) -> str:
    """The request's class for the per-request figures: "GET messages" for a history page, etc."""
    parts = [p for p in path.split("?", 1)[0].split("/")[3:] if not p.isdigit()]
    return f"{method} {'/'.join(parts)}"


def active_members(members: list[int], active: int) -> int:
    """Members connected when the first ``active`` users (by index) are in the run."""
    return sum(1 for m in members if m < active)


class Deliveries:
    """Every post and every frame that carried it, kept until the post is judged: a post sent inside a
    window is judged ``GRACE_S`` after the window closed, against the members whose first connection
    had said hello before the post was sent (members connected later are not owed it; a member that was
    reconnecting is, through its resume). A frame that arrives late counts with its latency (against the
    p99 bound); one that has not arrived by the judgement counts as missing, and is watched for until the
    run ends, so the report says whether it came later (and how late) or never."""

    def __init__(self, members_of: dict[int, list[int]]) -> None:
        self.members_of = members_of
        self.posts: dict[str, tuple[int, float, int]] = {}  # post id -> (conversation, send time, sender)
        self.got: dict[str, dict[int, float]] = {}  # post id -> {user: seconds since the send}
        self.connected: dict[int, float] = {}  # user -> when its first connection said hello
        self.reconnects: dict[int, list[tuple[float, float]]] = {}
        self.missing: dict[tuple[str, int], dict[str, Any]] = {}  # (post, user) judged missing

    def add(self, out: dict[str, Any]) -> None:
        for pid, conv, sent_at, sender in out["posts"]:
            self.posts[pid] = (conv, sent_at, sender)
        for pid, user, lat in out["arrivals"]:
            if (pid, user) in self.missing:  # judged missing earlier: it came after all
                self.missing[(pid, user)]["arrived_after_s"] = round(lat, 3)
                continue
            self.got.setdefault(pid, {}).setdefault(user, lat)  # a duplicate (a resume) counts once
        for user, at in out["connected"]:
            self.connected.setdefault(user, at)
        for user, closed, hello in out["reconnects"]:
            self.reconnects.setdefault(user, []).append((closed, hello))

    def judge(self, w0: float, w1: float) -> dict[str, Any]:
        """Judge the posts sent in [w0, w1); forget those sent before w0 (the warm-up's)."""
        expected = delivered = 0
        lat: list[float] = []
        missed: list[dict[str, Any]] = []
        judged = 0
        for pid in [p for p, (_c, at, _s) in self.posts.items() if at < w1]:
            conv, at, sender = self.posts.pop(pid)
            got = self.got.pop(pid, {})
            if at < w0:
                continue
            judged += 1
            for m in self.members_of[conv]:
                since = self.connected.get(m)
                if since is None or since > at:
                    continue
                expected += 1
                if m in got:
                    delivered += 1
                    lat.append(got[m])
                    continue
                near = [(round(c - at, 3), round(h - at, 3)) for c, h in self.reconnects.get(m, ())
                        if c - 30 <= at <= h + 30]
                info = {"post": pid, "conversation": conv, "user": m, "sender": sender,
                        "sent_s_into_window": round(at - w0, 3), "reconnects_near_send": near}
                self.missing[(pid, m)] = info
                missed.append(info)
        for pid in [p for p in self.got if p not in self.posts]:  # frames of posts never recorded (warm-up)
            del self.got[pid]
        return {"posts_judged": judged, "expected_deliveries": expected, "deliveries": delivered,
                "delivered_fraction": round(delivered / expected, 5) if expected else 1.0,
                "delivery_ms": common.summary_ms(lat), "missing": missed[:40], "missing_count": len(missed)}


# --- the generator process ------------------------------------------------------------------------

@dataclass
class _User:
    idx: int
    gidx: int  # the user's index in the whole run (groups_of numbers members by it)
    token: str
    convs: list[int]
    rnd: random.Random
    cur: int = 0
    last_seq: dict[int, int] = field(default_factory=dict)
    recent: list[int] = field(default_factory=list)  # message ids seen (reactions)
    recent_in: dict[int, list[int]] = field(default_factory=dict)  # by conversation (replies)
    mine: list[int] = field(default_factory=list)  # own message ids (edit, recall)
    event_seq: int = 0
    connected: bool = False  # a hello was seen once: from then on reconnects resume from event_seq
    stream: tuple[Any, Any] | None = None
    sock: Any = None


NEWEST_PAGE = "&before_seq=2147483647"  # what the web client asks when it opens a conversation (threads.ts)


def _generator(port: int, users: list[tuple[int, str, list[int]]], gid: int, conn: Any,
               oldest_page: bool = False) -> None:
    import orjson
    import uvloop

    from bench.latency import _Socket, stamp_text, stamp_value
    from bench.peers.load import request

    async def main() -> None:
        loop = asyncio.get_running_loop()
        window: dict[str, Any] = {}
        posts: list[tuple[str, int, float, int]] = []  # (post id, conversation, monotonic send time, sender)
        arrivals: list[tuple[str, int, float]] = []  # (post id, receiving user, seconds since the send)
        # (user, monotonic time): when a user's first connection said hello (posts sent after it must
        # reach it), and when each reconnect closed and said hello again (the missing ones are checked
        # against these)
        connected: list[tuple[int, float]] = []
        reconnects: list[tuple[int, float, float]] = []
        state = {"ws_errors": 0, "stopping": False, "counter": 0}

        def reset() -> None:
            window.clear()
            window.update({"lat": [], "by_action": {}, "by_request": {}, "status": {}, "timeouts": 0, "refused": {}})

        reset()

        def record(action: str, seconds: float, status: str, kind: str = "") -> None:
            window["lat"].append(seconds)
            window["by_request"].setdefault(kind or action, []).append(seconds)
            a = window["by_action"].setdefault(action, [0, 0.0])
            a[0] += 1
            a[1] += seconds
            window["status"][status] = window["status"].get(status, 0) + 1
            if not status.startswith(("2", "101")):
                key = f"{action} {status}"
                window["refused"][key] = window["refused"].get(key, 0) + 1

        async def call(u: _User, action: str, method: str, path: str, body: Any = None) -> tuple[str, Any]:
            data = None if body is None else orjson.dumps(body)
            t0 = time.monotonic()
            for attempt in (0, 1):
                try:
                    if u.stream is None:
                        u.stream = await asyncio.open_connection("127.0.0.1", port)
                    code, raw = await asyncio.wait_for(request(*u.stream, method, path, u.token, data),
                                                       REQUEST_TIMEOUT_S)
                except TimeoutError:
                    u.stream[1].close() if u.stream else None
                    u.stream = None
                    window["timeouts"] += 1
                    record(action, time.monotonic() - t0, "timeout", request_kind(method, path))
                    return "timeout", None
                except (ConnectionError, asyncio.IncompleteReadError, OSError):
                    code, raw = "eof", b""
                if code == "eof" and attempt == 0:  # an idle keep-alive the server closed: reconnect
                    if u.stream:
                        u.stream[1].close()
                    u.stream = None
                    continue
                break
            record(action, time.monotonic() - t0, code, request_kind(method, path))
            if code == "eof" and u.stream:
                u.stream[1].close()
                u.stream = None
            with contextlib.suppress(Exception):
                return code, orjson.loads(raw) if raw else None
            return code, None

        def note_messages(u: _User, conv: int, body: Any) -> None:
            if not isinstance(body, dict):
                return
            here = u.recent_in.setdefault(conv, [])
            for m in body.get("messages", ()):
                u.last_seq[conv] = max(u.last_seq.get(conv, 0), int(m.get("seq", 0)))
                u.recent.append(int(m["id"]))
                here.append(int(m["id"]))
            del u.recent[:-20]
            del here[:-20]

        async def connect_ws(u: _User) -> list[float]:
            def on_text(raw: bytes) -> None:
                now = time.monotonic_ns()
                msg = orjson.loads(raw)
                if msg.get("type") == "hello":
                    # As the web client (state/realtime.ts): the first hello's counter is where the user
                    # starts; on a reconnect the user resumes from the last event it had, and the hello's
                    # counter (the server's newest) must not move it, or what was sent while it was
                    # away would be skipped.
                    if not u.connected:
                        u.event_seq = int(msg.get("last_event_seq") or 0)
                        u.connected = True
                        connected.append((u.gidx, now / 1e9))
                    else:
                        hello_at.append(now / 1e9)
                    sock.send(0x1, orjson.dumps({"type": "resume", "after_event_seq": u.event_seq}))
                    return
                seq = msg.get("event_seq")
                if isinstance(seq, int):
                    u.event_seq = max(u.event_seq, seq)
                if msg.get("type") == "message.created":
                    m = msg["message"]
                    u.recent.append(int(m["id"]))
                    if len(u.recent) > 40:
                        del u.recent[:-20]
                    here = u.recent_in.setdefault(int(m["conversation_id"]), [])
                    here.append(int(m["id"]))
                    if len(here) > 40:
                        del here[:-20]
                    text = m.get("text", "")
                    if text.startswith("m:"):
                        _m, stamp, rest = text.split(":", 2)
                        arrivals.append((rest.split(" ", 1)[0], u.gidx, (now - stamp_value(stamp)) / 1e9))

            def on_close() -> None:
                if not state["stopping"] and u.sock is not None and u.sock is sock:
                    state["ws_errors"] += 1

            hello_at: list[float] = []
            _t, sock = await loop.create_connection(lambda: _Socket(on_text, on_close), "127.0.0.1", port)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.transport.write(
                f"GET /api/v1/ws?token={u.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode())
            await asyncio.wait_for(sock.handshake, 60)
            u.sock = sock
            return hello_at

        async def view_channel(u: _User, action: str) -> None:
            others = [c for c in u.convs if c != u.cur] or u.convs
            u.cur = u.rnd.choice(others)
            # Mattermost's client opens a channel at its newest posts, as Mixun's web client does
            # (loadLatest: before_seq past the end); without before_seq Mixun answers the oldest page,
            # which the harness asked before (--oldest-page keeps that for comparison).
            page = "" if oldest_page else NEWEST_PAGE
            code, body = await call(u, action, "GET", f"/api/v1/conversations/{u.cur}/messages?limit=30{page}")
            note_messages(u, u.cur, body)
            await mark_read(u, action)

        async def mark_read(u: _User, action: str) -> None:
            seq = u.last_seq.get(u.cur, 0)
            if seq:
                await call(u, action, "POST", f"/api/v1/conversations/{u.cur}/read", {"seq": seq})

        async def scroll(u: _User, action: str) -> None:
            top = u.last_seq.get(u.cur, 0)
            before = f"&before_seq={max(1, top - u.rnd.randint(1, 60))}" if top > 1 else ""
            code, body = await call(u, action, "GET", f"/api/v1/conversations/{u.cur}/messages?limit=30{before}")
            note_messages(u, u.cur, body)

        async def post(u: _User, action: str) -> None:
            state["counter"] += 1
            pid = f"{gid}x{state['counter']}"
            await call(u, "Typing", "PUT", f"/api/v1/drafts/{u.cur}", {"text": "正在输入"})
            body: dict[str, Any] = {"client_id": f"mm{pid}"}
            targets = u.recent_in.get(u.cur)
            if targets and u.rnd.random() < PERCENT_REPLIES:
                body["reply_to"] = u.rnd.choice(targets)
            words = " ".join(u.rnd.choice(("报表", "客户", "审批", "收到", "明天", "会议", "已处理", "请查看"))
                             for _ in range(u.rnd.randint(1, 12)))
            sent_at = time.monotonic()
            body["text"] = f"m:{stamp_text(time.monotonic_ns())}:{pid} {words}"
            code, out = await call(u, action, "POST", f"/api/v1/conversations/{u.cur}/messages", body)
            if code == "201" and isinstance(out, dict):
                posts.append((pid, u.cur, sent_at, u.gidx))
                mid = out.get("id") or out.get("message", {}).get("id")
                if mid:
                    u.mine.append(int(mid))
                    del u.mine[:-10]

        async def react(u: _User, action: str) -> None:
            if u.recent:
                await call(u, action, "POST", f"/api/v1/messages/{u.rnd.choice(u.recent)}/reactions",
                           {"emoji": u.rnd.choice(("👍", "收到", "OK")), "on": True})

        async def edit(u: _User, action: str) -> None:
            if u.mine:
                await call(u, action, "PATCH", f"/api/v1/messages/{u.mine[-1]}", {"text": "已更正：请以此为准"})

        async def recall(u: _User, action: str) -> None:
            if u.mine:
                await call(u, action, "POST", f"/api/v1/messages/{u.mine.pop()}/recall", {})

        async def list_conversations(u: _User, action: str) -> None:
            await call(u, action, "GET", "/api/v1/conversations")

        async def search_users(u: _User, action: str) -> None:
            await call(u, action, "GET", f"/api/v1/directory/users?q=%E6%B5%8B%E8%AF%95{u.rnd.randint(1, 99)}")

        async def search_posts(u: _User, action: str) -> None:
            await call(u, action, "GET", "/api/v1/search/messages?q=%E6%8A%A5%E8%A1%A8")

        async def profile(u: _User, action: str) -> None:
            await call(u, action, "GET", f"/api/v1/directory/users/{u.rnd.choice(all_ids)}")

        async def status(u: _User, action: str) -> None:
            await call(u, action, "PATCH", "/api/v1/me", {"status": u.rnd.choice(("busy", "meeting", "available"))})

        async def reconnect(u: _User, action: str) -> None:
            old, u.sock = u.sock, None
            if old is not None:
                old.transport.close()
            t0 = time.monotonic()
            try:
                hello_at = await connect_ws(u)
                record(action, time.monotonic() - t0, "101")
                for _ in range(100):  # the hello (and so the resume) follows the handshake
                    if hello_at:
                        break
                    await asyncio.sleep(0.01)
                reconnects.append((u.gidx, t0, hello_at[0] if hello_at else time.monotonic()))
            except Exception:
                state["ws_errors"] += 1
                record(action, time.monotonic() - t0, "ws-failed")

        async def login(u: _User, action: str) -> None:
            await call(u, action, "GET", "/api/v1/me")
            await call(u, action, "GET", "/api/v1/conversations")
            await call(u, action, "GET", "/api/v1/presence")

        handlers = {"view_channel": view_channel, "scroll": scroll, "post": post, "react": react, "edit": edit,
                    "recall": recall, "list_conversations": list_conversations, "search_users": search_users,
                    "search_posts": search_posts, "profile": profile, "status": status,
                    "reconnect": reconnect, "mark_read": mark_read, "login": login}

        async def life(u: _User) -> None:
            await asyncio.sleep(pick_idle(u.rnd))
            next_poll = time.monotonic() + u.rnd.uniform(0, STATUS_POLL_S)
            while True:
                action = pick_action(u.rnd)
                if action.mixun:
                    await handlers[action.mixun](u, action.name)
                if time.monotonic() >= next_poll:
                    next_poll += STATUS_POLL_S
                    await call(u, "GetUsersStatuses", "GET", "/api/v1/presence")
                await asyncio.sleep(pick_idle(u.rnd))

        all_ids = [uid for uid, _t, _c in users]
        people = [_User(i, gid + i * GENERATORS, tok, convs, random.Random(i), cur=convs[0])
                  for i, (_uid, tok, convs) in enumerate(users)]
        running: list[asyncio.Task[None]] = []
        sem = asyncio.Semaphore(64)

        async def start(u: _User) -> None:
            async with sem:
                await login(u, "Login")
                await connect_ws(u)

        while True:
            cmd, arg = await asyncio.to_thread(conn.recv)
            if cmd == "grow":
                new = people[len(running):arg]
                t0 = time.monotonic()
                await asyncio.gather(*(start(u) for u in new), return_exceptions=True)
                running.extend(asyncio.create_task(life(u)) for u in new)
                reset()
                conn.send(("grown", {"users": len(running), "seconds": time.monotonic() - t0}))
            elif cmd == "flush":
                out = {"lat": window["lat"], "by_action": window["by_action"], "by_request": window["by_request"],
                       "status": window["status"],
                       "timeouts": window["timeouts"], "refused": window["refused"], "posts": posts[:], "arrivals": arrivals[:],
                       "connected": connected[:], "reconnects": reconnects[:], "ws_errors": state["ws_errors"]}
                for kept in (posts, arrivals, connected, reconnects):
                    kept.clear()
                state["ws_errors"] = 0
                reset()
                conn.send(("flushed", out))
            elif cmd == "stop":
                state["stopping"] = True
                for t in running:
                    t.cancel()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), 10)
                for u in people:
                    if u.sock is not None:
                        u.sock.transport.close()
                    if u.stream is not None:
                        u.stream[1].close()
                conn.send(("stopped", None))
                return

    uvloop.install()
    asyncio.run(main())


# --- the coordinator ---------------------------------------------------------------------------------

def _recv(conn: Any, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("generator process did not answer")
    return conn.recv()


def _sum_counts(parts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0) + v
    return out


def db_connections(dbname: str) -> int:
    """PostgreSQL backends connected to ``dbname`` (their process titles name it)."""
    n = 0
    for d in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
            if cmd.startswith(b"postgres: ") and f" {dbname} ".encode() in cmd:
                n += 1
    return n


def db_footprint(url: str) -> dict[str, Any]:
    """The database's size and what it holds: bytes per stored message, fan-out rows included."""
    import psycopg

    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        tables = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 2 DESC LIMIT 8").fetchall()
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]  # type: ignore[index]
        events = conn.execute("SELECT count(*) FROM user_events").fetchone()[0]  # type: ignore[index]
    return {"database_mb": round(size / 2**20, 1), "messages": messages, "user_event_rows": events,
            "largest_tables_mb": {name: round(b / 2**20, 1) for name, b in tables}}


def judge(step: dict[str, Any], cores: int) -> list[str]:
    """The thresholds that tripped in a step (empty: healthy)."""
    tripped = []
    if step["server_5xx_percent"] >= MAX_5XX_PERCENT:
        tripped.append("5xx")
    if step["timeout_percent"] >= MAX_TIMEOUT_PERCENT:
        tripped.append("timeouts")
    if step["request_ms"]["avg"] >= MAX_AVG_REQUEST_S * 1000:
        tripped.append("avg request time")
    if step["request_ms"]["p99"] >= MAX_P99_REQUEST_S * 1000:
        tripped.append("p99 request time")
    if step["server_and_db_cpu_percent"] >= MAX_CPU_PERCENT_OF_BOX * cores:
        tripped.append("CPU")
    if step["posts_judged"] and step["delivered_fraction"] < MIN_DELIVERED:
        tripped.append("WebSocket delivered fraction")
    if step["posts_judged"] and step["delivery_ms"]["p99"] >= MAX_P99_DELIVERY_S * 1000:
        tripped.append("WebSocket delivery p99")
    return tripped


def server_drops(port: int) -> dict[str, float]:
    """The server's own count of the WebSocket connections it closed, by close code (/metrics)."""
    import urllib.request

    out: dict[str, float] = {}
    with contextlib.suppress(Exception), urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("mixun_websocket_dropped_total{"):
                code = line.split('reason="', 1)[1].split('"', 1)[0]
                out[code] = out.get(code, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def run(start: int, step_users: int, max_users: int, window: float, backend: str = "postgres",
        workers: int = 1, warmup: float = 20.0, grace: float = GRACE_S, oldest_page: bool = False) -> dict[str, Any]:
    from bench.peers.load import db_backend_cpu, rss_tree_kb

    ctx = mp.get_context("spawn")
    cores = os.cpu_count() or 2
    res: dict[str, Any] = {"model_per_user_per_minute": expected_per_minute(), "window_seconds": window,
                           "warmup_seconds": warmup, "grace_seconds": grace,
                           "switch_channel_page": "oldest" if oldest_page else "newest",
                           "backend": backend, "server_processes": workers, "steps": []}
    with common.environment(backend, "mmload", **common.bus_for(workers)) as env:
        rt = common.runtime(env)
        t0 = time.monotonic()
        ids = common.bulk_users(rt, max_users, prefix="m")
        tokens = common.bulk_sessions(rt, ids)
        from mixun.services.conversations import create_conversation

        member_lists = groups_of(max_users)
        convs: list[int] = []
        for g, members in enumerate(member_lists):
            view = create_conversation(common.principal_ctx(rt, ids[members[0]]), "group",
                                       [ids[m] for m in members[1:]], f"负载群{g}")
            convs.append(int(view["id"]))
        rt.db.dispose()
        conv_of_user: dict[int, list[int]] = {}
        for cid, members in zip(convs, member_lists, strict=True):
            for m in members:
                conv_of_user.setdefault(m, []).append(cid)
        members_of = dict(zip(convs, member_lists, strict=True))
        res["setup_seconds"] = round(time.monotonic() - t0, 1)
        res["groups"] = len(convs)
        users = [(ids[i], tokens[i], conv_of_user.get(i) or [convs[0]]) for i in range(max_users)]
        with common.Server(env, workers=workers) as server:
            pids = [server.pid]
            rss0 = rss_tree_kb(pids)
            pipes, procs = [], []
            for g in range(GENERATORS):
                a, b = ctx.Pipe()
                p = ctx.Process(target=_generator, args=(server.port, users[g::GENERATORS], g, b, oldest_page), daemon=True)
                p.start()
                pipes.append(a)
                procs.append(p)
            ledger = Deliveries(members_of)
            active = 0
            carried = 0
            target = start
            while target <= max_users:
                for g, a in enumerate(pipes):
                    a.send(("grow", len(range(g, target, GENERATORS))))
                grown = [_recv(a, 900)[1] for a in pipes]
                active = target
                common.log(f"mmload: {active} users active (joined in {max(x['seconds'] for x in grown):.0f} s)")
                time.sleep(warmup)  # the new users' first idle times run out; then the window
                for a in pipes:
                    a.send(("flush", None))
                for a in pipes:
                    ledger.add(_recv(a, 120)[1])  # posts sent during the warm-up are not judged
                cpu0, db0 = common.cpu_seconds(server.pid), db_backend_cpu(env.pg_db or "")
                gen0 = sum(common.cpu_seconds(p.pid) for p in procs)
                ticks0, w0 = common.cpu_ticks(), time.monotonic()
                time.sleep(window)
                for a in pipes:
                    a.send(("flush", None))
                outs = [_recv(a, 120)[1] for a in pipes]
                w1 = time.monotonic()
                elapsed = w1 - w0
                cpu1, db1 = common.cpu_seconds(server.pid), db_backend_cpu(env.pg_db or "")
                gen1 = sum(common.cpu_seconds(p.pid) for p in procs)
                ticks1 = common.cpu_ticks()
                load_avg = common.load_average()
                for o in outs:
                    ledger.add(o)
                # The window's posts get GRACE_S more for their frames (the load goes on meanwhile; what
                # it makes belongs to no window and is not judged), then they are judged.
                time.sleep(grace)
                for a in pipes:
                    a.send(("flush", None))
                for a in pipes:
                    ledger.add(_recv(a, 120)[1])
                ws = ledger.judge(w0, w1)
                dropped = server_drops(server.port)
                lat = [x for o in outs for x in o["lat"]]
                status: dict[str, int] = {}
                by_action: dict[str, list[float]] = {}
                by_request: dict[str, list[float]] = {}
                for o in outs:
                    for k, v in o["by_request"].items():
                        by_request.setdefault(k, []).extend(v)
                    for k, v in o["status"].items():
                        status[k] = status.get(k, 0) + v
                    for k, (n, s) in o["by_action"].items():
                        agg = by_action.setdefault(k, [0, 0.0])
                        agg[0] += n
                        agg[1] += s
                n_req = max(1, len(lat))
                fivexx = sum(v for k, v in status.items() if k.startswith("5"))
                timeouts = sum(o["timeouts"] for o in outs)
                step = {
                    "users": active, "window_seconds": round(elapsed, 1), "requests": len(lat),
                    "requests_per_s": round(len(lat) / elapsed, 1), "status": status,
                    "server_5xx_percent": round(100 * fivexx / n_req, 4),
                    "timeout_percent": round(100 * timeouts / n_req, 4),
                    "request_ms": {**common.summary_ms(lat), "avg": round(1000 * sum(lat) / n_req, 2)},
                    "per_action": {k: {"n": n, "avg_ms": round(1000 * s / n, 1)} for k, (n, s) in sorted(by_action.items())},
                    "per_request": {k: {**common.summary_ms(v), "avg": round(1000 * sum(v) / len(v), 2)}
                                    for k, v in sorted(by_request.items(), key=lambda kv: -len(kv[1]))},
                    "posts_per_s": round(ws["posts_judged"] / elapsed, 2), **ws,
                    "server_ws_dropped_by_code": dropped,
                    "ws_errors": sum(o["ws_errors"] for o in outs),
                    "refused_by_action": _sum_counts(o["refused"] for o in outs),
                    "server_cpu_percent": round(100 * (cpu1 - cpu0) / elapsed),
                    "db_cpu_percent": round(100 * (db1 - db0) / elapsed),
                    "server_and_db_cpu_percent": round(100 * (cpu1 - cpu0 + db1 - db0) / elapsed),
                    "generators_cpu_percent": round(100 * (gen1 - gen0) / elapsed),
                    "machine_steal_percent": common.steal_percent(ticks0, ticks1),
                    "load_average": load_avg,
                    "server_rss_mb": round(rss_tree_kb(pids) / 1024),
                    "db_connections": db_connections(env.pg_db or ""),
                }
                step["tripped"] = judge(step, cores)
                # Users the box's cores would carry at the CPU bound if the server and its database had
                # them to themselves at this step's cost per user (others' load on this shared host and
                # the generators left out).
                step["users_at_cpu_bound_if_alone"] = round(
                    active * MAX_CPU_PERCENT_OF_BOX * cores / max(1, step["server_and_db_cpu_percent"]))
                res["steps"].append(step)
                common.log(f"mmload {active} users: {step['requests_per_s']} req/s, avg "
                           f"{step['request_ms']['avg']} ms, p99 {step['request_ms']['p99']} ms, 5xx "
                           f"{step['server_5xx_percent']} %, delivery p99 {step['delivery_ms']['p99']} ms "
                           f"({step['delivered_fraction']}), server+db {step['server_and_db_cpu_percent']} %, "
                           f"generators {step['generators_cpu_percent']} %, tripped {step['tripped']}")
                if step["tripped"]:
                    break
                carried = active
                target += step_users
            # The frames judged missing: did any of them come after all? (the load goes on meanwhile)
            time.sleep(grace)
            for a in pipes:
                a.send(("flush", None))
            for a in pipes:
                ledger.add(_recv(a, 120)[1])
            res["missing_later"] = {
                "judged_missing": len(ledger.missing),
                "arrived_later": sorted(v["arrived_after_s"] for v in ledger.missing.values() if "arrived_after_s" in v),
                "never": [v for v in ledger.missing.values() if "arrived_after_s" not in v][:40]}
            for a in pipes:
                a.send(("stop", None))
            for a in pipes:
                with contextlib.suppress(Exception):
                    _recv(a, 60)
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.terminate()
            res["server_rss_mb_idle"] = round(rss0 / 1024)
            res["server_tracebacks"] = server.errors_in_log()
        if env.pg_db:
            res["database"] = db_footprint(env.database_url.replace("postgresql+psycopg://", "postgresql://"))
    res["carried_users"] = carried
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mmload")
    parser.add_argument("--start", type=int, default=1000)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--max", type=int, default=8000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds each step is held and judged")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds after adding users before the window")
    parser.add_argument("--grace", type=float, default=GRACE_S,
                        help="seconds a window's posts still have for their frames before they are judged")
    parser.add_argument("--oldest-page", action="store_true",
                        help="SwitchChannel asks the oldest 30 messages, as the harness did before (comparability)")
    parser.add_argument("--backend", default="postgres", choices=("postgres", "sqlite"))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"machine": common.machine(), "load_average_at_start": common.load_average(),
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out.update(run(args.start, args.step, args.max, args.window, args.backend, args.workers, args.warmup,
                   args.grace, args.oldest_page))
    text = json.dumps(out, ensure_ascii=False, indent=1)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"mmload-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
