"""One load generator for Mixun and Synapse: N users in rooms of 50, an open-loop sender at a given
rate, every member's client timing each message until it has it.

- Sender (one process): SENDER_CONNECTIONS keep-alive HTTP/1.1 connections, a send due every 1/rate s
  whatever the server does, at most MAX_IN_FLIGHT outstanding, each stamped when due (time waiting for
  a free connection counts against the server). Mixun: ``POST /api/v1/conversations/{id}/messages``;
  Synapse: ``PUT /_matrix/client/v3/rooms/{id}/send/m.room.message/{txn}``.
- Receivers (RECEIVERS processes, the users split between them): Mixun, one WebSocket per user read by
  hand (``bench.latency._Socket``); Synapse, one keep-alive connection per user long-polling ``/sync``
  (``timeout=30000``) with a timeline-only filter (no state, presence, account data, ephemeral events).
- The message text carries the send's due time (CLOCK_MONOTONIC, spelled in letters as
  ``bench.latency`` does) and its index; latency = arrival at a member's client minus that stamp.
  Each step of a run uses its own index range, so the receivers run once and the steps are told apart
  afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.latency import _Socket, stamp_text, stamp_value

MAX_IN_FLIGHT = 256
SENDER_CONNECTIONS = 64
RECEIVERS = 2
STEP_INDEX = 10_000_000  # step k sends indices k*STEP_INDEX, k*STEP_INDEX + 1, ...
SYNC_FILTER = urllib.parse.quote(
    '{"room":{"timeline":{"limit":200,"types":["m.room.message"]},"state":{"types":[]},'
    '"ephemeral":{"types":[]},"account_data":{"types":[]}},"presence":{"types":[]},'
    '"account_data":{"types":[]}}', safe="")


# --- a lean HTTP/1.1 client (any method) -------------------------------------------------------------

async def request(reader: Any, writer: Any, method: str, path: str, token: str,
                  body: bytes | None = None) -> tuple[str, bytes]:
    """One request on an open keep-alive connection; (status code, body); ("eof", b"") when closed.
    Reads Content-Length and chunked bodies (Synapse answers chunked)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write((head + "\r\n").encode() + (body or b""))
    status_line = await reader.readline()
    if not status_line:
        return "eof", b""
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        low = line.lower()
        if low.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif low.startswith(b"transfer-encoding:") and b"chunked" in low:
            chunked = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readline()).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        data = b"".join(parts)
    else:
        data = await reader.readexactly(length) if length else b""
    return status_line.split(b" ", 2)[1].decode(), data


# --- process-wide measurements -----------------------------------------------------------------------

def rss_tree_kb(pids: list[int]) -> int:
    """VmRSS of the processes and their live descendants, in KB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo, seen = 0, list(pids), set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        todo.extend(children.get(p, ()))
    return total


def db_backend_cpu(dbname: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``dbname`` (their process titles name it): the
    database's share of a run, apart from other databases on the same server."""
    import os

    total = 0
    for d in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            cmd = (d / "cmdline").read_bytes()
            if not cmd.startswith(b"postgres: ") or f" {dbname} ".encode() not in cmd.replace(b"\0", b" "):
                continue
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# --- sender -------------------------------------------------------------------------------------------

def sender(kind: str, port: int, plan: list[tuple[str, str]], rate: float, duration: float, first_index: int,
           start_at: float, conn: Any) -> None:
    """plan: (room or conversation id, token) per member; a send picks one at random."""
    import orjson
    import uvloop

    ok_code = "201" if kind == "mixun" else "200"

    def build(i: int, room: str, t0: int) -> tuple[str, str, bytes]:
        text = f"b:{stamp_text(t0)}:{i}"
        if kind == "mixun":
            return "POST", f"/api/v1/conversations/{room}/messages", orjson.dumps({"text": text, "client_id": f"b{i}"})
        return ("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/b{i}",
                orjson.dumps({"msgtype": "m.text", "body": text}))

    async def main() -> dict[str, Any]:
        http_lat: list[float] = []
        status: dict[str, int] = {}
        accepted: list[int] = []
        skipped = 0
        in_flight = 0
        rnd = random.Random(first_index)
        queue: asyncio.Queue[tuple[int, str, str, int] | None] = asyncio.Queue()

        async def worker() -> None:
            nonlocal in_flight
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while (item := await queue.get()) is not None:
                i, room, token, t0 = item
                method, path, body = build(i, room, t0)
                for attempt in (0, 1):
                    try:
                        key, _ = await request(reader, writer, method, path, token, body)
                    except (ConnectionError, asyncio.IncompleteReadError) as exc:
                        key = type(exc).__name__
                    except Exception as exc:
                        key = type(exc).__name__
                        break
                    if key in ("eof", "ConnectionResetError", "IncompleteReadError") and attempt == 0:
                        # The server closed an idle keep-alive connection (uvicorn after 5 s): open a
                        # new one and send again, as any HTTP client does. Both sends are idempotent
                        # (Mixun's client_id, Matrix's transaction id).
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        continue
                    break
                if key != ok_code:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                else:
                    accepted.append(i)
                http_lat.append((time.monotonic_ns() - t0) / 1e9)
                status[key] = status.get(key, 0) + 1
                in_flight -= 1
            writer.close()

        workers = [asyncio.create_task(worker()) for _ in range(SENDER_CONNECTIONS)]
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        t_start = time.monotonic()
        i, total = 0, int(rate * duration)
        while i < total:
            due = t_start + i / rate
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            while i < total and t_start + i / rate <= time.monotonic():
                room, token = plan[rnd.randrange(len(plan))]
                if in_flight >= MAX_IN_FLIGHT:
                    skipped += 1
                else:
                    in_flight += 1
                    queue.put_nowait((first_index + i, room, token, time.monotonic_ns()))
                i += 1
        send_elapsed = time.monotonic() - t_start
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return {"http_latencies": http_lat, "status": status, "skipped": skipped, "accepted": accepted,
                "send_elapsed": send_elapsed, "wall_elapsed": time.monotonic() - t_start, "attempted": total}

    uvloop.install()
    conn.send(("done", asyncio.run(main())))


# --- receivers ----------------------------------------------------------------------------------------

def _parse_text(text: str) -> tuple[int, int] | None:
    if not text.startswith("b:"):
        return None
    _b, stamp, idx = text.split(":", 2)
    return stamp_value(stamp), int(idx)


async def _serve_flushes(conn: Any, got: list[tuple[int, float]]) -> None:
    """Answer "flush" with what arrived since the last one (so each step is judged as it ends) until
    "stop"."""
    while (cmd := await asyncio.to_thread(conn.recv)) != "stop":
        assert cmd == "flush"
        batch = got[:]
        del got[:len(batch)]
        conn.send(("got", batch))


def mixun_receiver(port: int, tokens: list[str], conn: Any) -> None:
    import base64
    import os

    import orjson
    import uvloop

    async def main() -> dict[str, Any]:
        got: list[tuple[int, float]] = []
        counts = {"closed": 0}
        sem = asyncio.Semaphore(50)
        sockets: list[_Socket] = []
        loop = asyncio.get_running_loop()
        stopping = False

        def on_text(raw: bytes) -> None:
            now = time.monotonic_ns()
            msg = orjson.loads(raw)
            if msg.get("type") == "message.created":
                parsed = _parse_text(msg["message"]["text"])
                if parsed:
                    got.append((parsed[1], (now - parsed[0]) / 1e9))

        def on_close() -> None:
            if not stopping:
                counts["closed"] += 1

        async def connect(token: str) -> None:
            async with sem:
                _t, sock = await loop.create_connection(lambda: _Socket(on_text, on_close), "127.0.0.1", port)
                key = base64.b64encode(os.urandom(16)).decode()
                sock.transport.write(
                    f"GET /api/v1/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode())
                await asyncio.wait_for(sock.handshake, 120)
                sock.send(0x1, b'{"type":"resume","after_event_seq":0}')
                sockets.append(sock)

        await asyncio.gather(*(connect(t) for t in tokens))
        conn.send(("ready", len(sockets)))
        await _serve_flushes(conn, got)
        stopping = True
        for sock in sockets:
            sock.transport.close()
        return {"errors": counts["closed"], "limited": 0}

    uvloop.install()
    conn.send(("done", asyncio.run(main())))


def synapse_receiver(users: list[tuple[str, int]], conn: Any) -> None:
    """users: (access token, port of the process that serves its /sync)."""
    import orjson
    import uvloop

    async def main() -> dict[str, Any]:
        got: list[tuple[int, float]] = []
        counts = {"errors": 0, "limited": 0}
        sem = asyncio.Semaphore(20)
        since: dict[int, str] = {}
        streams: dict[int, tuple[Any, Any]] = {}

        def handle(data: bytes) -> str:
            now = time.monotonic_ns()
            body = orjson.loads(data)
            for room in body.get("rooms", {}).get("join", {}).values():
                timeline = room.get("timeline", {})
                if timeline.get("limited"):
                    counts["limited"] += 1
                for ev in timeline.get("events", ()):
                    parsed = _parse_text(ev.get("content", {}).get("body", ""))
                    if parsed:
                        got.append((parsed[1], (now - parsed[0]) / 1e9))
            return str(body["next_batch"])

        async def first(n: int, token: str, port: int) -> None:
            async with sem:
                streams[n] = await asyncio.open_connection("127.0.0.1", port)
                code, data = await request(*streams[n], "GET", f"/_matrix/client/v3/sync?timeout=0&filter={SYNC_FILTER}",
                                           token)
                if code != "200":
                    raise RuntimeError(f"initial sync {code}: {data[:200]!r}")
                since[n] = orjson.loads(data)["next_batch"]

        async def poll(n: int, token: str, port: int) -> None:
            reader, writer = streams[n]
            while True:
                path = f"/_matrix/client/v3/sync?timeout=30000&since={since[n]}&filter={SYNC_FILTER}"
                try:
                    code, data = await request(reader, writer, "GET", path, token)
                    if code != "200":
                        raise RuntimeError(code)
                    since[n] = handle(data)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    counts["errors"] += 1
                    writer.close()
                    await asyncio.sleep(0.5)
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)

        await asyncio.gather(*(first(n, t, p) for n, (t, p) in enumerate(users)))
        tasks = [asyncio.create_task(poll(n, t, p)) for n, (t, p) in enumerate(users)]
        conn.send(("ready", len(tasks)))
        await _serve_flushes(conn, got)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _r, w in streams.values():
            w.close()
        return dict(counts)

    uvloop.install()
    conn.send(("done", asyncio.run(main())))
