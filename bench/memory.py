"""Memory per idle connected WebSocket: server VmRSS before and after N authenticated idle clients.

The server (``mixun serve``, SQLite) runs in its own process; this process opens the N sockets with
``websockets`` (asyncio), waits for each hello, then leaves them idle. A warm-up of 50 connections
comes first so one-time costs (imports, pools, first-connection buffers) are not charged to N.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from bench import common


async def _connect_all(url: str, tokens: list[str], concurrency: int = 100, deflate: bool = True) -> list[Any]:
    import websockets

    sem = asyncio.Semaphore(concurrency)
    conns: list[Any] = []

    async def one(token: str) -> None:
        async with sem:
            ws = await websockets.connect(f"{url}?token={token}", max_size=2**22, ping_interval=None,
                                          open_timeout=60, compression="deflate" if deflate else None)
            await asyncio.wait_for(ws.recv(), 30)  # hello
            conns.append(ws)

    await asyncio.gather(*(one(t) for t in tokens))
    return conns


async def _measure(server: common.Server, tokens: list[str], warm: int, deflate: bool) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{server.port}/api/v1/ws"
    warm_conns = await _connect_all(url, tokens[:warm], deflate=deflate)
    await asyncio.sleep(3)
    before = common.rss_kb(server.pid)
    half = warm + (len(tokens) - warm) // 2
    t0 = time.monotonic()
    conns = await _connect_all(url, tokens[warm:half], deflate=deflate)
    connect_s = time.monotonic() - t0
    await asyncio.sleep(3)
    mid = common.rss_kb(server.pid)
    t0 = time.monotonic()
    conns += await _connect_all(url, tokens[half:], deflate=deflate)
    connect_s += time.monotonic() - t0
    samples = []
    for _ in range(5):  # idle: let presence fan-out and buffers settle
        await asyncio.sleep(1.5)
        samples.append(common.rss_kb(server.pid))
    after = samples[-1]
    n = len(conns)
    open_now = sum(1 for c in conns if c.state.name == "OPEN")
    for c in conns + warm_conns:
        await c.close()
    return {"n": n, "open_at_end": open_now, "rss_before_kb": before, "rss_after_kb": after,
            "rss_mid_kb": mid, "rss_samples_kb": samples, "per_conn_kb": round((after - before) / n, 1),
            "per_conn_kb_second_half": round((after - mid) / (n - (half - warm)), 1),
            "connect_seconds": round(connect_s, 1), "connect_rate_per_s": round(n / connect_s, 1)}


def run(quick: bool = False, deflate: bool = True) -> dict[str, Any]:
    """``deflate=False``: the clients do not offer permessage-deflate (browsers do; this shows what the
    server would use with compression switched off)."""
    n = 500 if quick else 2000
    warm = 50
    with common.environment("sqlite", "memory") as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, n + warm, prefix="m")
        tokens = common.bulk_sessions(rt, ids)
        rt.db.dispose()
        del rt
        gc.collect()
        with common.Server(env) as server:
            common.log(f"memory: server pid {server.pid}, connecting {n} idle clients (+{warm} warm-up)")
            res = asyncio.run(_measure(server, tokens, warm, deflate))
            res["server_tracebacks"] = server.errors_in_log()
    res.update({"target_kb": 30, "pass": res["per_conn_kb"] <= 30, "backend": "sqlite",
                "client_offers_permessage_deflate": deflate})
    common.log(f"memory: {res}")
    return res
