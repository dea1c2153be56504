"""Sustained ingest: acknowledged (201) messages per second, many senders into many conversations.

1,000 users in 200 groups of 5; no WebSocket clients (pure ingest: commit + event rows + bus wake-up).
One generator process (separate from the server) runs CONCURRENCY closed-loop workers, each on its
own keep-alive HTTP/1.1 connection, written against asyncio streams (pre-encoded requests, status line
and Content-Length parsed) so the generator's CPU stays small next to the server's on 2 cores. Each
worker posts as a random member into that member's group; the first WARMUP seconds are not counted.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import time
from typing import Any

from bench import common

CONCURRENCY = 64
WARMUP = 2.0


def _generator(port: int | list[int], plan: list[tuple[int, str]], duration: float, conn: Any,
               warmup: float = WARMUP, mark: bool = False) -> None:
    """``port``: the server's, or several servers' (each worker keeps to one, round robin: bench.scaling).
    ``warmup``: seconds of load not counted; ``mark``: "counting" is sent on ``conn`` when counting
    starts (the caller reads the server's CPU from then on), before the result."""
    ports = port if isinstance(port, list) else [port]

    import orjson
    import uvloop

    async def worker(wid: int, stop_at: float, count_from: float, out: dict[str, Any]) -> None:
        rnd = random.Random(wid)
        reader, writer = await asyncio.open_connection("127.0.0.1", ports[wid % len(ports)])
        i = 0
        while time.monotonic() < stop_at:
            conv, token = plan[rnd.randrange(len(plan))]
            body = orjson.dumps({"text": f"ingest {wid}-{i} 今天的报表已经上传，请查收。", "client_id": f"i{wid}-{i}"})
            i += 1
            t0 = time.monotonic()
            code, _ = await common.post_json(reader, writer, f"/api/v1/conversations/{conv}/messages", token, body)
            t1 = time.monotonic()
            if t0 < count_from:
                continue
            out["status"][code] = out["status"].get(code, 0) + 1
            if code == "201":
                out["lat"].append(t1 - t0)
                sec = int(t1 - count_from)
                out["per_second"][sec] = out["per_second"].get(sec, 0) + 1
            if code == "eof":
                break
        writer.close()

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {"status": {}, "lat": [], "per_second": {}}
        start = time.monotonic()
        count_from = start + warmup
        stop_at = count_from + duration

        async def marker() -> None:
            await asyncio.sleep(max(0.0, count_from - time.monotonic()))
            if mark:
                conn.send("counting")

        await asyncio.gather(marker(), *(worker(w, stop_at, count_from, out) for w in range(CONCURRENCY)))
        out["elapsed"] = time.monotonic() - count_from
        return out

    uvloop.install()
    conn.send(asyncio.run(main()))


def run_backend(backend: str, duration: float, workers: int = 1) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with common.environment(backend, "ingest", **common.bus_for(workers)) as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, 1000, prefix="g")
        tokens = common.bulk_sessions(rt, ids)
        groups = common.make_groups(rt, ids, 5)
        rt.db.dispose()
        token_of = dict(zip(ids, tokens, strict=True))
        plan = [(conv, token_of[uid]) for conv, members in groups for uid in members]
        with common.Server(env, workers=workers) as server:
            a, b = ctx.Pipe()
            p = ctx.Process(target=_generator, args=(server.port, plan, duration, b), daemon=True)
            p.start()
            cpu0 = common.cpu_seconds(server.pid)
            ticks0 = common.cpu_ticks()
            if not a.poll(duration + 120):
                raise TimeoutError("ingest generator did not answer")
            out = a.recv()
            ticks1 = common.cpu_ticks()
            cpu = common.cpu_seconds(server.pid) - cpu0
            p.join(10)
            tracebacks = server.errors_in_log()
    ok = out["status"].get("201", 0)
    per_s = [out["per_second"].get(s, 0) for s in range(int(duration))]
    res = {
        "backend": backend, "server_processes": workers, "concurrency": CONCURRENCY, "conversations": len(groups), "members_each": 5,
        "duration_s": duration, "acknowledged": ok, "status": out["status"],
        "messages_per_s": round(ok / out["elapsed"], 1),
        "per_second_median": sorted(per_s)[len(per_s) // 2] if per_s else 0,
        "per_second_min": min(per_s) if per_s else 0,
        "ack_latency_ms": common.summary_ms(out["lat"]), "server_tracebacks": tracebacks,
        "server_cpu_ms_per_message": round(1000 * cpu / max(1, sum(out["status"].values())), 1),
        "server_cpu_percent": round(100 * cpu / (out["elapsed"] + WARMUP), 0),
        "machine_steal_percent": common.steal_percent(ticks0, ticks1),
        "load_average": common.load_average(),
        "target_per_s": 2000,
    }
    res["pass"] = res["messages_per_s"] >= 2000
    common.log(f"ingest[{backend}]: {res}")
    return res


def run(quick: bool = False) -> dict[str, Any]:
    """PostgreSQL (the target) and SQLite with one server process, then PostgreSQL with two."""
    duration = 6.0 if quick else 20.0
    out: dict[str, Any] = {}
    plan = [("postgres", 1)] if quick else [("postgres", 1), ("sqlite", 1), ("postgres", 2)]
    for backend, workers in plan:
        key = backend if workers == 1 else f"{backend}@{workers}-processes"
        try:
            out[key] = run_backend(backend, duration, workers)
        except Exception as exc:
            common.log(f"ingest[{key}] failed: {exc!r}")
            out[key] = {"error": repr(exc)}
    return out
