"""An unexpected error is the documented 500 on a connection that stays usable (keep-alive), through
the real HTTP server (uvicorn) and a raw socket client."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import orjson
import pytest
import uvicorn

from tests.conftest import Env
from tests.helpers import free_port


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-body")
        rest += chunk
    return status, headers, rest[:length]


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_connection_survives_a_500(sqlite_env: Env, http: str) -> None:
    """After an unexpected error the client gets the 500 error body and can send its next request on the
    same keep-alive connection."""
    from fastapi import APIRouter, Depends

    from mixun.api.deps import gate
    from mixun.domain.roles import Perm

    router = APIRouter()

    @router.get("/api/v1/test-boom")
    def boom(_ctx: Any = Depends(gate(Perm.PUBLIC))) -> None:
        raise RuntimeError("a bug")

    app = sqlite_env.app
    app.include_router(router)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the web client's catch-all
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", http=http,
                                           log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(3):
                sock.sendall(b"GET /api/v1/test-boom HTTP/1.1\r\nHost: x\r\nAccept-Language: en\r\n\r\n")
                status, headers, body = _read_response(sock)
                assert status == 500
                assert orjson.loads(body) == {"error": {"code": "internal_error", "message": "Internal server error"}}
                assert headers.get("connection", "keep-alive").lower() != "close"
                assert headers["x-content-type-options"] == "nosniff"
                sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, _headers, body = _read_response(sock)
                assert status == 200 and orjson.loads(body)["status"] == "ok"
    finally:
        server.should_exit = True
        thread.join(10)
