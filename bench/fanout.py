"""The hub's own CPU per delivered frame, without sockets, database or HTTP: `python -m bench.fanout`.

1,000 connections in 20 groups of 50, each with a direct write path that only keeps the bytes it is
given (what ``mixun.api.wsproto`` would hand to the transport); wake-ups as the writer publishes them
(one per message, a Mixun-shaped ``message.created`` payload with Chinese text, every member named with
its event_seq) are fed to ``Hub.on_bus`` and the loop turn's flush is run, as on the event loop. Reports
microseconds of CPU per delivered frame, best of 5 passes. Run it from a checkout of another commit
(its ``src`` first on PYTHONPATH) to compare the hub of two commits on the same machine; the socket
write itself (about 10-15 µs on the host of BENCHMARKS.md) is measured by ``bench.ceiling``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import orjson

GROUPS, SIZE, MESSAGES = 20, 50, 2000


class _Proto:
    def __init__(self) -> None:
        self.written = 0

    def send_texts_now(self, frames: list[bytes]) -> bool:
        self.written += sum(len(f) for f in frames)
        return True


class _WS:
    def __init__(self) -> None:
        self._send = _Proto().send_texts_now


def _payload(group: int, n: int) -> str:
    return orjson.dumps({"type": "message.created", "conversation_id": group, "message": {
        "id": n, "conversation_id": group, "seq": n, "sender": {"id": group * SIZE + 1, "name": "测试1"},
        "kind": "text", "text": f"各位同事：今天下午三点在总行三楼会议室召开风险管理例会，请准时参加。{n}",
        "created_at": "2026-12-07T16:00:00.000000+00:00", "edited": False, "edited_at": None, "recalled": False,
        "urgent": False, "reply_to": None, "mentions": [], "attachments": [], "read_count": 0,
        "recipient_count": SIZE - 1}}).decode()


async def _pass() -> float:
    from mixun.realtime.hub import Connection, Hub
    from mixun.realtime.presence import LocalPresence

    hub: Any = Hub(None, LocalPresence(), 100000)  # type: ignore[arg-type]
    conns = []
    for uid in range(GROUPS * SIZE):
        conn = Connection(hub, _WS(), uid, uid, 1)  # type: ignore[arg-type]
        hub.by_user.setdefault(uid, set()).add(conn)
        conns.append(conn)
    seqs = [0] * (GROUPS * SIZE)
    wakes = []
    for n in range(MESSAGES):
        g = n % GROUPS
        members = range(g * SIZE, (g + 1) * SIZE)
        pairs = []
        for uid in members:
            seqs[uid] += 1
            pairs.append([uid, seqs[uid]])
        wakes.append(orjson.dumps({"recipients": pairs, "payload": _payload(g, n), "t": time.time()}))
    t0 = time.process_time()
    for data in wakes:
        hub.on_bus(data)
        hub.flush()  # the loop turn's end (Hub.mark scheduled it too; it then finds nothing)
    spent = time.process_time() - t0
    await asyncio.sleep(0)
    assert all(c.next_seq == seqs[c.user_id] + 1 for c in conns), "every frame delivered in order"
    return spent / (MESSAGES * SIZE) * 1e6


def main() -> int:
    import os

    os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "1")
    best = min(asyncio.run(_pass()) for _ in range(5))
    print(json.dumps({"us_per_delivery": round(best, 2), "deliveries_per_pass": MESSAGES * SIZE}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
