"""What each read of Mattermost's load model costs the server, one request class at a time:
`python -m bench.readcost [--requests 1500] [--concurrency 16] [--backend postgres] [--classes a,b]`.

Companion of ``bench.mmload`` (issue 23 item 3): under that model the reads — a channel's history
page, the conversation list, read marks and the status poll — are the load. Here each class runs alone
against a fresh server (users in groups of 50 as mmload builds them, each group holding a history of
messages, some with reactions), ``--requests`` requests over ``--concurrency`` keep-alive connections
(each a different user), and the server's CPU (its process tree) and its database's backends' CPU are
read from /proc around each class: CPU per request, the figure the code controls, apart from the
contention of a shared host; requests per second and p50/p99 are reported as well but move with the
host. Classes: ``history`` (the newest 30 messages: ``before_seq`` past the end), ``history_old`` (the
oldest 30, as mmload asks), ``conversations``, ``presence``, ``read_advance`` (each mark one message
further) and ``read_stale`` (a mark at the reader's position: a client marking again).

Side by side with an earlier commit: run it twice, alternating, with PYTHONPATH set to each side's
``src`` (the server inherits it), as BENCHMARKS.md's mmload section shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from bench import common

GROUP = 50
USERS = 200
MESSAGES_PER_GROUP = 60


async def _drive(port: int, jobs: list[tuple[str, str, str, bytes | None]], concurrency: int
                 ) -> tuple[list[float], dict[str, int]]:
    from bench.peers.load import request

    lat: list[float] = []
    status: dict[str, int] = {}
    queue: asyncio.Queue[tuple[str, str, str, bytes | None]] = asyncio.Queue()
    for j in jobs:
        queue.put_nowait(j)

    async def worker() -> None:
        stream = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                method, path, token, body = queue.get_nowait()
                t0 = time.monotonic()
                code, _raw = await request(*stream, method, path, token, body)
                lat.append(time.monotonic() - t0)
                status[code] = status.get(code, 0) + 1
                if code == "eof":
                    stream[1].close()
                    stream = await asyncio.open_connection("127.0.0.1", port)
        finally:
            stream[1].close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, status


def run(n_requests: int, concurrency: int, backend: str = "postgres", only: set[str] | None = None) -> dict[str, Any]:
    from bench.mmload import groups_of
    from bench.peers.load import db_backend_cpu
    from mixun.services.conversations import create_conversation
    from mixun.services.message_actions import react
    from mixun.services.messages import mark_read

    res: dict[str, Any] = {"backend": backend, "requests_per_class": n_requests, "concurrency": concurrency}
    with common.environment(backend, "readcost") as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, USERS, prefix="r")
        tokens = common.bulk_sessions(rt, ids)
        members = groups_of(USERS)
        convs: list[int] = []
        for g, group in enumerate(members):
            view = create_conversation(common.principal_ctx(rt, ids[group[0]]), "group",
                                       [ids[m] for m in group[1:]], f"读负载{g}")
            convs.append(int(view["id"]))
        rt.db.dispose()
        conv_of: dict[int, list[int]] = {}
        for cid, group in zip(convs, members, strict=True):
            for m in group:
                conv_of.setdefault(m, []).append(cid)
        with common.Server(env) as server:
            from bench.peers.load import request

            async def fill() -> None:
                streams = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(8)]
                jobs = []
                for cid, group in zip(convs, members, strict=True):
                    for k in range(MESSAGES_PER_GROUP):
                        sender = group[k % len(group)]
                        body = json.dumps({"text": f"第{k}条 报表 审批 收到", "client_id": f"f{cid}x{k}"}).encode()
                        jobs.append((f"/api/v1/conversations/{cid}/messages", tokens[sender], body))
                for i in range(0, len(jobs), 8):
                    await asyncio.gather(*(request(*streams[j], "POST", p, t, b)
                                           for j, (p, t, b) in enumerate(jobs[i:i + 8])))
                for s in streams:
                    s[1].close()

            asyncio.run(fill())
            # Reactions on a few messages of each page, as a busy channel has.
            rt2 = common.runtime(env)
            with rt2.db.read() as s:
                from sqlalchemy import select

                from mixun.db.models import Message
                msgs = s.execute(select(Message.id, Message.conversation_id, Message.seq)
                                 .where(Message.seq % 7 == 0)).all()
            member_of = {cid: group for cid, group in zip(convs, members, strict=True)}
            for mid, cid, _seq in msgs:
                ctx = common.principal_ctx(rt2, ids[member_of[cid][1]])
                react(ctx, int(mid), "收到", True)
            # Readers start at seq 0 everywhere but the stale class's position (marked below).
            rt2.db.dispose()
            users = list(range(USERS))
            classes: dict[str, list[tuple[str, str, str, bytes | None]]] = {}
            top = MESSAGES_PER_GROUP
            classes["history"] = [("GET", f"/api/v1/conversations/{conv_of[u][i % len(conv_of[u])]}/messages"
                                   f"?limit=30&before_seq={top + 1}", tokens[u], None)
                                  for i, u in enumerate(users * (n_requests // USERS + 1))][:n_requests]
            classes["history_old"] = [("GET", f"/api/v1/conversations/{conv_of[u][i % len(conv_of[u])]}/messages"
                                       "?limit=30", tokens[u], None)
                                      for i, u in enumerate(users * (n_requests // USERS + 1))][:n_requests]
            classes["conversations"] = [("GET", "/api/v1/conversations", tokens[u], None)
                                        for u in (users * (n_requests // USERS + 1))[:n_requests]]
            classes["presence"] = [("GET", "/api/v1/presence", tokens[u], None)
                                   for u in (users * (n_requests // USERS + 1))[:n_requests]]
            # Advancing marks: each (user, conversation) marks seq 52, 53, … in turn. A sender's own
            # message counts as read: member k of a group sent seq k + 1 (and k + 51 for k < 10), so
            # the members from the 11th on are at seq ≤ 50 and each of their marks here advances.
            adv: list[tuple[str, str, str, bytes | None]] = []
            pairs = [(u, c) for c, group in zip(convs, members, strict=True) for u in group[10:]]
            seq = MESSAGES_PER_GROUP - 8
            while len(adv) < n_requests and seq <= top:
                adv.extend(("POST", f"/api/v1/conversations/{c}/read", tokens[u], json.dumps({"seq": seq}).encode())
                           for u, c in pairs)
                seq += 1
            classes["read_advance"] = adv[:n_requests]
            # Stale marks: below the position the advancing marks reached: nothing to write.
            classes["read_stale"] = [("POST", f"/api/v1/conversations/{c}/read", tokens[u], json.dumps({"seq": 1}).encode())
                                     for u, c in (pairs * (n_requests // len(pairs) + 1))[:n_requests]]
            assert mark_read  # (the service the route calls; imported so a renamed one fails here)
            out: dict[str, Any] = {}
            for name, jobs in classes.items():
                if only and name not in only:
                    continue
                asyncio.run(_drive(server.port, jobs[: min(50, len(jobs))], concurrency))  # warm (connections, caches)
                cpu0, db0, t0 = common.cpu_seconds(server.pid), db_backend_cpu(env.pg_db or ""), time.monotonic()
                lat, status = asyncio.run(_drive(server.port, jobs, concurrency))
                elapsed = time.monotonic() - t0
                cpu = common.cpu_seconds(server.pid) - cpu0
                db = db_backend_cpu(env.pg_db or "") - db0
                n = max(1, len(lat))
                out[name] = {"requests": len(lat), "status": status, "requests_per_s": round(len(lat) / elapsed, 1),
                             "server_cpu_ms_per_request": round(1000 * cpu / n, 3),
                             "db_cpu_ms_per_request": round(1000 * db / n, 3),
                             "latency_ms": common.summary_ms(lat), "load_average": common.load_average()}
                common.log(f"readcost {name}: {out[name]['requests_per_s']} req/s, server "
                           f"{out[name]['server_cpu_ms_per_request']} ms + db {out[name]['db_cpu_ms_per_request']} ms "
                           f"CPU/request, p99 {out[name]['latency_ms']['p99']} ms, {status}")
            res["classes"] = out
            res["server_tracebacks"] = server.errors_in_log()
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.readcost")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", default="postgres", choices=("postgres", "sqlite"))
    parser.add_argument("--classes", default="", help="comma-separated classes to run (default: all)")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"machine": common.machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out.update(run(args.requests, args.concurrency, args.backend, {c for c in args.classes.split(",") if c} or None))
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
