"""Send -> deliver latency with 1,000 connected WebSocket clients in 20 groups of 50 at 500 messages/s.

Processes: the server (``mixun serve``), one sender process (asyncio, SENDER_CONNECTIONS keep-alive
HTTP/1.1 connections driven by ``common.post_json``; open loop: a send is due every 1/rate s whatever the
server does, at most MAX_IN_FLIGHT outstanding, stamped when due so time spent waiting for a free
connection counts) and RECEIVERS receiver processes (asyncio, WebSocket frames read by hand
(``_Socket``), 1,000 sockets split between them). Each message text carries the sender's ``time.monotonic_ns()`` taken when the
send fell due, spelled in letters (``stamp_text``; CLOCK_MONOTONIC is system-wide on Linux, so the receivers can subtract it);
latency = arrival of ``message.created`` at a recipient socket minus that stamp. Every member's socket
counts as a recipient (50 deliveries per message, the sender's own socket included).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import time
from typing import Any

from bench import common

MAX_IN_FLIGHT = 256
SENDER_CONNECTIONS = 64
CARRY_RATE = 100.0  # msg/s: what one server process carries within the latency target (BENCHMARKS.md)
RECEIVERS = 2
DRAIN_SECONDS = 5.0


# The send time travels in the message text, spelled in letters: as digits, once the machine has been up
# an hour or so, CLOCK_MONOTONIC's nanoseconds are a 13-digit number that DLP rightly masks like a bank
# card (and the receivers could no longer read it).
_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")
_FROM_LETTERS = str.maketrans("ghijklmnop", "0123456789")


def stamp_text(ns: int) -> str:
    return format(ns, "x").translate(_TO_LETTERS)


def stamp_value(text: str) -> int:
    return int(text.translate(_FROM_LETTERS), 16)


class _Socket(asyncio.Protocol):
    """One client WebSocket, read frame by frame by hand: the ``websockets`` client cost about 20 µs of
    the receiver's CPU per frame, and two receivers at 25,000 frames/s took half of this 2-core
    machine from the server they measure. The server sends unmasked frames without extensions
    (none are offered); the client's own frames are masked (RFC 6455)."""

    def __init__(self, on_text: Any, on_close: Any) -> None:
        self.buf = bytearray()
        self.transport: Any = None
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.on_text, self.on_close = on_text, on_close

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Any) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        self.on_close()

    def send(self, opcode: int, payload: bytes) -> None:
        """One masked client frame (text 0x1, pong 0xA; payloads under 64 KB)."""
        mask = random.randbytes(4)
        n = len(payload)
        length = bytes((0x80 | n,)) if n < 126 else bytes((0xFE,)) + n.to_bytes(2, "big")
        self.transport.write(bytes((0x80 | opcode,)) + length + mask
                             + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[:end + 4]
            self.upgraded = True
            if not head.startswith(b"HTTP/1.1 101"):
                self.handshake.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                self.transport.close()
                return
            self.handshake.set_result(head)
        at, size = 0, len(buf)
        while size - at >= 2:
            b0, n = buf[at], buf[at + 1] & 0x7F
            start = at + 2
            if n == 126:
                if size - at < 4:
                    break
                n, start = int.from_bytes(buf[at + 2:at + 4], "big"), at + 4
            elif n == 127:
                if size - at < 10:
                    break
                n, start = int.from_bytes(buf[at + 2:at + 10], "big"), at + 10
            if size < start + n:
                break
            payload = bytes(buf[start:start + n])
            at = start + n
            opcode = b0 & 0x0F
            if opcode == 1:
                self.on_text(payload)
            elif opcode == 9:  # the server's keep-alive ping
                self.send(0xA, payload)
            elif opcode == 8:
                self.transport.close()
        if at:
            del buf[:at]


def _receiver(url: str, tokens: list[str], conn: Any) -> None:
    import base64
    import os
    from urllib.parse import urlsplit

    import orjson
    import uvloop

    async def main() -> dict[str, Any]:
        lat: list[float] = []
        counts = {"events": 0, "other": 0, "closed": 0}
        sem = asyncio.Semaphore(50)
        sockets: list[_Socket] = []
        target = urlsplit(url)
        loop = asyncio.get_running_loop()
        stopping = False

        def on_text(raw: bytes) -> None:
            now = time.monotonic_ns()
            msg = orjson.loads(raw)
            if msg.get("type") == "message.created":
                text = msg["message"]["text"]
                if text.startswith("b:"):
                    lat.append((now - stamp_value(text.split(":", 2)[1])) / 1e9)
                    counts["events"] += 1
                    return
            counts["other"] += 1

        def on_close() -> None:
            if not stopping:
                counts["closed"] += 1

        async def connect(token: str) -> None:
            async with sem:
                _t, sock = await loop.create_connection(lambda: _Socket(on_text, on_close), target.hostname,
                                                        target.port)
                key = base64.b64encode(os.urandom(16)).decode()
                sock.transport.write(
                    f"GET {target.path}?token={token} HTTP/1.1\r\nHost: {target.netloc}\r\n"
                    f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode())
                await asyncio.wait_for(sock.handshake, 120)
                sock.send(0x1, b'{"type":"resume","after_event_seq":0}')
                sockets.append(sock)

        await asyncio.gather(*(connect(t) for t in tokens))
        conn.send(("ready", len(sockets)))
        await asyncio.to_thread(conn.recv)  # "stop"
        stopping = True
        for sock in sockets:
            sock.transport.close()
        return {"latencies": lat, **counts}

    uvloop.install()
    conn.send(("done", asyncio.run(main())))


def _sender(port: int | list[int], plan: list[tuple[int, str]], rate: float, duration: float, start_at: float,
            conn: Any) -> None:
    """``port``: the server's, or several servers' (connections round robin over them: bench.scaling)."""
    ports = port if isinstance(port, list) else [port]

    import orjson
    import uvloop

    async def main() -> dict[str, Any]:
        http_lat: list[float] = []
        lag: list[float] = []
        status: dict[str, int] = {}
        skipped = 0
        in_flight = 0
        rnd = random.Random(5)
        queue: asyncio.Queue[tuple[int, int, str, int] | None] = asyncio.Queue()

        async def worker(port: int) -> None:
            nonlocal in_flight
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while (item := await queue.get()) is not None:
                i, conv, token, t0 = item
                body = orjson.dumps({"text": f"b:{stamp_text(t0)}:{i}", "client_id": f"b{i}"})
                try:
                    key, _ = await common.post_json(reader, writer, f"/api/v1/conversations/{conv}/messages",
                                                    token, body)
                except Exception as exc:
                    key = type(exc).__name__
                if key != "201":  # a broken connection is replaced
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                http_lat.append((time.monotonic_ns() - t0) / 1e9)
                status[key] = status.get(key, 0) + 1
                in_flight -= 1
            writer.close()

        # Connections open before the clock starts, so their set-up is not measured.
        workers = [asyncio.create_task(worker(ports[w % len(ports)])) for w in range(SENDER_CONNECTIONS)]
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        t_start = time.monotonic()
        i = 0
        total = int(rate * duration)
        while i < total:
            due = t_start + i / rate
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            while i < total and t_start + i / rate <= time.monotonic():
                lag.append(time.monotonic() - (t_start + i / rate))
                conv, token = plan[rnd.randrange(len(plan))]
                if in_flight >= MAX_IN_FLIGHT:
                    skipped += 1
                else:
                    # Stamped when due: time waiting for a free connection counts against the server.
                    in_flight += 1
                    queue.put_nowait((i, conv, token, time.monotonic_ns()))
                i += 1
        send_elapsed = time.monotonic() - t_start
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return {"http_latencies": http_lat, "status": status, "skipped": skipped,
                "send_elapsed": send_elapsed, "schedule_lag": lag, "attempted": total}

    uvloop.install()
    conn.send(("done", asyncio.run(main())))


def _recv(conn: Any, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("generator process did not answer")
    return conn.recv()


def run_backend(backend: str, rate: float, duration: float, clients: int = 1000,
                group_size: int = 50, workers: int = 1) -> dict[str, Any]:
    with common.environment(backend, "latency", **common.bus_for(workers)) as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, clients, prefix="l")
        tokens = common.bulk_sessions(rt, ids)
        groups = common.make_groups(rt, ids, group_size)
        rt.db.dispose()
        token_of = dict(zip(ids, tokens, strict=True))
        plan = [(conv, token_of[uid]) for conv, members in groups for uid in members]
        with common.Server(env, workers=workers) as server:
            url = f"ws://127.0.0.1:{server.port}/api/v1/ws"
            d = drive(url, server.port, server.pid, tokens, plan, rate, duration, backend)
            tracebacks = server.errors_in_log()
    res = {"backend": backend, "server_processes": workers, "groups": len(groups), **summarise(d, group_size),
           "target_rate": rate, "duration_s": duration, "server_tracebacks": tracebacks, "target_p99_ms": 50}
    res["pass"] = (res["deliveries"] > 0 and res["deliver_latency_ms"]["p99"] < 50
                   and res["delivered_fraction"] > 0.999)
    common.log(f"latency[{backend}]: {res}")
    return res


def drive(url: str, port: int, pid: int, tokens: list[str], plan: list[tuple[int, str]], rate: float,
          duration: float, label: str) -> dict[str, Any]:
    """Connect the receivers' sockets to ``url``, wait for the server (``pid``) to go quiet, send at
    ``rate`` for ``duration`` s over HTTP to ``port`` following ``plan`` (conversation, token), wait for
    the stragglers, and return what the generators saw and what the server's process tree spent.
    ``bench.ceiling`` drives its bare ASGI app with this too."""
    ctx = mp.get_context("spawn")
    rss_start = common.rss_kb(pid)
    pipes, procs = [], []
    share = [tokens[i::RECEIVERS] for i in range(RECEIVERS)]
    t_conn = time.monotonic()
    for part in share:
        a, b = ctx.Pipe()
        p = ctx.Process(target=_receiver, args=(url, part, b), daemon=True)
        p.start()
        pipes.append(a)
        procs.append(p)
    connected = sum(_recv(a, 300)[1] for a in pipes)
    connect_s = time.monotonic() - t_conn
    # The clock starts once the server has done what connecting asked of it (a resume and a
    # presence change per socket), or the first second measures that backlog.
    settle_s = common.wait_quiet(pid)
    common.log(f"latency[{label}]: {connected} sockets connected in {connect_s:.0f} s; "
               f"sending {rate:g}/s for {duration:g} s")
    start_at = time.monotonic() + 1.0
    sa, sb = ctx.Pipe()
    sp = ctx.Process(target=_sender, args=(port, plan, rate, duration, start_at, sb), daemon=True)
    sp.start()
    cpu0, own0 = common.cpu_seconds(pid), common.own_cpu_seconds(pid)
    gen0 = sum(common.cpu_seconds(p.pid) for p in (*procs, sp))
    ticks0 = common.cpu_ticks()
    sent = _recv(sa, duration + 120)[1]
    ticks1 = common.cpu_ticks()
    cpu1, own1 = common.cpu_seconds(pid), common.own_cpu_seconds(pid)
    gen1 = sum(common.cpu_seconds(p.pid) for p in (*procs, sp))
    time.sleep(DRAIN_SECONDS)
    rss_end = common.rss_kb(pid)
    results = _stop_receivers(pipes, procs)
    sp.join(10)
    return {"sent": sent, "results": results, "connected": connected, "connect_s": connect_s,
            "settle_s": settle_s, "server_cpu_s": cpu1 - cpu0, "serving_cpu_s": own1 - own0, "generators_cpu_s": gen1 - gen0,
            "steal": common.steal_percent(ticks0, ticks1), "rss_kb": [rss_start, rss_end]}


def summarise(d: dict[str, Any], group_size: int) -> dict[str, Any]:
    """The figures of one ``drive``: rates, delivery, percentiles, CPU."""
    sent, results = d["sent"], d["results"]
    lat = [x for r in results for x in r["latencies"]]
    ok = sent["status"].get("201", 0)
    expected = ok * group_size
    elapsed = sent["send_elapsed"]
    return {
        "clients": d["connected"], "group_size": group_size,
        "connect_seconds": round(d["connect_s"], 1), "settle_seconds": round(d["settle_s"], 1),
        "attempted": sent["attempted"], "skipped_generator_backlog": sent["skipped"],
        "status": sent["status"], "achieved_send_rate": round(ok / elapsed, 1),
        "deliveries": len(lat), "expected_deliveries": expected,
        "delivered_fraction": round(len(lat) / expected, 4) if expected else 0.0,
        "deliveries_per_s": round(len(lat) / elapsed, 0),
        "deliver_latency_ms": common.summary_ms(lat),
        "http_latency_ms": common.summary_ms(sent["http_latencies"]),
        "send_schedule_lag_ms": common.summary_ms(sent["schedule_lag"]),
        "socket_errors": sum(r["closed"] for r in results),
        "server_cpu_percent": round(100 * d["server_cpu_s"] / elapsed, 0),
        "server_cpu_ms_per_message": round(1000 * d["server_cpu_s"] / max(1, ok), 2),
        "server_cpu_us_per_delivery": round(1e6 * d["server_cpu_s"] / max(1, len(lat)), 1),
        # The serving process alone (its writer process and other children left out; one process only:
        # with --workers N it is uvicorn's supervisor).
        "serving_process_cpu_ms_per_message": round(1000 * d["serving_cpu_s"] / max(1, ok), 2),
        "generators_cpu_percent": round(100 * d["generators_cpu_s"] / elapsed, 0),
        "machine_steal_percent": d["steal"],
        "load_average": common.load_average(),
        "server_rss_mb": [round(d["rss_kb"][0] / 1024), round(d["rss_kb"][1] / 1024)],
    }


def _stop_receivers(pipes: list[Any], procs: list[Any]) -> list[dict[str, Any]]:
    for a in pipes:
        a.send("stop")
    out = []
    for a, p in zip(pipes, procs, strict=True):
        try:
            out.append(_recv(a, 60)[1])
        except Exception:
            out.append({"latencies": [], "events": 0, "other": 0, "closed": 0})
        p.join(10)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """The target (500 msg/s) on both databases, then a rate one process carries (CARRY_RATE)."""
    out: dict[str, Any] = {}
    duration = 6.0 if quick else 25.0
    plan = [("sqlite", 500.0)] if quick else [("sqlite", 500.0), ("postgres", 500.0),
                                               ("sqlite", CARRY_RATE), ("postgres", CARRY_RATE)]
    for backend, rate in plan:
        key = backend if rate == 500.0 else f"{backend}@{rate:g}"
        try:
            out[key] = run_backend(backend, rate, duration if rate == 500.0 else 20.0)
        except Exception as exc:
            common.log(f"latency[{key}] failed: {exc!r}")
            out[key] = {"error": repr(exc)}
    return out
