"""The physical limit of fan-out on this machine: a bare ASGI app on the server library `mixun serve`
uses, broadcasting the same frames to the same sockets, driven by the same load generators as
``bench.latency``; then Mixun at the same offered rate, in the same run.

`python -m bench.ceiling [--rate 2000] [--seconds 15] [--backend sqlite|postgres] [--rounds 1]`

The bare app is uvicorn with the options of ``mixun serve`` (uvloop, httptools, the websockets sans-I/O
protocol, no compression, pings every 20 s). It knows nothing but sockets and groups: a WebSocket at
``/api/v1/ws?token=N`` joins group N // 50; ``POST /api/v1/conversations/G/messages`` (the path the
sender posts to) reads the JSON body, builds a ``message.created`` frame shaped and sized like Mixun's
(per-recipient ``event_seq`` included, so one string per socket, as Mixun must) and writes it to the
group's 50 sockets, then answers 201. No database, no authentication, no permissions, no persistence:
what is left is parsing the request, building the frames and the socket writes.

Two ways of writing are measured: ``asgi`` (``await send({"type": "websocket.send", ...})`` per socket,
the only way an ASGI app has) and ``direct`` (the frames written straight to the transport in one
write per socket, the shortcut Mixun's hub takes through ``mixun.api.wsproto``). The ceiling is the
better of the two. Offered well above what either carries, the figure is deliveries per second at
saturation (every frame still arrives: the sender's backlog limit, not the server, sheds the excess).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any

from bench import common, latency

GROUP = 50


def _frame_body(text: str, group: int, seq: int, n: int) -> dict[str, Any]:
    """A message.created event as Mixun emits it (sendpath/batch.py ``_created``), same keys."""
    return {"type": "message.created", "conversation_id": group, "message": {
        "id": n, "conversation_id": group, "seq": seq, "sender": {"id": group * GROUP + 1, "name": "测试1"},
        "kind": "text", "text": text, "created_at": "2026-12-07T16:00:00.000000+00:00", "edited": False,
        "edited_at": None, "recalled": False, "urgent": False, "reply_to": None, "mentions": [],
        "attachments": [], "read_count": 0, "recipient_count": GROUP - 1}}


def make_app(mode: str) -> Any:
    import orjson

    groups: dict[int, list[Any]] = {}
    counters = {"n": 0}
    seqs: dict[int, int] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            qs = scope.get("query_string", b"").decode()
            idx = int(qs.split("token=", 1)[1].split("&", 1)[0]) if "token=" in qs else 0
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            members = groups.setdefault(idx // GROUP, [])
            member = [send, idx, getattr(getattr(send, "__self__", None), "send_texts_now", None)]
            members.append(member)
            try:
                while (await receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                members.remove(member)
            return
        # HTTP: the sender's POST; anything else (the readiness probe) gets 200
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        status, out = 200, b"{}"
        parts = scope["path"].split("/")
        if scope["method"] == "POST" and len(parts) > 4 and parts[3] == "conversations":
            group = int(parts[4])
            text = orjson.loads(body)["text"]
            counters["n"] += 1
            n = counters["n"]
            payload = orjson.dumps(_frame_body(text, group, n, n)).decode()
            for member in list(groups.get(group, ())):
                seq = seqs.get(member[1], 0) + 1
                seqs[member[1]] = seq
                frame = f'{{"event_seq":{seq},{payload[1:]}'
                if mode == "direct" and member[2] is not None and member[2]([frame.encode()]):
                    continue
                await member[0]({"type": "websocket.send", "text": frame})
            status, out = 201, orjson.dumps({"id": n})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return app


def serve(port: int, mode: str) -> None:
    import uvicorn

    from mixun.api.wsproto import LeanWebSocketProtocol

    # mixun serve's options (cli/main.py cmd_serve); the protocol class only adds the direct write.
    uvicorn.run(make_app(mode), host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools",
                ws=LeanWebSocketProtocol, ws_ping_interval=20, ws_ping_timeout=20, ws_per_message_deflate=False,
                ws_max_size=1_048_576, proxy_headers=False, server_header=False, access_log=False, lifespan="on")


def run_bare(mode: str, rate: float, duration: float, clients: int = 1000) -> dict[str, Any]:
    port = common.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.ceiling", "--serve", str(port), "--mode", mode],
                            cwd=str(common.ROOT), env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("bare server did not start") from None
                time.sleep(0.2)
        tokens = [str(i) for i in range(clients)]
        plan = [(i // GROUP, str(i)) for i in range(clients)]
        d = latency.drive(f"ws://127.0.0.1:{port}/api/v1/ws", port, proc.pid, tokens, plan, rate, duration,
                          f"bare-{mode}")
    finally:
        proc.terminate()
        proc.wait(10)
    res = {"server": f"bare ASGI ({mode})", "target_rate": rate, "duration_s": duration,
           **latency.summarise(d, GROUP)}
    common.log(f"ceiling[{mode}]: {res}")
    return res


KEEP = ("achieved_send_rate", "deliveries_per_s", "delivered_fraction", "deliver_latency_ms", "server_cpu_percent",
        "server_cpu_ms_per_message", "server_cpu_us_per_delivery", "serving_process_cpu_ms_per_message", "generators_cpu_percent", "machine_steal_percent",
        "load_average", "socket_errors")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ceiling")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="direct", choices=("asgi", "direct"))
    ap.add_argument("--rate", type=float, default=2000.0, help="offered msg/s (50 deliveries each)")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--backend", default="postgres", help="sqlite, postgres or both, comma-separated")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.mode)
        return 0
    print("machine", json.dumps(common.machine()), flush=True)
    out: dict[str, list[dict[str, Any]]] = {}
    for rnd in range(args.rounds):
        plan: list[tuple[str, Any]] = [("bare_direct", lambda: run_bare("direct", args.rate, args.seconds)),
                                        ("bare_asgi", lambda: run_bare("asgi", args.rate, args.seconds))]
        plan += [(f"mixun_{b}", lambda b=b: latency.run_backend(b, args.rate, args.seconds))
                 for b in args.backend.split(",")]
        for name, fn in plan:
            r = fn()
            kept = {k: r[k] for k in KEEP if k in r}
            out.setdefault(name, []).append(kept)
            print(rnd, name, json.dumps(kept, ensure_ascii=False), flush=True)
    best = {name: max(r["deliveries_per_s"] for r in runs) for name, runs in out.items()}
    ceiling = max(best["bare_direct"], best["bare_asgi"])
    summary = {"ceiling_deliveries_per_s": ceiling,
               **{f"{name}_fraction_of_ceiling": round(best[name] / ceiling, 3) if ceiling else None
                  for name in best if name.startswith("mixun_")}}
    print(json.dumps({"runs": out, **summary}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
