"""Live delivery through a real `mixun serve`: frames of every length arrive intact and in order, and a
client that stops reading is dropped (4008) without slowing anyone else."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import PASSWORD, REDIS_URL, need, redis_available
from tests.helpers import MIXUN, Server, add_people


def _setup(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    from mixun.config import load_settings

    data = tmp_path / "data"
    return data, add_people(load_settings({"MIXUN_DATA_DIR": str(data)}))


def _login(server: Server, username: str) -> str:
    r = httpx.post(server.url + "/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _raw_ws(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then reads nothing (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api/v1/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked server frames in ``data`` (complete frames only)."""
    out, i = [], 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        if j + n > len(data):
            break
        out.append((op, data[j:j + n]))
        i = j + n
    return out


def test_frames_of_every_length_arrive_and_a_stalled_client_is_dropped(tmp_path: Path) -> None:
    from websockets.sync.client import connect as ws_connect

    data, ids = _setup(tmp_path)
    server = Server(data, MIXUN_WS_QUEUE_LIMIT="20", MIXUN_MAX_MESSAGE_LENGTH="40000",
                    MIXUN_SEND_RATE_PER_MINUTE="100000", MIXUN_SEND_BURST="10000")
    try:
        server.wait()
        a, b = _login(server, "zhangsan"), _login(server, "lisi")
        h = {"Authorization": f"Bearer {a}"}
        r = httpx.post(server.url + "/api/v1/conversations", headers=h,
                       json={"kind": "direct", "members": [ids["lisi"]]})
        conv = r.json()["id"]
        stalled = _raw_ws(server.port, _login(server, "lisi"))
        texts = ["短", "中" * 1000, "长" * 30000]  # frames under 126 bytes, under 64 KB, over 64 KB
        texts += [f"{i}" + "满" * 30000 for i in range(110)]  # ~10 MB: more than the stalled socket's buffers
        with ws_connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={b}", max_size=2**20) as ws:
            # The client offers compression (websockets' default); the server declines it, so no frame
            # costs a deflate and every one can take the direct write (api/wsproto.py).
            assert ws.request is not None and ws.response is not None
            assert "permessage-deflate" in ws.request.headers.get("Sec-WebSocket-Extensions", "")
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
            hello = json.loads(ws.recv(timeout=10))
            ws.send(json.dumps({"type": "resume", "after_event_seq": hello["last_event_seq"]}))
            got: list[dict[str, Any]] = []
            with httpx.Client(base_url=server.url, headers=h, timeout=30) as client:
                for text in texts:
                    assert client.post(f"/api/v1/conversations/{conv}/messages", json={"text": text}).status_code == 201
                    while True:  # the reading client keeps up, message by message
                        frame = json.loads(ws.recv(timeout=10))
                        if frame.get("type") == "message.created":
                            got.append(frame)
                            break
            assert [f["message"]["text"] for f in got] == texts
            seqs = [f["event_seq"] for f in got]
            assert seqs == list(range(seqs[0], seqs[0] + len(texts)))
        # The stalled client was cut off: what it finally reads ends with a close frame, code 4008.
        stalled.settimeout(10)
        received = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chunk = stalled.recv(1 << 20)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        frames = _frames(received)
        assert frames and frames[-1][0] == 0x8, [op for op, _ in frames[-3:]]
        assert int.from_bytes(frames[-1][1][:2], "big") == 4008
        assert len(frames) < len(texts)  # it did not get everything: its backlog was dropped, not kept
        stalled.close()
        assert "Traceback" not in server.output()
    finally:
        server.stop()


def test_serve_with_several_workers_delivers_across_them(tmp_path: Path) -> None:
    """`mixun serve --workers 2` runs two processes on one port; whichever process a request or a
    socket lands on, every socket gets every event. Without a shared bus it refuses to start."""
    import subprocess

    from websockets.sync.client import connect as ws_connect

    data, ids = _setup(tmp_path)
    refused = subprocess.run([MIXUN, "serve", "--workers", "2"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "MIXUN_DATA_DIR": str(data)})
    assert refused.returncode == 2 and "MIXUN_BUS_URL" in refused.stderr
    need("Redis", redis_available())
    server = Server(data, bus_url=REDIS_URL, serve_args=("--workers", "2"))
    try:
        server.wait()
        workers = [p for p in Path("/proc").glob("[0-9]*/stat") if _parent(p) == server.proc.pid]
        assert len(workers) >= 2, "expected two worker processes"
        a, b = _login(server, "zhangsan"), _login(server, "lisi")
        conv = httpx.post(server.url + "/api/v1/conversations", headers={"Authorization": f"Bearer {a}"},
                          json={"kind": "direct", "members": [ids["lisi"]]}).json()["id"]
        with contextlib.ExitStack() as stack:
            sockets = [stack.enter_context(ws_connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={b}"))
                       for _ in range(6)]
            for ws in sockets:
                hello = json.loads(ws.recv(timeout=10))
                ws.send(json.dumps({"type": "resume", "after_event_seq": hello["last_event_seq"]}))
            texts = [f"第{i}条" for i in range(12)]
            for text in texts:  # a new connection each time: the kernel spreads them over the workers
                r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages",
                               headers={"Authorization": f"Bearer {a}", "Connection": "close"}, json={"text": text})
                assert r.status_code == 201, r.text
            for ws in sockets:
                got = []
                while len(got) < len(texts):
                    frame = json.loads(ws.recv(timeout=10))
                    if frame.get("type") == "message.created":
                        got.append(frame["message"]["text"])
                assert got == texts
        assert "Traceback" not in server.output()
    finally:
        server.stop()


def test_concurrent_sends_reach_every_socket_once_in_order(tmp_path: Path) -> None:
    """Many members sending at once into one group: sends are committed in batches, the batch's events
    travel as one bus message, and each socket's frames of one turn go out in one write. Every socket
    must still get every message exactly once, its event_seqs without a gap, and the group's seqs must
    be 1..n with each message once."""
    import threading

    from websockets.sync.client import connect as ws_connect

    from mixun.config import load_settings

    data = tmp_path / "data"
    people = tuple((f"user{i}", f"同事{i}") for i in range(6))
    ids = add_people(load_settings({"MIXUN_DATA_DIR": str(data)}), people)
    server = Server(data, MIXUN_SEND_RATE_PER_MINUTE="100000", MIXUN_SEND_BURST="10000")
    try:
        server.wait()
        tokens = {u: _login(server, u) for u, _ in people}
        owner = {"Authorization": f"Bearer {tokens['user0']}"}
        conv = httpx.post(server.url + "/api/v1/conversations", headers=owner, json={
            "kind": "group", "name": "并发投递群", "members": [ids[u] for u, _ in people[1:]]}).json()["id"]
        per_sender, senders = 20, [u for u, _ in people]
        total = per_sender * len(senders)
        with contextlib.ExitStack() as stack:
            sockets = [stack.enter_context(ws_connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={tokens[u]}",
                                                      max_size=2**22)) for u in ("user1", "user1", "user5")]
            for ws in sockets:
                hello = json.loads(ws.recv(timeout=10))
                ws.send(json.dumps({"type": "resume", "after_event_seq": hello["last_event_seq"]}))
            codes: list[int] = []

            def sender(user: str) -> None:
                with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens[user]}"},
                                  timeout=30) as client:
                    for i in range(per_sender):
                        codes.append(client.post(f"/api/v1/conversations/{conv}/messages",
                                                 json={"text": f"{user} 的第{i}条", "client_id": f"{user}-{i}"}).status_code)

            threads = [threading.Thread(target=sender, args=(u,)) for u in senders]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert codes == [201] * total
            for ws in sockets:
                frames: list[dict[str, Any]] = []
                while len(frames) < total:
                    frame = json.loads(ws.recv(timeout=15))
                    if frame.get("type") == "message.created":
                        frames.append(frame)
                event_seqs = [f["event_seq"] for f in frames]
                assert event_seqs == list(range(event_seqs[0], event_seqs[0] + total))
                assert sorted(f["message"]["seq"] for f in frames) == list(range(1, total + 1))
                assert [f["message"]["seq"] for f in frames] == sorted(f["message"]["seq"] for f in frames)
                for user in senders:  # each sender's messages in the order sent
                    mine = [f["message"]["text"] for f in frames if f["message"]["text"].startswith(user + " ")]
                    assert mine == [f"{user} 的第{i}条" for i in range(per_sender)]
        assert "Traceback" not in server.output()
    finally:
        server.stop()


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1
